/**
 * Entry point of a worker process (local executor) or a Slurm array task: runs one task of a stage.
 * The plan comes in COSMO_TASK; the rank from COSMO_RANK or SLURM_ARRAY_TASK_ID. A worker started by
 * the local executor holds an IPC channel to its parent and stops when it closes: a worker never
 * outlives the run that started it, even one killed with SIGKILL.
 */
import { readFileSync } from 'node:fs';
import { resolvedConfigPath, runTask, TASK_ENV, type StagePlan } from '../exec/task.js';
import { InterruptedError, errorMessage } from '../util/errors.js';
import { createLogger } from '../util/log.js';
import type { CorpusConfig } from './corpus.js';
import { corpusEnv, sectionOf } from './env.js';
import { loadStage } from './stage-modules.js';

/** Time a worker whose parent died gives its task to stop cleanly before it exits anyway. */
const ORPHAN_GRACE_MS = 2000;

async function main(): Promise<void> {
  const plan = JSON.parse(process.env[TASK_ENV] ?? 'null') as StagePlan | null;
  const rankText = process.env.COSMO_RANK ?? process.env.SLURM_ARRAY_TASK_ID;
  if (!plan || rankText === undefined) throw new Error(`worker needs ${TASK_ENV} and COSMO_RANK (or SLURM_ARRAY_TASK_ID)`);
  const rank = Number(rankText);
  const cfg = JSON.parse(readFileSync(resolvedConfigPath(plan.workDir), 'utf8')) as CorpusConfig;
  const controller = new AbortController();
  for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, () => controller.abort(new InterruptedError(`received ${sig}`)));
  process.once('disconnect', () => {
    controller.abort(new InterruptedError('the cosmo process that started this worker is gone'));
    setTimeout(() => process.exit(1), ORPHAN_GRACE_MS).unref();
  });
  const def = await loadStage(plan.stage);
  await runTask(def, sectionOf(cfg, def), corpusEnv(cfg), plan, rank, createLogger(plan.stage), controller.signal);
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`task failed: ${errorMessage(err)}\n`);
    if (process.env.COSMO_DEBUG && err instanceof Error) process.stderr.write(`${err.stack}\n`);
    process.exit(1);
  },
);

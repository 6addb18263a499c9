/**
 * Entry point of a worker process (local executor) or a Slurm array task: runs one task of a stage.
 * The plan comes in COSMO_TASK; the rank from COSMO_RANK or SLURM_ARRAY_TASK_ID.
 */
import { readFileSync } from 'node:fs';
import type { CorpusConfig } from '../config/schema.js';
import { getStage } from '../pipeline/stages.js';
import { createLogger } from '../util/log.js';
import { errorMessage } from '../util/errors.js';
import { resolvedConfigPath, runTask, TASK_ENV, type StagePlan } from './task.js';

async function main(): Promise<void> {
  const plan = JSON.parse(process.env[TASK_ENV] ?? 'null') as StagePlan | null;
  const rankText = process.env.COSMO_RANK ?? process.env.SLURM_ARRAY_TASK_ID;
  if (!plan || rankText === undefined) throw new Error(`worker needs ${TASK_ENV} and COSMO_RANK (or SLURM_ARRAY_TASK_ID)`);
  const rank = Number(rankText);
  const cfg = JSON.parse(readFileSync(resolvedConfigPath(plan.workDir), 'utf8')) as CorpusConfig;
  const controller = new AbortController();
  for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, () => controller.abort(new Error(`received ${sig}`)));
  const log = createLogger(plan.stage);
  await runTask(getStage(plan.stage), cfg, plan, rank, log, controller.signal);
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`task failed: ${errorMessage(err)}\n`);
    if (process.env.COSMO_DEBUG && err instanceof Error) process.stderr.write(`${err.stack}\n`);
    process.exit(1);
  },
);

/**
 * Entry point of a worker process (local executor) or a Slurm array task. A Slurm array task runs
 * one task of a stage: the plan comes in COSMO_TASK, the rank in COSMO_RANK or SLURM_ARRAY_TASK_ID.
 * A worker of the local executor runs the tasks it is sent over its IPC channel (see serve), and
 * stops when that channel closes: a worker never outlives the run that started it, even one killed
 * with SIGKILL.
 */
import { readFileSync } from 'node:fs';
import { RESULT_MARK, SERVE_ENV, type WorkerResult, type WorkerTask } from '../exec/local.js';
import { resolvedConfigPath, runTask, TASK_ENV, type StagePlan } from '../exec/task.js';
import { InterruptedError, errorMessage } from '../util/errors.js';
import { createLogger } from '../util/log.js';
import type { CorpusConfig } from './corpus.js';
import { corpusEnv, sectionOf } from './env.js';
import { loadStage } from './stage-modules.js';

/** Time a worker whose parent died gives its task to stop cleanly before it exits anyway. */
const ORPHAN_GRACE_MS = 2000;

let current: AbortController | undefined;
let interrupted: InterruptedError | undefined;

async function runOne(plan: StagePlan, rank: number): Promise<void> {
  const cfg = JSON.parse(readFileSync(resolvedConfigPath(plan.workDir), 'utf8')) as CorpusConfig;
  const def = await loadStage(plan.stage);
  const controller = (current = new AbortController());
  if (interrupted) controller.abort(interrupted);
  try {
    await runTask(def, sectionOf(cfg, def), corpusEnv(cfg), plan, rank, createLogger(plan.stage), controller.signal);
  } finally {
    current = undefined;
  }
}

function failureText(err: unknown): string {
  if (process.env.COSMO_DEBUG && err instanceof Error) process.stderr.write(`${err.stack}\n`);
  return errorMessage(err);
}

function listenForStops(serving: boolean): void {
  const stop = (err: InterruptedError) => {
    interrupted = err;
    current?.abort(err);
  };
  for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, () => stop(new InterruptedError(`received ${sig}`)));
  process.once('disconnect', () => {
    stop(new InterruptedError('the cosmo process that started this worker is gone'));
    // An idle worker goes at once; a busy one once its task stops, or after the grace anyway.
    if (serving && !current) process.exit(0);
    setTimeout(() => process.exit(1), ORPHAN_GRACE_MS).unref();
  });
}

/**
 * A worker of the local executor: it runs the tasks it is sent one after another, answering each,
 * so that a run of several steps starts its workers (and loads their modules) once, not once a
 * step: a start cost ~0.3 s of a 2-core machine, and a sharded dedup has three steps of two tasks.
 * It leaves after an interrupt, once its task has stopped, and when its parent goes.
 */
function serve(): void {
  process.on('message', async (msg: WorkerTask) => {
    let result: WorkerResult = { ok: true };
    try {
      await runOne(msg.plan, msg.rank);
    } catch (err) {
      result = { ok: false, error: failureText(err) };
    }
    // stderr is a pipe, written synchronously on Linux: the line is out before an exit.
    process.stderr.write(`${RESULT_MARK}${JSON.stringify(result)}\n`);
    if (interrupted) process.exit(1);
  });
}

/** One task, named by the environment (a Slurm array task, or any caller that spawns a worker per task). */
async function runFromEnv(): Promise<void> {
  const plan = JSON.parse(process.env[TASK_ENV] ?? 'null') as StagePlan | null;
  const rankText = process.env.COSMO_RANK ?? process.env.SLURM_ARRAY_TASK_ID;
  if (!plan || rankText === undefined) throw new Error(`worker needs ${TASK_ENV} and COSMO_RANK (or SLURM_ARRAY_TASK_ID)`);
  await runOne(plan, Number(rankText));
}

const serving = !!process.env[SERVE_ENV] && !!process.send;
listenForStops(serving);
if (serving) serve();
else
  runFromEnv().then(
    () => process.exit(0),
    (err: unknown) => {
      process.stderr.write(`task failed: ${failureText(err)}\n`);
      process.exit(1);
    },
  );

import { spawn } from 'node:child_process';
import { createWriteStream, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { CorpusConfig } from '../config/schema.js';
import type { Logger } from '../util/log.js';
import { errorMessage } from '../util/errors.js';
import type { StageDef } from './stage.js';
import { isTaskDone, runTask, TASK_ENV, type StagePlan } from './task.js';

/** The node command line that runs a module of this package, through tsx when running from source. */
export function nodeCommandFor(moduleUrl: URL): string[] {
  const path = fileURLToPath(moduleUrl);
  return path.endsWith('.ts') ? [process.execPath, '--import', 'tsx', path] : [process.execPath, path];
}

export const workerCommand = () => nodeCommandFor(new URL(`./worker${import.meta.url.endsWith('.ts') ? '.ts' : '.js'}`, import.meta.url));

export interface TaskFailure {
  rank: number;
  error: string;
  log?: string;
}

/**
 * Runs a stage's pending tasks on this machine: in this process when `workers` is 1, otherwise on up
 * to `workers` worker processes at once. Completed tasks (with a marker) are skipped; failed ones
 * are returned so that a rerun retries only them.
 */
export async function runStageLocal(
  def: StageDef,
  cfg: CorpusConfig,
  plan: StagePlan,
  opts: { workers: number; log: Logger; signal: AbortSignal },
): Promise<TaskFailure[]> {
  const pending = [...Array(plan.worldSize).keys()].filter((r) => !isTaskDone(plan.outputDir, r));
  const failures: TaskFailure[] = [];
  if (opts.workers <= 1) {
    for (const rank of pending) {
      opts.signal.throwIfAborted();
      try {
        await runTask(def, cfg, plan, rank, opts.log, opts.signal);
      } catch (err) {
        if (opts.signal.aborted) throw err;
        failures.push({ rank, error: errorMessage(err) });
        opts.log.error(`task ${rank} failed`, { error: errorMessage(err) });
      }
    }
    return failures;
  }
  const queue = [...pending];
  const runOne = async (): Promise<void> => {
    for (let rank = queue.shift(); rank !== undefined; rank = queue.shift()) {
      if (opts.signal.aborted) return;
      const failure = await spawnTask(plan, rank, opts.signal);
      if (failure) {
        failures.push(failure);
        opts.log.error(`task ${rank} failed`, { error: failure.error, log: failure.log });
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(opts.workers, queue.length) }, runOne));
  opts.signal.throwIfAborted();
  return failures.sort((a, b) => a.rank - b.rank);
}

/** Runs one task in a child process; its stderr goes both to ours and to the task's log file. */
function spawnTask(plan: StagePlan, rank: number, signal: AbortSignal): Promise<TaskFailure | undefined> {
  const logDir = join(plan.outputDir, '.logs');
  mkdirSync(logDir, { recursive: true });
  const logFile = join(logDir, `${rank}.log`);
  const logStream = createWriteStream(logFile, { flags: 'a' });
  const [cmd, ...args] = workerCommand();
  const child = spawn(cmd!, args, {
    env: {
      ...process.env,
      [TASK_ENV]: JSON.stringify({ ...plan, options: { ...plan.options, progress: 'lines' } }),
      COSMO_RANK: String(rank),
    },
    stdio: ['ignore', 'inherit', 'pipe'],
  });
  let tail = '';
  child.stderr.on('data', (chunk: Buffer) => {
    process.stderr.write(chunk);
    logStream.write(chunk);
    tail = (tail + chunk.toString()).slice(-2000);
  });
  const onAbort = () => child.kill('SIGTERM');
  signal.addEventListener('abort', onAbort, { once: true });
  return new Promise((resolve) => {
    child.on('close', (code, sig) => {
      signal.removeEventListener('abort', onAbort);
      logStream.end();
      if (code === 0) return resolve(undefined);
      const last = tail.trim().split('\n').pop() ?? '';
      resolve({ rank, error: sig ? `killed by ${sig}` : last || `exit code ${code}`, log: logFile });
    });
  });
}

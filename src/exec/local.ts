import { spawn } from 'node:child_process';
import { createWriteStream, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { errorMessage } from '../util/errors.js';
import type { Executor, ExecutorOptions, ExecutorRun, StageJob, TaskFailure } from './executor.js';
import { pendingRanks, TASK_ENV, type StagePlan } from './task.js';

/**
 * Runs each stage's pending tasks on this machine, stage after stage, up to `workers` at once: one
 * at a time in this process, the others each in a worker process of its own. Failed tasks are
 * handed to `onStageDone`, so that a rerun retries only them.
 */
export class LocalExecutor implements Executor {
  constructor(
    private readonly workers: number,
    private readonly opts: ExecutorOptions,
  ) {}

  concurrent(tasks: number): number {
    return Math.max(1, Math.min(tasks, this.workers));
  }

  async run(jobs: StageJob[], run: ExecutorRun): Promise<void> {
    for (const job of jobs) {
      run.signal.throwIfAborted();
      await run.onStageDone(job, await this.runStage(job, run));
    }
  }

  private async runStage(job: StageJob, run: ExecutorRun): Promise<TaskFailure[]> {
    const { plan } = job;
    const log = run.log.child(plan.stage);
    const queue = pendingRanks(plan);
    const done = plan.worldSize - queue.length;
    if (queue.length) log.info(done ? `resuming: ${done}/${plan.worldSize} tasks already done` : `starting ${plan.worldSize} task(s)`);
    const failures: TaskFailure[] = [];
    // A failure is said once, in the stage's error at its end (with the task's log), not here too.
    const fail = (f: TaskFailure) => {
      failures.push(f);
      log.debug(`task ${f.rank} failed`, { error: f.error, log: f.log });
    };
    // This process takes tasks too, beside `workers - 1` worker processes: a worker's start
    // (~0.2-0.4 s, its modules loaded again) was most of the time of a small step, and a
    // sharded dedup starts three steps of two tasks each.
    // On an interrupt both kinds of lane stop taking tasks, and the stage throws once the workers
    // have closed.
    const here = async (): Promise<void> => {
      for (let rank = queue.shift(); rank !== undefined; rank = queue.shift()) {
        if (run.signal.aborted) return;
        try {
          await job.run(rank, run.signal);
        } catch (err) {
          if (run.signal.aborted) return;
          fail({ rank, error: errorMessage(err) });
        }
      }
    };
    const spawned = async (): Promise<void> => {
      for (let rank = queue.shift(); rank !== undefined; rank = queue.shift()) {
        if (run.signal.aborted) return;
        const failure = await this.spawnTask(plan, rank, run.signal);
        if (failure) fail(failure);
      }
    };
    // The workers start first: a task here may compute for long before it first awaits.
    const lanes = Math.min(this.workers, queue.length);
    await Promise.all([...Array.from({ length: lanes - 1 }, spawned), here()]);
    run.signal.throwIfAborted();
    return failures.sort((a, b) => a.rank - b.rank);
  }

  /**
   * Runs one task in a child process; its stderr goes both to ours and to the task's log file. The
   * child holds an IPC channel to this process and stops when it closes, so workers die with their
   * parent even when it is killed with SIGKILL.
   */
  private spawnTask(plan: StagePlan, rank: number, signal: AbortSignal): Promise<TaskFailure | undefined> {
    const logDir = join(plan.outputDir, '.logs');
    mkdirSync(logDir, { recursive: true });
    const logFile = join(logDir, `${rank}.log`);
    const logStream = createWriteStream(logFile, { flags: 'a' });
    const [cmd, ...args] = this.opts.workerCommand;
    const child = spawn(cmd!, args, {
      env: {
        ...process.env,
        [TASK_ENV]: JSON.stringify({ ...plan, options: { ...plan.options, progress: 'lines' } }),
        COSMO_RANK: String(rank),
      },
      stdio: ['ignore', 'inherit', 'pipe', 'ipc'],
    });
    let tail = '';
    let partial = '';
    child.stderr!.on('data', (chunk: Buffer) => {
      logStream.write(chunk);
      tail = (tail + chunk.toString()).slice(-2000);
      // Passed on line by line, without the worker's own "task failed:" line: the stage's error says it.
      const lines = (partial + chunk.toString()).split('\n');
      partial = lines.pop()!;
      const shown = lines.filter((l) => !l.startsWith('task failed:'));
      if (shown.length) process.stderr.write(shown.join('\n') + '\n');
    });
    const onAbort = () => child.kill('SIGTERM');
    signal.addEventListener('abort', onAbort, { once: true });
    return new Promise((resolve) => {
      child.on('close', (code, sig) => {
        signal.removeEventListener('abort', onAbort);
        logStream.end();
        if (code === 0) return resolve(undefined);
        const said = tail.trim().split('\n').findLast((l) => l.startsWith('task failed:'));
        const last = (said ?? tail.trim().split('\n').pop() ?? '').replace(/^task failed: /, '');
        resolve({ rank, error: sig ? `killed by ${sig}` : last || `exit code ${code}`, log: logFile });
      });
    });
  }
}

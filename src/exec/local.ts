import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync, type WriteStream } from 'node:fs';
import { join } from 'node:path';
import { errorMessage } from '../util/errors.js';
import { writeLine } from '../util/status-line.js';
import type { Executor, ExecutorOptions, ExecutorRun, StageJob, TaskFailure } from './executor.js';
import { pendingRanks, type StagePlan } from './task.js';

/** In a worker's environment: it takes task after task over its IPC channel (pipeline/worker.ts). */
export const SERVE_ENV = 'COSMO_WORKER_SERVE';

/** What a serving worker is sent: one task to run. */
export interface WorkerTask {
  plan: StagePlan;
  rank: number;
}

/**
 * What a serving worker says when its task is over: a line of its stderr that starts with
 * RESULT_MARK and goes on with this as JSON. In the same stream as the task's log, it comes after
 * every line of it, so each line lands in its own task's log file.
 */
export type WorkerResult = { ok: true } | { ok: false; error: string };
export const RESULT_MARK = '\u001ecosmo-task-result ';

/** A worker process, and where its output goes while it runs a task. */
interface Worker {
  child: ChildProcess;
  /** The task's log file, and the last of its output (for a crash's error). */
  log?: WriteStream;
  tail: string;
  partial: string;
  /** Called with the result line of the task it runs. */
  onResult?: (r: WorkerResult) => void;
}

/**
 * Runs each stage's pending tasks on this machine, stage after stage, up to `workers` at once: one
 * at a time in this process, the others in worker processes. A worker takes task after task, of
 * this stage and the next ones, until the run ends. Failed tasks are handed to `onStageDone`, so
 * that a rerun retries only them.
 */
export class LocalExecutor implements Executor {
  /** Workers between tasks. */
  private readonly idle: Worker[] = [];

  constructor(
    private readonly workers: number,
    private readonly opts: ExecutorOptions,
  ) {}

  concurrent(tasks: number): number {
    return Math.max(1, Math.min(tasks, this.workers));
  }

  async run(jobs: StageJob[], run: ExecutorRun): Promise<void> {
    try {
      for (const job of jobs) {
        run.signal.throwIfAborted();
        await run.onStageDone(job, await this.runStage(job, run));
      }
    } finally {
      // Closing the channel is what ends an idle worker.
      for (const w of this.idle.splice(0)) if (w.child.connected) w.child.disconnect();
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
    // sharded dedup has three steps of two tasks each.
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
   * Runs one task in a worker process (an idle one, or a new one); its stderr goes both to ours and
   * to the task's log file. A worker holds an IPC channel to this process and stops when it
   * closes, so workers die with their parent even when it is killed with SIGKILL.
   */
  private spawnTask(plan: StagePlan, rank: number, signal: AbortSignal): Promise<TaskFailure | undefined> {
    const logDir = join(plan.outputDir, '.logs');
    mkdirSync(logDir, { recursive: true });
    const logFile = join(logDir, `${rank}.log`);
    const worker = this.take();
    worker.log = createWriteStream(logFile, { flags: 'a' });
    worker.tail = '';
    const onAbort = () => worker.child.kill('SIGTERM');
    signal.addEventListener('abort', onAbort, { once: true });
    return new Promise<TaskFailure | undefined>((resolve) => {
      const done = (failure: TaskFailure | undefined) => {
        signal.removeEventListener('abort', onAbort);
        worker.onResult = undefined;
        worker.child.off('close', onClose);
        worker.log?.end();
        worker.log = undefined;
        resolve(failure);
      };
      worker.onResult = (r) => {
        if (!signal.aborted && worker.child.connected) this.idle.push(worker);
        done(r.ok ? undefined : { rank, error: r.error, log: logFile });
      };
      const onClose = (code: number | null, sig: NodeJS.Signals | null) => {
        const last = worker.tail.trim().split('\n').pop() ?? '';
        done({ rank, error: sig ? `killed by ${sig}` : last || `exit code ${code}`, log: logFile });
      };
      worker.child.on('close', onClose);
      // A worker's stderr is a pipe (its lines go to the task's log and to ours): lines, not a bar,
      // and nothing where the run shows no progress (a library caller's default).
      const progress = plan.options.progress === 'bar' ? 'lines' : plan.options.progress;
      worker.child.send({ plan: { ...plan, options: { ...plan.options, progress } }, rank } satisfies WorkerTask);
    });
  }

  /** An idle worker still connected, or a new one. */
  private take(): Worker {
    for (let w = this.idle.pop(); w; w = this.idle.pop()) if (w.child.connected) return w;
    return this.start();
  }

  private start(): Worker {
    const [cmd, ...args] = this.opts.workerCommand;
    const child = spawn(cmd!, args, { env: { ...process.env, [SERVE_ENV]: '1' }, stdio: ['ignore', 'inherit', 'pipe', 'ipc'] });
    const w: Worker = { child, tail: '', partial: '' };
    child.stderr!.on('data', (chunk: Buffer) => {
      // Line by line: the result line is the task's end, not part of its log.
      const lines = (w.partial + chunk.toString()).split('\n');
      w.partial = lines.pop()!;
      for (const line of lines) {
        if (line.startsWith(RESULT_MARK)) {
          w.onResult?.(JSON.parse(line.slice(RESULT_MARK.length)) as WorkerResult);
          continue;
        }
        w.log?.write(line + '\n');
        w.tail = (w.tail + line + '\n').slice(-2000);
        writeLine(line);
      }
    });
    // A failed spawn or send is said in the task's error; 'close' follows and ends the task.
    child.on('error', (err) => (w.tail += `${err.message}\n`));
    // A worker that leaves between tasks is simply not used again.
    child.once('close', () => {
      const i = this.idle.indexOf(w);
      if (i >= 0) this.idle.splice(i, 1);
    });
    return w;
  }
}

import type { Logger } from '../util/log.js';
import type { StagePlan } from './task.js';

/** A task that did not complete, and why. */
export interface TaskFailure {
  rank: number;
  error: string;
  /** Its log file, where it has one. */
  log?: string;
}

/** One stage as an executor sees it: a number of tasks, each of which can run here or as a worker process. */
export interface StageJob {
  plan: StagePlan;
  /** Run task `rank` in this process. */
  run(rank: number, signal: AbortSignal): Promise<void>;
}

export interface ExecutorRun {
  log: Logger;
  signal: AbortSignal;
  /**
   * Called for each stage, in order, once its tasks are through, with the tasks that did not
   * complete. It merges the stage's stats and finalizes it, or throws to stop the run.
   */
  onStageDone(job: StageJob, failures: TaskFailure[]): Promise<void>;
}

/**
 * Runs stages' pending tasks (those without a completion marker) somewhere: on this machine, on a
 * Slurm cluster, or wherever a new executor sends them. It knows nothing of what a stage does.
 */
export interface Executor {
  run(jobs: StageJob[], opts: ExecutorRun): Promise<void>;
  /** Tasks of a stage of `tasks` tasks that run at once on one machine (for a task's share of the cores). */
  concurrent(tasks: number): number;
}

export interface ExecutorOptions {
  /** The command line of a worker process: it runs the task named by COSMO_TASK and COSMO_RANK (a Slurm job), or those it is sent over its IPC channel (the local executor). */
  workerCommand: string[];
  /** Names the run in job names (the corpus name). */
  runName: string;
  /** Names of environment variables that hold keys: never written into job records, handed to jobs another way. */
  secretEnv: string[];
}

import type { CorpusConfig } from '../config/schema.js';
import type { Logger } from '../util/log.js';
import type { Stats } from './stats.js';

/** Options that come from the command line rather than the corpus file. */
export interface RunOptions {
  /** Skip malformed input lines, counting them, instead of stopping at the first. */
  skipBad?: boolean;
  /** Show a live progress bar (TTY) rather than periodic log lines. */
  progress?: 'bar' | 'lines' | 'none';
}

/** What one task of a stage is given: which share of the work it owns and where to read and write. */
export interface TaskContext {
  stage: string;
  rank: number;
  worldSize: number;
  /** Folder of the previous stage's shards; undefined for a stage that reads seed files itself. */
  inputDir: string | undefined;
  /** This stage's folder. Task `rank` writes its shard(s) here, named by rank. */
  outputDir: string;
  /** The corpus output folder, parent of every stage folder. */
  workDir: string;
  stats: Stats;
  log: Logger;
  signal: AbortSignal;
  options: RunOptions;
}

/**
 * A pipeline stage. Executors know nothing of what a stage does: they run `tasks(cfg)` tasks of it,
 * each a pure function of its input shards and the config, and mark each one complete.
 */
export interface StageDef {
  readonly name: string;
  /** An inner step whose output is not the next stage's input (e.g. dedup signatures). */
  readonly auxiliary?: boolean;
  /** Whether the corpus config turns this stage on. */
  enabled(cfg: CorpusConfig): boolean;
  /** How many tasks the stage runs as. */
  tasks(cfg: CorpusConfig): number;
  runTask(cfg: CorpusConfig, ctx: TaskContext): Promise<void>;
  /** Runs once in the parent after every task is complete (reports, merged outputs). */
  finalize?(cfg: CorpusConfig, ctx: Omit<TaskContext, 'rank' | 'worldSize'> & { worldSize: number }): Promise<void>;
}

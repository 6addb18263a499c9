import type { ZodType } from 'zod';
import type { JsonlWriter } from '../io/jsonl-writer.js';
import type { RecordSpec } from '../records/check.js';
import type { Sample } from '../records/types.js';
import type { ProgressSink } from '../util/byte-progress.js';
import { CosmoError } from '../util/errors.js';
import type { Logger } from '../util/log.js';
import type { Stats, StatsJson } from './stats.js';

/** Options that come from the command line rather than the corpus file. */
export interface RunOptions {
  /** Skip malformed input lines, counting them, instead of stopping at the first. */
  skipBad?: boolean;
  /** Show a live progress bar (TTY) rather than periodic log lines. */
  progress?: 'bar' | 'lines' | 'none';
}

/** What every stage may know of the corpus besides its own config section. */
export interface CorpusEnv {
  name: string;
  /** The corpus-wide random seed. */
  seed: number;
  /** A path from the config, made absolute against the corpus file's folder. */
  resolve(path: string): string;
  /** The corpus config as a dataset card may show it: no local paths, no endpoint addresses. */
  publicConfig: unknown;
}

/** What a task or a stage's finalize is given, besides its config section. */
export interface StageContext {
  stage: string;
  worldSize: number;
  corpus: CorpusEnv;
  /** The corpus output folder, parent of every stage folder (caches live in its `.cosmo/`). */
  workDir: string;
  /** This stage's folder. */
  outputDir: string;
  stats: Stats;
  log: Logger;
  /** Trips on Ctrl-C, SIGTERM, scancel or a parent that died; its reason is an InterruptedError. */
  signal: AbortSignal;
  options: RunOptions;
  /** The folder of a stage this one declared in `reads`. */
  dir(stage: string): string;
}

/** What one task is given: which share of the work it owns, its input, and its writers. */
export interface TaskContext<In = unknown> extends StageContext {
  rank: number;
  /** Tasks of this stage that run at once on one machine; a task's share of the cores is 1/concurrent. */
  concurrent: number;
  /** This task's records (every record, for a stage whose input is `whole`), each checked once at the shard boundary. */
  input(): AsyncIterable<In>;
  /**
   * The input shards this task owns whole when they are all plain JSONL (for byte-level fast paths);
   * else undefined. A stage that reads them itself reports what it read to `progress`.
   */
  inputFiles(): string[] | undefined;
  /**
   * How far the task has read its input, for the progress shown: `input()` reports by itself (a
   * second call, a second pass, adds its bytes to the total and counts no records again). `more`:
   * a stage about to read its shards again itself.
   */
  readonly progress: ProgressSink;
  /** The input stage's folder, to name in messages (reading goes through `input()`). */
  readonly inputDir: string | undefined;
  /** The kept output `<rank>.jsonl`, committed by the runner when the task succeeds. */
  readonly output: JsonlWriter;
  /** A side output `<name>/<rank>.jsonl` (rejects, removed), committed with the output. */
  side(name: string): JsonlWriter;
}

/** A task's completion marker: written once its outputs are in place. */
export interface TaskMarker {
  rank: number;
  worldSize: number;
  stats: StatsJson;
  started_at: string;
  finished_at: string;
  duration_ms: number;
  /** Identity (size@mtime) of each outside file the task read, as it was when the task started. */
  files?: Record<string, string>;
}

/**
 * A pipeline stage, self-described: its config section, what shapes its output, what it reads and
 * writes, and what one task does. Executors know nothing of what a stage does; the runner does the
 * reading, writing and marking, so `runTask` only turns records into records. Everything else (the
 * corpus schema, resume fingerprints, CLI commands) is derived from the registry of these.
 */
export interface StageDef<Cfg = unknown, In = unknown, Key extends string = string> {
  /** Its CLI command and its folder under the output folder. */
  readonly name: string;
  /** Its config key; inner steps share their stage's (the dedup steps share `dedup`). */
  readonly key: Key;
  /** Its config section, defaults included. */
  readonly schema: ZodType<Cfg>;
  /** The `cosmo <name>` command's help line; inner steps have none and no command. */
  readonly description?: string;
  /**
   * The settings that shape its output, besides its input: its resume fingerprint. Retry policy,
   * timeouts, addresses and thread counts are left out: they change how the work runs, not what it
   * produces. Required: a stage without one would silently reuse output made with other settings.
   */
  settings(cfg: Cfg, corpus: CorpusEnv): unknown;
  enabled(cfg: Cfg): boolean;
  tasks(cfg: Cfg): number;
  /**
   * Records it reads from the nearest stage before it that writes records; `whole`: each task reads
   * all of them. The runner shows how far a task has read them (records, MB of the task's shards,
   * rate and ETA) unless `ownProgress`: the stage shows a progress of its own (generate's requests).
   */
  readonly input?: { records: RecordSpec<In>; whole?: boolean; ownProgress?: boolean };
  /** Records it writes as `<rank>.jsonl`, the next stage's input. Inner steps and export write none. */
  readonly output?: RecordSpec<unknown>;
  /** Side outputs written beside the kept records, e.g. `rejects`. */
  readonly sides?: readonly string[];
  /** Other stages whose folders it reads (the dedup steps find each other through this). */
  readonly reads?: readonly string[];
  /**
   * Files from outside the pipeline that task `rank` reads (seed files, benchmark files, templates).
   * Their size and time are kept with the finished task, so that a file changed since is noticed.
   */
  inputFiles?(cfg: Cfg, corpus: CorpusEnv, rank: number): string[];
  /** Before anything runs: fail now, not hours later, if what this stage needs (files, models) is not there. */
  check?(cfg: Cfg, corpus: CorpusEnv, log: Logger): Promise<void>;
  /**
   * Whether a finished task should run again (generate: failures that a retry may fix; filter:
   * review flags added since it ran). `workDir` is the corpus output folder.
   */
  rerun?(cfg: Cfg, marker: TaskMarker, workDir: string): boolean;
  runTask(cfg: Cfg, ctx: TaskContext<In>): Promise<void>;
  /** Runs once, after every task is complete, with the merged stats (reports, summaries). */
  finalize?(cfg: Cfg, ctx: StageContext): Promise<void>;
}

/** A stage of any config and input, as registries and executors hold them. */
export type AnyStage = StageDef<unknown, unknown>;

/** Check a stage definition's shape at registration (TypeScript checks it too; this catches plain JS and casts). */
export function defineStage<Cfg, In = never, const Key extends string = string>(def: StageDef<Cfg, In, Key>): StageDef<Cfg, In, Key> {
  const problems: string[] = [];
  if (!/^[a-z][a-z-]*$/.test(def.name ?? '')) problems.push('a name of lower-case letters and dashes');
  if (!def.key) problems.push('a config key');
  if (!def.schema) problems.push('a config schema');
  if (typeof def.settings !== 'function') problems.push('settings(): the settings that shape its output, for its resume fingerprint');
  if (typeof def.runTask !== 'function') problems.push('runTask()');
  if (def.output && def.sides?.includes('')) problems.push('named side outputs');
  if (problems.length) throw new CosmoError(`stage "${def.name}" cannot be registered: it needs ${problems.join(', ')}`);
  return def;
}

/**
 * The task's samples that belong in the dataset, for the stages after cleaning (export, mix,
 * tokenize): a failed request stays in generate's output for the record, and is counted here as
 * `failed_skipped` instead (unless `count` is false: a second reading of the same input).
 */
export async function* datasetSamples(ctx: TaskContext<Sample>, count = true): AsyncGenerator<Sample> {
  for await (const s of ctx.input()) {
    ctx.signal.throwIfAborted();
    if (s.error) {
      if (count) ctx.stats.inc('failed_skipped');
    }
    else yield s;
  }
}

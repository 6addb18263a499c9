import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { writeJsonAtomic } from '../io/atomic.js';
import { fileIdentity } from '../io/identity.js';
import { JsonlWriter } from '../io/jsonl-writer.js';
import { listShards, readAll, readTaskInput, taskShards } from '../io/shards.js';
import { ByteProgress, NO_PROGRESS, type ProgressSink } from '../util/byte-progress.js';
import { CosmoError } from '../util/errors.js';
import type { Logger } from '../util/log.js';
import { acquireTaskLock } from './lock.js';
import type { AnyStage, CorpusEnv, RunOptions, StageContext, TaskContext, TaskMarker } from './stage.js';
import { Stats } from './stats.js';

/** Everything a task needs besides its rank and its config: serialisable, so it can be handed to a worker process or a Slurm job. */
export interface StagePlan {
  stage: string;
  worldSize: number;
  /** The stage whose records it reads, and that stage's folder. */
  inputStage?: string;
  inputDir?: string;
  /** Folders of the stages it declared in `reads`, by name. */
  dirs: Record<string, string>;
  outputDir: string;
  workDir: string;
  options: RunOptions;
  /** Tasks of this stage that run at once on one machine. */
  concurrent: number;
}

export const TASK_ENV = 'COSMO_TASK';

/** Where a run keeps its resolved config, so that every worker sees exactly what the parent saw. */
export const resolvedConfigPath = (workDir: string) => join(workDir, '.cosmo', 'config.json');

export const markerPath = (outputDir: string, rank: number) => join(outputDir, '.done', `${rank}.json`);

export function isTaskDone(outputDir: string, rank: number): boolean {
  return existsSync(markerPath(outputDir, rank));
}

/** The ranks of a stage that have no completion marker. */
export const pendingRanks = (plan: Pick<StagePlan, 'worldSize' | 'outputDir'>) =>
  [...Array(plan.worldSize).keys()].filter((r) => !isTaskDone(plan.outputDir, r));

export function readMarkers(outputDir: string): TaskMarker[] {
  const dir = join(outputDir, '.done');
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .map((f) => JSON.parse(readFileSync(join(dir, f), 'utf8')) as TaskMarker);
}

/** The context a stage's finalize (or a task, with more) is given. */
export function stageContext(plan: StagePlan, corpus: CorpusEnv, stats: Stats, log: Logger, signal: AbortSignal): StageContext {
  return {
    stage: plan.stage,
    worldSize: plan.worldSize,
    corpus,
    workDir: plan.workDir,
    outputDir: plan.outputDir,
    stats,
    log,
    signal,
    options: plan.options,
    dir(stage) {
      const dir = plan.dirs[stage];
      if (dir === undefined) throw new CosmoError(`${plan.stage}: reads the ${stage} folder without declaring it (add it to the stage's \`reads\`)`);
      return dir;
    },
  };
}

/** The JSONL shards task `rank` owns whole, in order; undefined where only the record reader will do (gzip, Parquet, fewer shards than tasks). */
function ownedJsonlShards(inputDir: string | undefined, rank: number, worldSize: number): string[] | undefined {
  if (!inputDir) return undefined;
  const { files, whole } = taskShards(inputDir, rank, worldSize);
  return whole && files.every((f) => f.endsWith('.jsonl')) ? files : undefined;
}

/**
 * How far a task has read its input: a bar on a TTY, or a log line every 10 s and one at the end,
 * as the run shows progress; nothing for a stage without input or with a progress of its own.
 */
function inputProgress(def: AnyStage, plan: StagePlan, rank: number, log: Logger): ByteProgress | undefined {
  const mode = plan.options.progress ?? 'none';
  if (!def.input || def.input.ownProgress || !plan.inputDir || mode === 'none') return undefined;
  const label = plan.worldSize > 1 ? `${plan.stage} ${rank}` : plan.stage;
  return new ByteProgress(label, inputBytes(def, plan, rank), { mode, log, doing: 'progress', field: 'task', counting: 'records' });
}

/** The bytes of the shards task `rank` reads. */
function inputBytes(def: AnyStage, plan: StagePlan, rank: number): number {
  if (!plan.inputDir) return 0;
  const files = def.input?.whole ? listShards(plan.inputDir) : taskShards(plan.inputDir, rank, plan.worldSize).files;
  return files.reduce((n, f) => n + statSync(f).size, 0);
}

/**
 * Run one task of a stage: hold its lock, open its writers, hand it its input, then commit its
 * outputs (side shards first) and, once they are in place, leave its completion marker. A task
 * that throws or is aborted leaves no output and no marker, so it simply runs again.
 */
export async function runTask(
  def: AnyStage,
  section: unknown,
  corpus: CorpusEnv,
  plan: StagePlan,
  rank: number,
  log: Logger,
  signal: AbortSignal,
): Promise<TaskMarker> {
  const started = Date.now();
  const release = await acquireTaskLock(plan.outputDir, rank, plan.stage, signal);
  const files = def.inputFiles?.(section as never, corpus, rank) ?? [];
  const identities = Object.fromEntries(files.map((f) => [f, fileIdentity(f)]));
  const writers: JsonlWriter[] = [];
  let progress: ByteProgress | undefined;
  try {
    const output = def.output ? await JsonlWriter.open(join(plan.outputDir, `${rank}.jsonl`)) : undefined;
    const sides = new Map<string, JsonlWriter>();
    for (const name of def.sides ?? []) sides.set(name, await JsonlWriter.open(join(plan.outputDir, name, `${rank}.jsonl`)));
    writers.push(...sides.values(), ...(output ? [output] : []));

    const stats = new Stats();
    const base = stageContext(plan, corpus, stats, plan.worldSize > 1 ? log.child(`${rank}`) : log, signal);
    const shown = inputProgress(def, plan, rank, base.log);
    progress = shown; // stopped however the task ends
    const reported = shown ?? NO_PROGRESS;
    let passes = 0;
    const ctx: TaskContext<unknown> = {
      ...base,
      rank,
      concurrent: plan.concurrent,
      input: () => {
        const records = readInput(def, plan, rank, stats, reported);
        if (!shown) return records;
        if (passes++ === 0) return counted(records, shown);
        shown.more(inputBytes(def, plan, rank)); // a second pass (dedup reads its input twice)
        return records;
      },
      progress: reported,
      inputFiles: () => (def.input?.whole ? undefined : ownedJsonlShards(plan.inputDir, rank, plan.worldSize)),
      inputDir: plan.inputDir,
      get output(): JsonlWriter {
        if (!output) throw new CosmoError(`${plan.stage}: writes records without declaring an output`);
        return output;
      },
      side(name) {
        const w = sides.get(name);
        if (!w) throw new CosmoError(`${plan.stage}: writes a "${name}" side output without declaring it in \`sides\``);
        return w;
      },
    };
    await def.runTask(section as never, ctx as never);
    signal.throwIfAborted();
    for (const w of writers) await w.commit();
    writers.length = 0;
    const marker: TaskMarker = {
      rank,
      worldSize: plan.worldSize,
      stats: stats.toJSON(),
      started_at: new Date(started).toISOString(),
      finished_at: new Date().toISOString(),
      duration_ms: Date.now() - started,
      ...(files.length ? { files: identities } : {}),
    };
    await writeJsonAtomic(markerPath(plan.outputDir, rank), marker);
    return marker;
  } finally {
    progress?.stop();
    for (const w of writers) await w.abort();
    release();
  }
}

/** The records of `input`, each counted as read. */
async function* counted<T>(input: AsyncIterable<T>, progress: ProgressSink): AsyncGenerator<T> {
  for await (const record of input) {
    progress.add(0, 1);
    yield record;
  }
}

/** The task's records from the input stage's folder, each checked against the stage's record spec. */
function readInput(def: AnyStage, plan: StagePlan, rank: number, stats: Stats, progress: ProgressSink): AsyncIterable<unknown> {
  const spec = def.input?.records;
  if (!spec) throw new CosmoError(`${plan.stage}: reads records without declaring an input`);
  const dir = plan.inputDir;
  if (!dir || listShards(dir).length === 0)
    throw new CosmoError(
      plan.inputStage
        ? `${plan.stage}: there are no ${spec.kind} records in ${dir}; run the ${plan.inputStage} stage first`
        : `${plan.stage}: no stage before it writes ${spec.kind} records; configure one in the corpus file`,
    );
  const opts = {
    skipBad: plan.options.skipBad,
    onBad: () => stats.inc('bad_lines'),
    onBytes: (bytes: number) => progress.add(bytes),
    check: (v: Record<string, unknown>) => {
      const why = spec.check(v);
      return why && `not a ${spec.kind} record: ${why}`;
    },
  };
  return def.input?.whole ? readAll(dir, opts) : readTaskInput(dir, rank, plan.worldSize, opts);
}

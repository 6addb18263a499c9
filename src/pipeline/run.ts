import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { CorpusConfig } from '../config/schema.js';
import { writeJsonAtomic } from '../io/atomic.js';
import { runStageLocal, type TaskFailure } from '../exec/local.js';
import { runStagesSlurm, type SlurmStage } from '../exec/slurm.js';
import type { RunOptions, StageDef } from '../exec/stage.js';
import { Stats, type StatsJson } from '../exec/stats.js';
import { readMarkers, resolvedConfigPath, type StagePlan } from '../exec/task.js';
import { CosmoError } from '../util/errors.js';
import type { Logger } from '../util/log.js';
import { chainFingerprint } from './fingerprint.js';
import { STAGES } from './stages.js';

export interface StageResult {
  stage: string;
  outputDir: string;
  tasks: number;
  /** Tasks that were already complete from an earlier run. */
  skipped: number;
  stats: StatsJson;
  duration_ms: number;
}

export interface PipelineOptions extends RunOptions {
  /** Run only these stages (by name), reading whatever the earlier stages left on disk. */
  only?: string[];
  log: Logger;
  signal?: AbortSignal;
}

/** Folder of a stage's output shards. */
export const stageDir = (cfg: Pick<CorpusConfig, 'output_dir'>, stage: string) => join(cfg.output_dir, stage);

export interface PlannedStage {
  def: StageDef;
  inputDir: string | undefined;
  /** Identifies the settings of this stage and every stage before it. */
  fingerprint: string;
}

/** The enabled stages in order, each with the folder it reads from. */
export function planStages(cfg: CorpusConfig): PlannedStage[] {
  const plan: PlannedStage[] = [];
  let input: string | undefined;
  let fingerprint = '';
  for (const def of STAGES) {
    if (!def.enabled(cfg)) continue;
    fingerprint = chainFingerprint(fingerprint, def.name, cfg);
    plan.push({ def, inputDir: input, fingerprint });
    if (!def.auxiliary) input = stageDir(cfg, def.name);
  }
  return plan;
}

/** A stage name selects that stage and its inner steps (`dedup` selects `dedup-signatures`, …). */
const selects = (name: string, stage: string) => stage === name || stage.startsWith(`${name}-`);

/** Refuse to mix, in one folder, outputs of runs with different task counts or different settings. */
async function claimStageDir(outputDir: string, stage: string, tasks: number, fingerprint: string): Promise<void> {
  const file = join(outputDir, '.stage.json');
  if (existsSync(file)) {
    const prev = JSON.parse(readFileSync(file, 'utf8')) as { tasks: number; fingerprint?: string };
    if (prev.tasks !== tasks)
      throw new CosmoError(
        `${outputDir} holds a ${stage} run with ${prev.tasks} tasks, but the config now asks for ${tasks}. ` +
          `Keep tasks at ${prev.tasks}, or delete ${outputDir} to redo this stage.`,
      );
    if (prev.fingerprint !== undefined && prev.fingerprint !== fingerprint)
      throw new CosmoError(
        `${outputDir} was made with other settings than the config now has (the ${stage} settings or an earlier stage's changed). ` +
          `Delete ${outputDir} and the stage folders after it to redo them, or choose another output folder.`,
      );
    return;
  }
  await writeJsonAtomic(file, { stage, tasks, fingerprint });
}

/** Run the pipeline (or the stages in `only`), resuming whatever an earlier run left unfinished. */
export async function runPipeline(cfg: CorpusConfig, opts: PipelineOptions): Promise<StageResult[]> {
  const signal = opts.signal ?? new AbortController().signal;
  await writeJsonAtomic(resolvedConfigPath(cfg.output_dir), cfg);
  const results: StageResult[] = [];
  const selected = planStages(cfg).filter(({ def }) => !opts.only || opts.only.some((name) => selects(name, def.name)));
  if (cfg.executor.type === 'slurm') {
    // The whole run is submitted at once (one chained job array per stage); finalize runs here.
    const stages: (SlurmStage & { started: number; before: number })[] = [];
    for (const { def, inputDir, fingerprint } of selected) {
      const { plan, before } = await prepareStage(def, cfg, inputDir, fingerprint, opts);
      stages.push({ def, plan, started: Date.now(), before });
    }
    await runStagesSlurm(cfg, stages, {
      log: opts.log,
      signal,
      onStageDone: async (stage, failures) => {
        const s = stages.find((x) => x === stage)!;
        results.push(await completeStage(s.def, cfg, s.plan, failures, opts, signal, s.started, s.before));
      },
    });
    return results;
  }
  for (const stage of selected) results.push(await runOneStage(stage, cfg, opts, signal));
  return results;
}

async function runOneStage({ def, inputDir, fingerprint }: PlannedStage, cfg: CorpusConfig, opts: PipelineOptions, signal: AbortSignal): Promise<StageResult> {
  const started = Date.now();
  const { plan, before } = await prepareStage(def, cfg, inputDir, fingerprint, opts);
  const log = opts.log.child(def.name);
  const failures: TaskFailure[] = await runStageLocal(def, cfg, plan, { workers: cfg.executor.workers, log, signal });
  return completeStage(def, cfg, plan, failures, opts, signal, started, before);
}

/** Claim the stage's folder and describe its tasks. */
async function prepareStage(
  def: StageDef,
  cfg: CorpusConfig,
  inputDir: string | undefined,
  fingerprint: string,
  opts: PipelineOptions,
): Promise<{ plan: StagePlan; before: number }> {
  const outputDir = stageDir(cfg, def.name);
  const tasks = def.tasks(cfg);
  await claimStageDir(outputDir, def.name, tasks, fingerprint);
  const plan: StagePlan = {
    stage: def.name,
    worldSize: tasks,
    inputDir,
    outputDir,
    workDir: cfg.output_dir,
    options: { skipBad: opts.skipBad, progress: opts.progress },
  };
  const before = readMarkers(outputDir).length;
  if (before < tasks) opts.log.child(def.name).info(before ? `resuming: ${before}/${tasks} tasks already done` : `starting ${tasks} task(s)`);
  return { plan, before };
}

/** Report failed tasks, or merge the tasks' stats and run the stage's finalize. */
async function completeStage(
  def: StageDef,
  cfg: CorpusConfig,
  plan: StagePlan,
  failures: TaskFailure[],
  opts: PipelineOptions,
  signal: AbortSignal,
  started: number,
  before: number,
): Promise<StageResult> {
  const { outputDir, worldSize: tasks } = plan;
  const log = opts.log.child(def.name);
  if (failures.length > 0) {
    const where = (f: TaskFailure) => `${f.error}${f.log ? ` (log: ${f.log})` : ''}`;
    throw new CosmoError(
      (tasks === 1
        ? `stage ${def.name} failed: ${where(failures[0]!)}`
        : `stage ${def.name}: ${failures.length} of ${tasks} tasks failed\n` + failures.map((f) => `  task ${f.rank}: ${where(f)}`).join('\n')) +
        `\nOnce fixed, rerun the same command: finished work is kept, and only what failed runs again.`,
    );
  }
  const stats = new Stats();
  for (const m of readMarkers(outputDir)) stats.merge(m.stats);
  await def.finalize?.(cfg, { ...plan, stats, log, signal });
  await writeJsonAtomic(join(outputDir, 'stats.json'), stats);
  return { stage: def.name, outputDir, tasks, skipped: before, stats: stats.toJSON(), duration_ms: Date.now() - started };
}

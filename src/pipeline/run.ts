import { existsSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { createExecutor } from '../exec/create.js';
import type { Executor, StageJob, TaskFailure } from '../exec/executor.js';
import type { AnyStage, CorpusEnv, RunOptions } from '../exec/stage.js';
import { Stats, type StatsJson } from '../exec/stats.js';
import { markerPath, pendingRanks, readMarkers, resolvedConfigPath, runTask, stageContext, type StagePlan } from '../exec/task.js';
import { writeJsonAtomic, writeJsonAtomicSync } from '../io/atomic.js';
import { fileIdentity } from '../io/identity.js';
import { CosmoError, errorMessage } from '../util/errors.js';
import type { Logger } from '../util/log.js';
import type { CorpusConfig } from './corpus.js';
import { corpusEnv, sectionOf } from './env.js';
import { changedPaths, chainFingerprint, rootFingerprint, stageSettings } from './fingerprint.js';
import { REGISTRY } from './registry.js';
import { nodeCommandFor, siblingModule } from '../util/runtime.js';

export interface StageResult {
  stage: string;
  outputDir: string;
  tasks: number;
  /** Tasks that were already complete from an earlier run. */
  skipped: number;
  /** Stats merged over every task, earlier runs' included. */
  stats: StatsJson;
  /** Stats of the tasks this run did. */
  fresh: StatsJson;
  /** Wall time this run spent on the stage: its tasks (first start to last finish) and its finalize. */
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
  def: AnyStage;
  plan: StagePlan;
  /** Identifies the settings of this stage and every stage before it. */
  fingerprint: string;
  settings: unknown;
}

/** The secrets a run's workers need: the keys its engines name, and a Hub token. */
function secretEnv(cfg: CorpusConfig): string[] {
  const engines = [...cfg.generate.engines, ...(cfg.filter.judge.engines ?? []), ...(cfg.cluster.label.engines ?? [])];
  return [...new Set([...engines.flatMap((e) => (e.type !== 'embedded' && e.api_key_env ? [e.api_key_env] : [])), 'HF_TOKEN'])];
}

/** The command line of a worker process (pipeline/worker.ts): the same runtime as this process, from any folder. */
export const workerCommand = () => nodeCommandFor(siblingModule('worker', import.meta.url));

function executorFor(cfg: CorpusConfig): Executor {
  return createExecutor(cfg.executor, { workerCommand: workerCommand(), runName: cfg.name, secretEnv: secretEnv(cfg) });
}

/** The enabled stages in order, each with the folders it reads and its settings' fingerprint. */
export function planStages(cfg: CorpusConfig, opts: RunOptions = {}, executor: Executor = executorFor(cfg)): PlannedStage[] {
  const planned: PlannedStage[] = [];
  let input: { stage: string; dir: string } | undefined;
  let fingerprint = rootFingerprint(cfg);
  const env = corpusEnv(cfg);
  for (const def of REGISTRY) {
    const section = sectionOf(cfg, def);
    if (!def.enabled(section)) continue;
    const settings = stageSettings(def, cfg, env);
    fingerprint = chainFingerprint(fingerprint, def, cfg);
    const tasks = def.tasks(section);
    const plan: StagePlan = {
      stage: def.name,
      worldSize: tasks,
      inputStage: def.input ? input?.stage : undefined,
      inputDir: def.input ? input?.dir : undefined,
      dirs: Object.fromEntries((def.reads ?? []).map((name) => [name, stageDir(cfg, name)])),
      outputDir: stageDir(cfg, def.name),
      workDir: cfg.output_dir,
      options: { skipBad: opts.skipBad, progress: opts.progress },
      concurrent: executor.concurrent(tasks),
    };
    planned.push({ def, plan, fingerprint, settings });
    if (def.output) input = { stage: def.name, dir: plan.outputDir };
  }
  return planned;
}

/** A stage name selects that stage and its inner steps (`dedup` selects `dedup-signatures`, …). */
const selects = (name: string, stage: string) => stage === name || stage.startsWith(`${name}-`);

interface StageRecord {
  stage: string;
  tasks: number;
  fingerprint: string;
  settings?: unknown;
}

/** Where a run records which settings a stage folder was made with (outside the folder, which exists only once the stage ran). */
const claimPath = (plan: StagePlan) => join(plan.workDir, '.cosmo', 'stages', `${plan.stage}.json`);

/** Whether a stage folder holds work worth keeping: a finished task, or a non-empty ledger or shard. */
function holdsWork(dir: string): boolean {
  if (!existsSync(dir)) return false;
  if (readMarkers(dir).length > 0) return true;
  return readdirSync(dir).some((f) => !f.startsWith('.') && statSync(join(dir, f)).isFile() && statSync(join(dir, f)).size > 0);
}

/**
 * Claim a stage's folder for these settings. Outputs of runs with a different task count or other
 * settings are never mixed with new ones: a folder holding such work is refused, naming what
 * changed and what to delete; one holding no finished work is cleared.
 */
function claimStageDir({ def, plan, fingerprint, settings }: PlannedStage, log: Logger): void {
  const { outputDir } = plan;
  const file = claimPath(plan);
  if (existsSync(file)) {
    const prev = JSON.parse(readFileSync(file, 'utf8')) as StageRecord;
    const sameTasks = prev.tasks === plan.worldSize;
    if (sameTasks && prev.fingerprint === fingerprint) return assertInputsUnchanged(def, plan);
    if (holdsWork(outputDir)) {
      if (!sameTasks)
        throw new CosmoError(
          `${outputDir} holds a ${def.name} run with ${prev.tasks} tasks, but the config now asks for ${plan.worldSize}. ` +
            `Keep tasks at ${prev.tasks}, or delete ${outputDir} to redo this stage.`,
        );
      const changed = prev.settings === undefined ? [] : changedPaths(prev.settings, settings);
      throw new CosmoError(
        `${outputDir} was made with other settings than the config now has (` +
          (changed.length ? `changed: ${changed.map((p) => `${def.key}.${p}`).join(', ')}` : `the ${def.name} settings or an earlier stage's changed`) +
          `). Delete ${outputDir} and the stage folders after it to redo them, or choose another output folder.`,
      );
    }
    log.child(def.name).info('clearing unfinished leftovers of a run with other settings', { dir: outputDir });
    rmSync(outputDir, { recursive: true, force: true });
  }
  const record: StageRecord = { stage: def.name, tasks: plan.worldSize, fingerprint, settings };
  writeJsonAtomicSync(file, record);
}


/** A finished task's outside files (seed, benchmark, template files) must be as they were when it ran: a changed one is named. */
function assertInputsUnchanged(def: AnyStage, plan: StagePlan): void {
  for (const m of readMarkers(plan.outputDir)) {
    for (const [file, was] of Object.entries(m.files ?? {})) {
      const now = fileIdentity(file);
      if (now === was) continue;
      throw new CosmoError(
        `${def.name} task ${m.rank} read ${file}, which ${now === 'missing' ? 'is gone' : 'has changed'} since it ran. ` +
          `Delete ${plan.outputDir} and the stage folders after it to redo them from the file as it is now, or put the file back as it was.`,
      );
    }
  }
}

/**
 * Finished tasks that the stage wants to run again (generate: failures a retry may fix). Their
 * markers go, and every later stage made from the old output is cleared, so it is made again.
 */
function scheduleReruns(stage: PlannedStage, section: unknown, later: PlannedStage[], log: Logger): void {
  const { def, plan } = stage;
  if (!def.rerun) return;
  const again = readMarkers(plan.outputDir).filter((m) => def.rerun!(section as never, m, plan.workDir));
  if (again.length === 0) return;
  for (const m of again) rmSync(markerPath(plan.outputDir, m.rank), { force: true });
  log.child(def.name).info('running finished tasks again', { tasks: again.map((m) => m.rank).join(',') });
  for (const { def: next, plan: p } of later) {
    if (!existsSync(p.outputDir)) continue;
    log.child(next.name).info(`clearing: it was made from the earlier ${def.name} output`, { dir: p.outputDir });
    rmSync(p.outputDir, { recursive: true, force: true });
  }
}

/** Every problem that would stop the run later, found now: missing files, models, bad benchmark files. */
async function preflight(stages: PlannedStage[], cfg: CorpusConfig, env: CorpusEnv, log: Logger): Promise<void> {
  const problems: string[] = [];
  for (const { def, plan } of stages) {
    if (!def.check || pendingRanks(plan).length === 0) continue;
    try {
      await def.check(sectionOf(cfg, def) as never, env, log.child(def.name));
    } catch (err) {
      if (!(err instanceof CosmoError)) throw err;
      problems.push(`  ${def.name}: ${errorMessage(err)}`);
    }
  }
  if (problems.length) throw new CosmoError(`cannot start: what the run needs is not all there\n${problems.join('\n')}`);
}

/** Run the pipeline (or the stages in `only`), resuming whatever an earlier run left unfinished. */
export async function runPipeline(cfg: CorpusConfig, opts: PipelineOptions): Promise<StageResult[]> {
  const signal = opts.signal ?? new AbortController().signal;
  const log = opts.log;
  const executor = executorFor(cfg);
  const all = planStages(cfg, opts, executor);
  const selected = all.filter(({ def }) => !opts.only || opts.only.some((name) => selects(name, def.name)));
  if (opts.only && selected.length === 0) throw new CosmoError(`none of the stages ${opts.only.join(', ')} is enabled in this corpus config`);
  await writeJsonAtomic(resolvedConfigPath(cfg.output_dir), cfg);
  for (const stage of selected) {
    claimStageDir(stage, log);
    scheduleReruns(stage, sectionOf(cfg, stage.def), all.slice(all.indexOf(stage) + 1), log);
  }
  const env = corpusEnv(cfg);
  await preflight(selected, cfg, env, log);

  const started = Date.now();
  const results: StageResult[] = [];
  const byPlan = new Map(selected.map((s) => [s.plan, s]));
  const jobs: StageJob[] = selected.map(({ def, plan }) => ({
    plan,
    run: (rank, sig) => runTask(def, sectionOf(cfg, def), env, plan, rank, log.child(def.name), sig).then(() => undefined),
  }));
  const skipped = new Map(jobs.map((j) => [j.plan, j.plan.worldSize - pendingRanks(j.plan).length]));
  await executor.run(jobs, {
    log,
    signal,
    onStageDone: async (job, failures) => {
      const stage = byPlan.get(job.plan)!;
      results.push(await completeStage(stage, cfg, env, failures, log, signal, started, skipped.get(job.plan)!));
    },
  });
  return results;
}

/** Report failed tasks, or merge the tasks' stats and run the stage's finalize. */
async function completeStage(
  { def, plan }: PlannedStage,
  cfg: CorpusConfig,
  env: CorpusEnv,
  failures: TaskFailure[],
  log: Logger,
  signal: AbortSignal,
  runStarted: number,
  skipped: number,
): Promise<StageResult> {
  const { outputDir, worldSize: tasks } = plan;
  if (failures.length > 0) {
    const where = (f: TaskFailure) => `${f.error}${f.log ? ` (log: ${f.log})` : ''}`;
    throw new CosmoError(
      (tasks === 1
        ? `stage ${def.name} failed: ${where(failures[0]!)}`
        : `stage ${def.name}: ${failures.length} of ${tasks} tasks failed\n` + failures.map((f) => `  task ${f.rank}: ${where(f)}`).join('\n')) +
        `\nOnce fixed, rerun the same command: finished work is kept, and only what failed runs again.`,
    );
  }
  const markers = readMarkers(outputDir);
  const stats = new Stats();
  const fresh = new Stats();
  let first = Infinity;
  let last = 0;
  for (const m of markers) {
    stats.merge(m.stats);
    const start = Date.parse(m.started_at);
    if (start < runStarted) continue;
    fresh.merge(m.stats);
    first = Math.min(first, start);
    last = Math.max(last, Date.parse(m.finished_at));
  }
  const finalizing = Date.now();
  await def.finalize?.(sectionOf(cfg, def) as never, stageContext(plan, env, stats, log.child(def.name), signal));
  await writeJsonAtomic(join(outputDir, 'stats.json'), stats);
  const ran = first === Infinity ? 0 : last - first;
  return { stage: def.name, outputDir, tasks, skipped, stats: stats.toJSON(), fresh: fresh.toJSON(), duration_ms: ran + (Date.now() - finalizing) };
}

import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { writeJsonAtomic } from '../io/atomic.js';
import type { CorpusConfig } from '../config/schema.js';
import type { Logger } from '../util/log.js';
import type { RunOptions, StageDef, TaskContext } from './stage.js';
import { Stats, type StatsJson } from './stats.js';

/** Everything a task needs besides its rank: serialisable, so it can be handed to a worker process or a Slurm job. */
export interface StagePlan {
  stage: string;
  worldSize: number;
  inputDir: string | undefined;
  outputDir: string;
  workDir: string;
  options: RunOptions;
}

export const TASK_ENV = 'COSMO_TASK';

/** Where a run keeps its resolved config, so that every worker sees exactly what the parent saw. */
export const resolvedConfigPath = (workDir: string) => join(workDir, '.cosmo', 'config.json');

export interface TaskMarker {
  rank: number;
  worldSize: number;
  stats: StatsJson;
  started_at: string;
  finished_at: string;
  duration_ms: number;
}

export const markerPath = (outputDir: string, rank: number) => join(outputDir, '.done', `${rank}.json`);

export function isTaskDone(outputDir: string, rank: number): boolean {
  return existsSync(markerPath(outputDir, rank));
}

export function readMarkers(outputDir: string): TaskMarker[] {
  const dir = join(outputDir, '.done');
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .map((f) => JSON.parse(readFileSync(join(dir, f), 'utf8')) as TaskMarker);
}

/** Run one task of a stage and, once its outputs are in place, leave its completion marker. */
export async function runTask(
  def: StageDef,
  cfg: CorpusConfig,
  plan: StagePlan,
  rank: number,
  log: Logger,
  signal: AbortSignal,
): Promise<TaskMarker> {
  const started = Date.now();
  const ctx: TaskContext = {
    stage: plan.stage,
    rank,
    worldSize: plan.worldSize,
    inputDir: plan.inputDir,
    outputDir: plan.outputDir,
    workDir: plan.workDir,
    stats: new Stats(),
    log: plan.worldSize > 1 ? log.child(`${rank}`) : log,
    signal,
    options: plan.options,
  };
  await def.runTask(cfg, ctx);
  signal.throwIfAborted();
  const marker: TaskMarker = {
    rank,
    worldSize: plan.worldSize,
    stats: ctx.stats.toJSON(),
    started_at: new Date(started).toISOString(),
    finished_at: new Date().toISOString(),
    duration_ms: Date.now() - started,
  };
  await writeJsonAtomic(markerPath(plan.outputDir, rank), marker);
  return marker;
}

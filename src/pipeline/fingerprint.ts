import type { AnyStage, CorpusEnv } from '../exec/stage.js';
import { canonicalJson, stableId } from '../records/id.js';
import type { CorpusConfig } from './corpus.js';
import { corpusEnv, sectionOf } from './env.js';
import { getStage } from './registry.js';

/** The settings that shape a stage's output, as its own definition says (see `StageDef.settings`). */
export function stageSettings(def: AnyStage, cfg: CorpusConfig, env: CorpusEnv = corpusEnv(cfg)): unknown {
  return def.settings(sectionOf(cfg, def), env) ?? null;
}

/** The root of every chain: the corpus seed shapes every random choice downstream. */
export const rootFingerprint = (cfg: CorpusConfig) => stableId('corpus', cfg.seed);

/** A stage's fingerprint chains those of the stages before it: a change upstream invalidates it too. */
export function chainFingerprint(previous: string, stage: string | AnyStage, cfg: CorpusConfig): string {
  const def = typeof stage === 'string' ? getStage(stage) : stage;
  return stableId(previous, def.name, stageSettings(def, cfg));
}

/** The paths (a.b.c) at which two settings values differ, at most `limit` of them: to say what changed. */
export function changedPaths(before: unknown, after: unknown, limit = 5, path = ''): string[] {
  if (canonicalJson(before) === canonicalJson(after)) return [];
  const isObj = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object';
  if (!isObj(before) || !isObj(after) || Array.isArray(before) !== Array.isArray(after)) return [path || '(all)'];
  const out: string[] = [];
  for (const k of new Set([...Object.keys(before), ...Object.keys(after)])) {
    out.push(...changedPaths(before[k], after[k], limit - out.length, path ? `${path}.${k}` : k));
    if (out.length >= limit) break;
  }
  return out;
}

import { clusterStage } from '../cluster/stage.js';
import { decontaminateStage } from '../decontaminate/stage.js';
import { DEDUP_STAGES } from '../dedup/stage.js';
import { defineStage, type AnyStage } from '../exec/stage.js';
import { exportStage } from '../export/stage.js';
import { filterStage } from '../filter/stage.js';
import { generateStage } from '../generate/stage.js';
import { KNOWLEDGE_STAGES } from '../knowledge/stage.js';
import { mixStage } from '../mix/stage.js';
import { promptsStage } from '../prompts/stage.js';
import { seedsStage } from '../seeds/stage.js';
import { tokenizeStage } from '../tokenize/stage.js';
import { CosmoError } from '../util/errors.js';

/**
 * Every stage, in pipeline order: the one list the corpus schema, the resume fingerprints and the
 * CLI's stage commands are derived from. Adding a stage is its folder, one line here, and one
 * in stage-modules.ts, which worker processes load a stage by (a test holds the two lists equal).
 */
export const STAGES = [seedsStage, clusterStage, promptsStage, ...KNOWLEDGE_STAGES, generateStage, filterStage, ...DEDUP_STAGES, decontaminateStage, exportStage, mixStage, tokenizeStage] as const;

/**
 * Check that a list of stages can work as a pipeline: each is well formed (a fingerprint
 * included), names are unique, stages sharing a config key share its schema, every input is
 * written by an earlier stage, and every folder a stage reads belongs to an earlier one.
 */
export function checkRegistry(stages: readonly AnyStage[]): readonly AnyStage[] {
  const schemas = new Map<string, unknown>();
  stages.forEach((def, i) => {
    defineStage(def);
    const before = stages.slice(0, i);
    const problem = (what: string) => new CosmoError(`stage "${def.name}" cannot be registered: ${what}`);
    if (before.some((s) => s.name === def.name)) throw problem('another stage has that name');
    const schema = schemas.get(def.key);
    if (schema !== undefined && schema !== def.schema) throw problem(`config key "${def.key}" is another stage's, with another schema`);
    schemas.set(def.key, def.schema);
    const kind = def.input?.records.kind;
    if (kind && !before.some((s) => s.output?.kind === kind)) throw problem(`no stage before it writes the ${kind} records it reads`);
    for (const r of def.reads ?? []) if (!before.some((s) => s.name === r)) throw problem(`it reads the folder of "${r}", which is not a stage before it`);
  });
  return stages;
}

export const REGISTRY: readonly AnyStage[] = checkRegistry(STAGES);

export function getStage(name: string): AnyStage {
  const def = REGISTRY.find((s) => s.name === name);
  if (!def) throw new CosmoError(`unknown stage "${name}"; stages are: ${REGISTRY.map((s) => s.name).join(', ')}`);
  return def;
}

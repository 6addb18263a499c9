import type { StageDef } from '../exec/stage.js';
import { CosmoError } from '../util/errors.js';
import { exportStage } from '../export/stage.js';
import { seedsStage } from '../seeds/stage.js';
import { promptsStage } from '../prompts/stage.js';
import { generateStage } from '../generate/stage.js';
import { filterStage } from '../quality/stage.js';
import { DEDUP_STAGES } from '../dedup/stage.js';
import { decontamStage } from '../decontam/stage.js';

/**
 * Every stage, in pipeline order. A stage reads the output of the nearest enabled data stage
 * before it; `auxiliary` stages (the inner steps of dedup) are skipped when choosing that input.
 */
export const STAGES: readonly StageDef[] = [
  // seeds, prompts, generate, filter, dedup steps and decontaminate register here, in this order.
  seedsStage,
  promptsStage,
  generateStage,
  filterStage,
  ...DEDUP_STAGES,
  decontamStage,
  exportStage,
];

export function getStage(name: string): StageDef {
  const def = STAGES.find((s) => s.name === name);
  if (!def) throw new CosmoError(`unknown stage "${name}"; stages are: ${STAGES.map((s) => s.name).join(', ')}`);
  return def;
}

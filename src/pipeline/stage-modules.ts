import type { AnyStage } from '../exec/stage.js';
import { CosmoError } from '../util/errors.js';

/**
 * Each stage's definition, loaded from its own module: a worker process imports only the stage it
 * runs. Importing the registry (every stage and the libraries they use) took 0.2 s of a worker's
 * 0.25 s start, paid by every task of every step. The registry test checks this list against it.
 */
const LOADERS: Record<string, () => Promise<AnyStage>> = {
  seeds: async () => (await import('../seeds/stage.js')).seedsStage,
  cluster: async () => (await import('../cluster/stage.js')).clusterStage,
  prompts: async () => (await import('../prompts/stage.js')).promptsStage,
  knowledge: async () => (await import('../knowledge/stage.js')).knowledgeStage,
  ground: async () => (await import('../knowledge/stage.js')).groundStage,
  generate: async () => (await import('../generate/stage.js')).generateStage,
  filter: async () => (await import('../filter/stage.js')).filterStage,
  'dedup-signatures': async () => (await import('../dedup/stage.js')).dedupSignaturesStage,
  'dedup-buckets': async () => (await import('../dedup/stage.js')).dedupBucketsStage,
  'dedup-clusters': async () => (await import('../dedup/stage.js')).dedupClustersStage,
  dedup: async () => (await import('../dedup/stage.js')).dedupStage,
  decontaminate: async () => (await import('../decontaminate/stage.js')).decontaminateStage,
  export: async () => (await import('../export/stage.js')).exportStage,
  mix: async () => (await import('../mix/stage.js')).mixStage,
  tokenize: async () => (await import('../tokenize/stage.js')).tokenizeStage,
};

export const STAGE_NAMES: readonly string[] = Object.keys(LOADERS);

export async function loadStage(name: string): Promise<AnyStage> {
  const load = LOADERS[name];
  if (!load) throw new CosmoError(`unknown stage "${name}"; stages are: ${STAGE_NAMES.join(', ')}`);
  return load();
}

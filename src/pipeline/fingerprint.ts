import type { CorpusConfig } from '../config/schema.js';
import { stableId } from '../records/id.js';

/**
 * The settings that shape a stage's output, besides its input. Retry policy, timeouts, engines'
 * addresses and worker counts are left out on purpose: changing them mid-corpus changes how the
 * work is done, not what it produces.
 */
export function stageSettings(stage: string, cfg: CorpusConfig): unknown {
  switch (stage) {
    case 'seeds':
      return { seeds: cfg.seeds, base_dir: cfg.base_dir, seed: cfg.seed };
    case 'prompts':
      return { prompts: cfg.prompts, seed: cfg.seed };
    case 'generate': {
      const g = cfg.generate;
      const models = [...new Set(g.engines.map((e) => e.model))].sort();
      return { params: g.params, max_tokens_by_format: g.max_tokens_by_format, system_prompt: g.system_prompt, json_schema: g.json_schema, models };
    }
    case 'filter': {
      const { concurrency: _c, engines, ...judge } = cfg.filter.judge;
      return { ...cfg.filter, judge: { ...judge, models: engines?.map((e) => e.model) } };
    }
    case 'decontaminate':
      return cfg.decontaminate;
    case 'export':
      return cfg.export;
    default: {
      if (!stage.startsWith('dedup')) return undefined;
      const { threads: _t, ...dedup } = cfg.dedup;
      return dedup;
    }
  }
}

/** A stage's fingerprint chains those of the stages before it: a change upstream invalidates it too. */
export function chainFingerprint(previous: string, stage: string, cfg: CorpusConfig): string {
  return stableId(previous, stage, stageSettings(stage, cfg) ?? null);
}

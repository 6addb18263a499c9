import type { EngineConfig } from './config.js';
import type { Logger } from '../util/log.js';
import { createOpenAIEngine } from './openai.js';
import { OpenAIBatchEngine } from './openai-batch.js';
import type { Engine } from './types.js';

export interface CreateEngineOptions {
  log: Logger;
  /** Where the embedded engine keeps downloaded models. */
  cacheDir?: string;
  /** Where a batch engine records its batches. */
  batchState?: string;
}

/** One engine from its config. llama.cpp is loaded only when an embedded engine is asked for. */
export async function createEngine(cfg: EngineConfig, opts: CreateEngineOptions): Promise<Engine> {
  if (cfg.type === 'openai') return createOpenAIEngine(cfg);
  if (cfg.type === 'openai-batch') return new OpenAIBatchEngine(cfg, { log: opts.log, statePath: opts.batchState });
  const { createEmbeddedEngine } = await import('./embedded.js');
  return createEmbeddedEngine(cfg, { log: opts.log, cacheDir: opts.cacheDir });
}

import type { EmbeddedEngineConfig, EngineConfig } from '../generate/config.js';
import type { Logger } from '../util/log.js';
import { createOpenAIEngine } from './openai.js';
import type { Engine } from './types.js';

export interface CreateEngineOptions {
  log: Logger;
  /** Where the embedded engine keeps downloaded models. */
  cacheDir?: string;
}

/** What `./embedded.js` provides (node-llama-cpp is loaded only when an embedded engine is asked for). */
interface EmbeddedModule {
  createEmbeddedEngine(cfg: EmbeddedEngineConfig, opts?: { log?: Logger; cacheDir?: string }): Promise<Engine>;
}
const EMBEDDED_MODULE = './embedded.js';

/** One engine from its config. */
export async function createEngine(cfg: EngineConfig, opts: CreateEngineOptions): Promise<Engine> {
  if (cfg.type === 'openai') return createOpenAIEngine(cfg);
  const { createEmbeddedEngine } = (await import(EMBEDDED_MODULE)) as EmbeddedModule;
  return createEmbeddedEngine(cfg, { log: opts.log, cacheDir: opts.cacheDir });
}

import type { Logger } from '../util/log.js';
import type { EmbedderConfig } from './config.js';
import { GgufEmbedder } from './gguf.js';
import { GloveSifEmbedder } from './glove.js';
import { HttpEmbedder } from './http.js';
import { TfidfSvdEmbedder } from './tfidf.js';
import type { Embedder } from './types.js';

/**
 * The embedder a config describes. Those that learn from the corpus (TF-IDF's vocabulary and
 * projection, SIF's common component) are fitted on `corpus`; the others ignore it.
 */
export async function createEmbedder(cfg: EmbedderConfig, corpus: string[], opts: { resolve: (p: string) => string; log?: Logger; seed?: number }): Promise<Embedder> {
  switch (cfg.type) {
    case 'tfidf':
      return TfidfSvdEmbedder.fit(corpus, { dims: cfg.dims, maxTerms: cfg.max_terms, seed: opts.seed ?? 1 });
    case 'glove':
      return GloveSifEmbedder.fit(corpus);
    case 'gguf':
      return GgufEmbedder.open(cfg.model.startsWith('hf:') ? cfg.model : opts.resolve(cfg.model), { threads: cfg.threads, contextSize: cfg.context_size, log: opts.log });
    case 'openai':
      return new HttpEmbedder({ baseUrl: cfg.base_url, model: cfg.model, apiKeyEnv: cfg.api_key_env, batch: cfg.batch, concurrency: cfg.concurrency, attempts: cfg.attempts });
  }
}

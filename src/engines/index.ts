/** Engines: anything that turns chat messages into text, and the pool that spreads requests over them. */
export * from './types.js';
export { createEngine, type CreateEngineOptions } from './create.js';
export { OpenAIEngine, createOpenAIEngine, endpointId, parseRetryAfter } from './openai.js';
export {
  EnginePool,
  DEFAULT_POLICY,
  type PoolPolicy,
  type PoolOptions,
  type PooledCompletion,
  type CompletionCache,
  type EngineMetrics,
} from './pool.js';
export * from './config.js';
export { openPool, readEndpointsFile, resolveEngines, type OpenPoolOptions, type OpenedPool } from './open.js';

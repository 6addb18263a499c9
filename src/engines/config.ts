import { z } from 'zod';

/** Default model: fetched from the Hugging Face Hub into the cache folder on first use. */
export const DEFAULT_MODEL = 'hf:HuggingFaceTB/SmolLM2-360M-Instruct-GGUF/smollm2-360m-instruct-q8_0.gguf';

export const embeddedEngineSchema = z.strictObject({
  type: z.literal('embedded'),
  /** A local .gguf path, or an `hf:owner/repo/file.gguf` URI downloaded on first use. */
  model: z.string().default(DEFAULT_MODEL),
  /**
   * CPU threads for llama.cpp. `auto`: the fastest of 1, 2, 4, 8 (up to the cores), timed at the
   * first load of the model on this machine and kept (`<cache>/calibration.json`).
   */
  threads: z.union([z.literal('auto'), z.number().int().positive()]).default('auto'),
  /** Sequences decoded together in one context (continuous batching). `auto`: timed as threads are (1, 2, 4, 8). */
  sequences: z.union([z.literal('auto'), z.number().int().positive()]).default('auto'),
  /**
   * Contexts decoding side by side on one loaded model, each with `threads` threads and `sequences`
   * sequences (each its own KV cache): on a CPU, a second core used this way pays where a second
   * thread in one context does not. `auto`: 1, 2, … up to the cores over the threads, timed after
   * the sequences. Absent: `auto` when `sequences` is `auto`, else 1.
   */
  contexts: z.union([z.literal('auto'), z.number().int().positive()]).optional(),
  /** Context size in tokens of each sequence: a prompt plus its answer must fit in it. */
  context_size: z.number().int().positive().default(4096),
  /** Tokens llama.cpp evaluates per batch (prompt processing). Default: llama.cpp's (512, or the context size if smaller). */
  batch_size: z.number().int().positive().optional(),
  /** `auto` uses a GPU when one is found (CUDA, Vulkan, Metal), else the CPU; `false` forces the CPU. */
  gpu: z.union([z.literal('auto'), z.literal(false), z.enum(['cuda', 'vulkan', 'metal'])]).optional(),
});

/** OpenAI-compatible servers whose requests or limits differ; `openai` is the API itself and any server that follows it. */
export const SERVER_KINDS = ['auto', 'openai', 'vllm', 'tgi', 'sglang', 'llamacpp'] as const;
export type ServerKind = Exclude<(typeof SERVER_KINDS)[number], 'auto'>;

export const openaiEngineSchema = z.strictObject({
  type: z.literal('openai'),
  /** Base URL of an OpenAI-compatible server, e.g. http://gpu01:8000/v1 */
  base_url: z.string().url(),
  model: z.string(),
  /** Name of the environment variable holding the API key; the key itself is never written or logged. */
  api_key_env: z.string().optional(),
  /** Requests in flight at once to this endpoint. */
  concurrency: z.number().int().positive().default(64),
  /**
   * Dollars per million prompt (`input`) and completion (`output`) tokens, for the live cost, the
   * dry run's estimate and `generate.max_cost`. Absent: the table of known hosted models
   * (`src/engines/prices.ts`), else free.
   */
  price: z.strictObject({ input: z.number().nonnegative(), output: z.number().nonnegative() }).optional(),
  /**
   * The endpoint's quota, kept before it answers 429 (a token bucket each, refilled continuously):
   * requests and tokens (prompt + max_tokens, corrected by the answer's usage) per minute.
   */
  rate_limit: z
    .strictObject({
      requests_per_minute: z.number().positive().optional(),
      tokens_per_minute: z.number().positive().optional(),
    })
    .optional(),
  /**
   * Which server answers, for the request shapes and limits that differ (docs/slurm.md): `auto` asks
   * the server once (TGI answers `/info` with its `model_id`); `tgi` takes structured output as a
   * grammar and rejects top_p of 1, negative seeds and more than 4 stop sequences. Absent: `auto`.
   */
  server: z.enum(SERVER_KINDS).optional(),
});

/**
 * OpenAI's Batch API (or a server with a batch runner speaking it): requests go out in batches of
 * up to `max_requests` and `max_mb`, each recorded before it is waited on, so that a killed run
 * picks its batches up instead of paying twice.
 */
export const openaiBatchEngineSchema = z.strictObject({
  type: z.literal('openai-batch'),
  /** Base URL of the API, e.g. https://api.openai.com/v1 */
  base_url: z.string().url(),
  model: z.string(),
  api_key_env: z.string().optional(),
  /** Requests per batch (the API's limit: 50,000). */
  max_requests: z.number().int().positive().max(50_000).default(50_000),
  /** Megabytes of a batch's input file (the API's limit: 200). */
  max_mb: z.number().positive().max(200).default(190),
  /** Seconds a batch's first request waits for more before the batch is sent. */
  gather_s: z.number().nonnegative().default(10),
  /** Seconds between looks at a submitted batch. */
  poll_s: z.number().positive().default(30),
  /** Hours the API has to finish a batch (OpenAI's only window: 24). */
  completion_window_h: z.number().int().positive().default(24),
  /** Dollars per million tokens; absent: half the table's price for the model (the batch discount). */
  price: z.strictObject({ input: z.number().nonnegative(), output: z.number().nonnegative() }).optional(),
});

export const engineSchema = z.discriminatedUnion('type', [embeddedEngineSchema, openaiEngineSchema, openaiBatchEngineSchema]);
export type EngineConfig = z.infer<typeof engineSchema>;
export type EmbeddedEngineConfig = z.infer<typeof embeddedEngineSchema>;
export type OpenAIEngineConfig = z.infer<typeof openaiEngineSchema>;
export type OpenAIBatchEngineConfig = z.infer<typeof openaiBatchEngineSchema>;

/**
 * How a pool of engines is opened and how it behaves: which engines, and its retries, timeouts,
 * circuit breaker and request cache. Every stage that asks an LLM (generate, the filter's judge)
 * spreads this shape into its own config section and opens its pool with `openPool`.
 */
export const poolShape = {
  /** Engines to pool. */
  engines: z.array(engineSchema),
  /**
   * JSON file of OpenAI-compatible endpoints, written by `cosmo serve` (relative to the corpus file):
   * `{"endpoints": [{"base_url": "http://host:8000/v1", "model": "name", "concurrency": 64}]}`.
   * Its endpoints join `engines`. Read when the pool opens.
   */
  endpoints_file: z.string().optional(),
  /** Seconds between checks of the endpoints file for new endpoints (servers started or restarted later); 0: never. */
  endpoints_refresh_s: z.number().nonnegative().default(10),
  /** Seconds one attempt may take before it is abandoned and retried. */
  timeout_s: z.number().positive().default(600),
  retry: z
    .strictObject({
      /** Attempts per request, the first included. */
      max_attempts: z.number().int().positive().default(6),
      /** Base of the exponential backoff (full jitter). */
      backoff_ms: z.number().nonnegative().default(1000),
      max_backoff_ms: z.number().nonnegative().default(60_000),
    })
    .prefault({}),
  breaker: z
    .strictObject({
      /** Consecutive failures that take an endpoint out. */
      failures: z.number().int().positive().default(5),
      /** Seconds before an endpoint that was taken out is probed again. */
      cooldown_s: z.number().nonnegative().default(15),
      /** While every endpoint is out, requests wait this long for one to come back before failing. */
      max_outage_s: z.number().nonnegative().default(300),
    })
    .prefault({}),
  /** Reuse answers to identical requests (model, sampling, messages) across reruns and tasks. */
  cache: z.boolean().default(true),
};
export const poolSchema = z.strictObject(poolShape);
export type PoolConfig = z.infer<typeof poolSchema>;

/** The models a pool's engines ask for, sorted: what shapes its answers (addresses and keys do not). */
export const poolModels = (engines: readonly EngineConfig[]): string[] => [...new Set(engines.map((e) => e.model))].sort();

/** The endpoints file `cosmo serve` writes. */
export const endpointsFileSchema = z.strictObject({
  endpoints: z
    .array(
      z.strictObject({
        base_url: z.string().url(),
        model: z.string(),
        concurrency: z.number().int().positive().default(64),
        api_key_env: z.string().optional(),
        /** The server kind `cosmo serve` started (see `server` of an openai engine). */
        server: z.enum(SERVER_KINDS).optional(),
      }),
    )
    .min(1, 'lists no endpoint'),
});
export type EndpointsFile = z.infer<typeof endpointsFileSchema>;

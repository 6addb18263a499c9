import { z } from 'zod';

/** Default model: fetched from the Hugging Face Hub into the cache folder on first use. */
export const DEFAULT_MODEL = 'hf:HuggingFaceTB/SmolLM2-360M-Instruct-GGUF/smollm2-360m-instruct-q8_0.gguf';

export const embeddedEngineSchema = z.strictObject({
  type: z.literal('embedded'),
  /** A local .gguf path, or an `hf:owner/repo/file.gguf` URI downloaded on first use. */
  model: z.string().default(DEFAULT_MODEL),
  /** CPU threads for llama.cpp. On small machines 1 thread per sequence batch is often fastest: measure. */
  threads: z.number().int().positive().default(2),
  /** Sequences decoded together in one context (continuous batching). */
  sequences: z.number().int().positive().default(4),
  /** Context size in tokens of each sequence: a prompt plus its answer must fit in it. */
  context_size: z.number().int().positive().default(4096),
  /** Tokens llama.cpp evaluates per batch (prompt processing). Default: llama.cpp's (512, or the context size if smaller). */
  batch_size: z.number().int().positive().optional(),
  /** `auto` uses a GPU when one is found (CUDA, Vulkan, Metal), else the CPU; `false` forces the CPU. */
  gpu: z.union([z.literal('auto'), z.literal(false), z.enum(['cuda', 'vulkan', 'metal'])]).optional(),
});

export const openaiEngineSchema = z.strictObject({
  type: z.literal('openai'),
  /** Base URL of an OpenAI-compatible server, e.g. http://gpu01:8000/v1 */
  base_url: z.string().url(),
  model: z.string(),
  /** Name of the environment variable holding the API key; the key itself is never written or logged. */
  api_key_env: z.string().optional(),
  /** Requests in flight at once to this endpoint. */
  concurrency: z.number().int().positive().default(64),
});

export const engineSchema = z.discriminatedUnion('type', [embeddedEngineSchema, openaiEngineSchema]);
export type EngineConfig = z.infer<typeof engineSchema>;
export type EmbeddedEngineConfig = z.infer<typeof embeddedEngineSchema>;
export type OpenAIEngineConfig = z.infer<typeof openaiEngineSchema>;

export const samplingSchema = z.strictObject({
  temperature: z.number().min(0).default(0.6),
  top_p: z.number().gt(0).max(1).default(0.95),
  max_tokens: z.number().int().positive().default(1024),
  seed: z.number().int().optional(),
  stop: z.array(z.string()).optional(),
});

const generateObject = z
  .strictObject({
    tasks: z.number().int().positive().default(1),
    /** Engines to pool. Defaults to the embedded engine, unless `endpoints_file` lists the engines. */
    engines: z.array(engineSchema).prefault([{ type: 'embedded' }]),
    /**
     * JSON file of OpenAI-compatible endpoints, written by `cosmo serve` (relative to the corpus file):
     * `{"endpoints": [{"base_url": "http://host:8000/v1", "model": "name", "concurrency": 64}]}`.
     * Its endpoints join `engines`. Read when generation starts.
     */
    endpoints_file: z.string().optional(),
    /** Seconds between checks of the endpoints file for new endpoints (servers started or restarted later); 0: never. */
    endpoints_refresh_s: z.number().nonnegative().default(10),
    params: samplingSchema.prefault({}),
    /** max_tokens per prompt format (e.g. `{story: 800}`); a prompt's own `max_tokens` wins over both. */
    max_tokens_by_format: z.record(z.string(), z.number().int().positive()).default({}),
    /** System message sent before each prompt. Cosmopedia sent a single user turn, so none by default. */
    system_prompt: z.string().optional(),
    /** Constrain every answer to this JSON schema (structured output). */
    json_schema: z.record(z.string(), z.unknown()).optional(),
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
    /**
     * Stop the task when this many prompts in a row fail for good (every engine down, say): the
     * finished samples are kept, and a rerun retries the failed ones.
     */
    max_consecutive_failures: z.number().int().positive().default(100),
  })
  .refine((g) => g.engines.length > 0 || g.endpoints_file !== undefined, {
    message: 'list at least one engine, or an endpoints_file',
    path: ['engines'],
  });

/** With an endpoints file and no `engines` key, the endpoints are the only engines. */
export const generateSchema = z.preprocess(
  (v) => (v && typeof v === 'object' && 'endpoints_file' in v && !('engines' in v) ? { ...v, engines: [] } : v),
  generateObject,
);
export type GenerateConfig = z.infer<typeof generateSchema>;

/** The endpoints file `cosmo serve` writes. */
export const endpointsFileSchema = z.strictObject({
  endpoints: z
    .array(
      z.strictObject({
        base_url: z.string().url(),
        model: z.string(),
        concurrency: z.number().int().positive().default(64),
        api_key_env: z.string().optional(),
      }),
    )
    .min(1, 'lists no endpoint'),
});
export type EndpointsFile = z.infer<typeof endpointsFileSchema>;

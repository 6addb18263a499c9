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
  /** Context size in tokens, shared by all sequences. */
  context_size: z.number().int().positive().default(4096),
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

export const generateSchema = z.strictObject({
  tasks: z.number().int().positive().default(1),
  engines: z.array(engineSchema).min(1).prefault([{ type: 'embedded' }]),
  params: samplingSchema.prefault({}),
});
export type GenerateConfig = z.infer<typeof generateSchema>;

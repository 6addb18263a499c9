import { z } from 'zod';
import { poolShape } from '../engines/config.js';
import { answerChecker } from './structured.js';

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
    ...poolShape,
    /** Engines to pool. Defaults to the embedded engine, unless `endpoints_file` lists the engines. */
    engines: poolShape.engines.prefault([{ type: 'embedded' }]),
    params: samplingSchema.prefault({}),
    /** max_tokens per prompt format (e.g. `{story: 800}`); a prompt's own `max_tokens` wins over both. */
    max_tokens_by_format: z.record(z.string(), z.number().int().positive()).default({}),
    /** System message sent before each prompt. Cosmopedia sent a single user turn, so none by default. */
    system_prompt: z.string().optional(),
    /**
     * Constrain every answer to this JSON schema (structured output). Every answer is also parsed
     * and checked against it; a valid one's object is the sample's `structured` field, and its
     * top-level properties become export columns.
     */
    json_schema: z.record(z.string(), z.unknown()).optional(),
    /** With json_schema: times an answer that is not JSON valid for the schema is asked for again; then the prompt fails for good. */
    json_retries: z.number().int().nonnegative().default(2),
    /** With json_schema: ask again with the invalid answer and what was wrong with it (costs its tokens again, as prompt), rather than the same question. */
    json_feedback: z.boolean().default(true),
    /**
     * Stop the task when this many prompts in a row fail for good (every engine down, say): the
     * finished samples are kept, and a rerun retries the failed ones.
     */
    max_consecutive_failures: z.number().int().positive().default(100),
    /**
     * Attempts one prompt may take over all runs. A rerun asks again for the prompts whose requests
     * failed (the server down, timeouts, 429s) until this is spent; failures that are the prompt's
     * fault (too long for the context, refused as a bad request) are final at once.
     */
    max_attempts_total: z.number().int().positive().default(18),
    /**
     * Dollars the generation may cost, answers already in the ledger included (prices per engine:
     * `engines[].price`, else the table of known hosted models). When the next request would pass
     * it, no new request starts; those in flight finish and are kept, and the run stops with an
     * error naming what was spent. Raise it and run again to go on. With several tasks, each gets
     * an equal share.
     */
    max_cost: z.number().positive().optional(),
    /** Stop with an error (exit code 1) when more than this share of the prompts failed; 1 never stops. */
    max_failed_share: z.number().min(0).max(1).default(0.01),
  })
  .refine((g) => g.engines.length > 0 || g.endpoints_file !== undefined, {
    message: 'list at least one engine, or an endpoints_file',
    path: ['engines'],
  })
  .superRefine((g, ctx) => {
    if (!g.json_schema) return;
    try {
      answerChecker(g.json_schema);
    } catch (err) {
      ctx.addIssue({ code: 'custom', path: ['json_schema'], message: (err as Error).message.replace(/^generate\.json_schema /, '') });
    }
  });

/** With an endpoints file and no `engines` key, the endpoints are the only engines. */
export const generateSchema = z.preprocess(
  (v) => (v && typeof v === 'object' && 'endpoints_file' in v && !('engines' in v) ? { ...v, engines: [] } : v),
  generateObject,
);
export type GenerateConfig = z.infer<typeof generateSchema>;

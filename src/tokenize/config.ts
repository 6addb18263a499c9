import { z } from 'zod';

export const TOKEN_FORMATS = ['datatrove', 'megatron'] as const;

export const tokenizeSchema = z.strictObject({
  /** Off unless asked for: tokenized shards are for a training run, and a tokenizer must be chosen. */
  enabled: z.boolean().default(false),
  /** A tokenizer.json, a folder with one, or a .gguf model; default: generate's embedded model (its tokenizer.json beside it, else its own vocabulary). */
  tokenizer: z.string().optional(),
  /** datatrove/nanotron's `.ds` + `.ds.index`, and/or Megatron's `.bin` + `.idx`. */
  formats: z.array(z.enum(TOKEN_FORMATS)).min(1).default(['datatrove']),
  /** The token written after every document, as text (default: the tokenizer's end-of-text token). */
  eos: z.string().optional(),
  /** Documents in a seeded random order within each task's files (datatrove's default), or in input order. */
  shuffle: z.boolean().default(true),
  tasks: z.number().int().positive().default(1),
  /** Start a new file after this many tokens (default: one file per task and format). */
  max_tokens_per_file: z.number().int().positive().optional(),
});
export type TokenizeConfig = z.infer<typeof tokenizeSchema>;

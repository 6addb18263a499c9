import { z } from 'zod';

export const mixSourceSchema = z.strictObject({
  /** Written in each row's `source` column. */
  name: z.string().regex(/^[\w.-]+$/, 'use letters, digits, dot, dash or underscore'),
  /** A JSONL(.gz) or Parquet file, or a folder of them (e.g. a FineWeb-Edu sample); absent: this corpus's own samples. */
  path: z.string().optional(),
  /** The field holding each row's text. */
  text_field: z.string().default('text'),
  /** This source's share of the mix's tokens; the weights are normalised. */
  weight: z.number().positive(),
  /** At most this many tokens from this source. */
  max_tokens: z.number().int().positive().optional(),
});
export type MixSource = z.infer<typeof mixSourceSchema>;

export const mixSchema = z
  .strictObject({
    /** Off unless asked for. */
    enabled: z.boolean().default(false),
    /** The corpus (the one source without `path`) and the real corpora to mix it with. */
    sources: z.array(mixSourceSchema).default([]),
    /** Tokens are counted with this tokenizer; default: tokenize's (the embedded model's). */
    tokenizer: z.string().optional(),
    /** At most this many tokens in the whole mix. */
    max_tokens: z.number().int().positive().optional(),
    /** Tasks; each mixes its share of every source at the configured ratios. */
    tasks: z.number().int().positive().default(1),
  })
  .superRefine((m, ctx) => {
    if (!m.enabled) return;
    if (m.sources.length < 2) ctx.addIssue({ code: 'custom', path: ['sources'], message: 'list at least two sources to mix: this corpus (a source without path) and a real one' });
    if (m.sources.filter((s) => !s.path).length > 1) ctx.addIssue({ code: 'custom', path: ['sources'], message: 'only one source can be this corpus (without path)' });
    const names = m.sources.map((s) => s.name);
    const twice = names.find((n, i) => names.indexOf(n) !== i);
    if (twice) ctx.addIssue({ code: 'custom', path: ['sources'], message: `source name "${twice}" is used twice` });
  });
export type MixConfig = z.infer<typeof mixSchema>;

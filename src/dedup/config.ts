import { z } from 'zod';

export const dedupSchema = z.strictObject({
  enabled: z.boolean().default(true),
  tasks: z.number().int().positive().default(1),
  /** Word n-gram size of the shingles. */
  ngram: z.number().int().positive().default(5),
  bands: z.number().int().positive().default(14),
  rows: z.number().int().positive().default(8),
  seed: z.number().int().default(1),
});
export type DedupConfig = z.infer<typeof dedupSchema>;

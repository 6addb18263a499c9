import { z } from 'zod';

export const filterSchema = z.strictObject({
  enabled: z.boolean().default(true),
  tasks: z.number().int().positive().default(1),
  /** Drop samples shorter than this many tokens (Cosmopedia kept >= 150). */
  min_tokens: z.number().int().nonnegative().default(150),
  /** Drop generations cut off by max_tokens. */
  drop_truncated: z.boolean().default(true),
});
export type FilterConfig = z.infer<typeof filterSchema>;

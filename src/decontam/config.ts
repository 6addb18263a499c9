import { z } from 'zod';

export const decontamSchema = z.strictObject({
  enabled: z.boolean().default(true),
  tasks: z.number().int().positive().default(1),
  /** Folder of benchmark files (ARC, MMLU, …); relative to the corpus file. */
  benchmarks_dir: z.string().optional(),
  ngram: z.number().int().positive().default(10),
  threshold: z.number().min(0).max(1).default(0.5),
  mode: z.enum(['drop', 'cut', 'cosmopedia']).default('drop'),
});
export type DecontamConfig = z.infer<typeof decontamSchema>;

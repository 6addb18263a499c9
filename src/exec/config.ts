import { z } from 'zod';

export const executorSchema = z.strictObject({
  type: z.enum(['local', 'slurm']).default('local'),
  /** Local executor: tasks run at once, each in its own worker process when above 1. */
  workers: z.number().int().positive().default(1),
});
export type ExecutorConfig = z.infer<typeof executorSchema>;

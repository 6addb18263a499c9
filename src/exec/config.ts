import { z } from 'zod';

/** Resources of the Slurm jobs a stage runs as. Every field maps to one sbatch option. */
export const slurmResourcesSchema = z.strictObject({
  /** --partition */
  partition: z.string().optional(),
  /** --time, e.g. "04:00:00" or "2-00:00:00" */
  time: z.string().optional(),
  /** --cpus-per-task */
  cpus_per_task: z.number().int().positive().optional(),
  /** --mem, e.g. "16G" */
  mem: z.string().optional(),
  /** --gres, e.g. "gpu:1" */
  gres: z.string().optional(),
  /** --account */
  account: z.string().optional(),
  /** --qos */
  qos: z.string().optional(),
  /** Array tasks of a stage running at once (the `%N` of --array); unlimited when absent. */
  max_parallel: z.number().int().positive().optional(),
  /** Any other sbatch options, written verbatim as `#SBATCH` lines, e.g. ["--exclusive"]. */
  sbatch_args: z.array(z.string()).optional(),
});
export type SlurmResources = z.infer<typeof slurmResourcesSchema>;

export const slurmSchema = z.strictObject({
  ...slurmResourcesSchema.shape,
  /** Per-stage overrides of the resources above, e.g. `generate: { gres: "gpu:1" }`. */
  stages: z.record(z.string(), slurmResourcesSchema).default({}),
  /** Prefix of every job name, so that `squeue` shows which corpus a job belongs to. */
  job_name: z.string().default('cosmo'),
  /** Seconds between two looks at the queue while waiting for jobs. */
  poll_seconds: z.number().positive().default(5),
  /** Commands run at the top of every job script, e.g. ["module load nodejs/20"]. */
  setup: z.array(z.string()).default([]),
});
export type SlurmConfig = z.infer<typeof slurmSchema>;

export const executorSchema = z.strictObject({
  type: z.enum(['local', 'slurm']).default('local'),
  /** Local executor: tasks run at once, one in this process and the others each in a worker process. */
  workers: z.number().int().positive().default(1),
  /** Slurm executor: one job array per stage, chained with --dependency=afterok. */
  slurm: slurmSchema.prefault({}),
});
export type ExecutorConfig = z.infer<typeof executorSchema>;

import { z } from 'zod';

export const SERVER_ENGINES = ['vllm', 'tgi', 'sglang', 'custom'] as const;
export type ServerEngine = (typeof SERVER_ENGINES)[number];

const count = z.number().int().positive();
/** A Slurm memory size: a number with an optional K/M/G/T unit. */
const memSize = z.string().regex(/^\d+[KMGT]?$/i, 'a Slurm memory size such as 64G');

/**
 * The corpus file's `serve:` section (`cosmo serve corpus.yaml`); every key has a command-line flag
 * of the same name that wins over it. Defaults are applied by `startServers`, so the library and
 * the file agree.
 */
export const serveSchema = z.strictObject({
  engine: z.enum(SERVER_ENGINES),
  /** Model to serve (Hub id or path), also the model name generate asks for. */
  model: z.string().min(1),
  instances: count.default(1),
  template: z.string().optional(),
  /** Default: generate.endpoints_file, else endpoints.json. */
  endpoints_file: z.string().optional(),
  dir: z.string().optional(),
  port: count.optional(),
  partition: z.string().optional(),
  /** Time limit per instance; default 24 h, or the partition's limit when that is shorter. */
  time: z.string().optional(),
  gpus_per_instance: z.number().int().min(0).optional(),
  /** CPUs and memory per GPU of an instance (default 8 CPUs, the cluster's default memory); scaled with gpus_per_instance. */
  cpus_per_gpu: count.optional(),
  mem_per_gpu: memSize.optional(),
  /** Fixed CPUs and memory per instance, in place of the per-GPU figures. */
  cpus_per_instance: count.optional(),
  mem: memSize.optional(),
  /** Model revision (branch, tag or commit) for the server to load. */
  revision: z.string().min(1).optional(),
  /** A Hugging Face cache folder on a filesystem every node sees (HF_HOME in the jobs), so N instances download a model once. */
  cache_dir: z.string().optional(),
  server_args: z.string().optional(),
  sbatch_args: z.array(z.string()).optional(),
  job_name: z.string().optional(),
  concurrency: count.optional(),
  min_ready: count.optional(),
  resubmits: z.number().int().min(0).optional(),
  /** Seconds; see ServeOptions. */
  heartbeat_stale: count.optional(),
  health_timeout: count.optional(),
});
export type ServeConfig = z.infer<typeof serveSchema>;

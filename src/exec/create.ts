import type { ExecutorConfig } from './config.js';
import type { Executor, ExecutorOptions } from './executor.js';
import { LocalExecutor } from './local.js';
import { SlurmExecutor } from './slurm.js';

/** The executor the corpus config names: the one place that knows which executors exist. */
export function createExecutor(cfg: ExecutorConfig, opts: ExecutorOptions): Executor {
  return cfg.type === 'slurm' ? new SlurmExecutor(cfg.slurm, opts) : new LocalExecutor(cfg.workers, opts);
}

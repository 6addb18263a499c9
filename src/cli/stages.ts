import type { Command } from 'commander';
import { runPipeline } from '../pipeline/run.js';
import { createLogger } from '../util/log.js';
import { addCommonOptions, configFromOptions, type CommonOptions } from './common.js';
import { printSummary } from './run.js';
import { withInterrupt } from './interrupt.js';

const STAGE_COMMANDS: Record<string, string> = {
  generate: 'generate a sample for every prompt, resuming after any crash',
  filter: 'drop short, truncated, repetitive or boilerplate samples (rejects kept with their reason)',
  dedup: 'remove exact and near-duplicate samples (MinHash LSH)',
  decontaminate: 'remove samples that contain benchmark items, with a per-benchmark report',
  export: 'write the dataset as Parquet / JSONL.gz shards with a dataset card',
};

/** `cosmo <stage> corpus.yaml`: run one stage alone, reading what earlier stages left on disk. */
export function registerStageCommands(program: Command): void {
  for (const [stage, description] of Object.entries(STAGE_COMMANDS)) {
    addCommonOptions(program.command(stage).description(description).argument('<corpus.yaml>', 'corpus file')).action(
      async (file: string, opts: CommonOptions) => {
        const cfg = configFromOptions(file, opts);
        const log = createLogger();
        const progress = process.stderr.isTTY ? 'bar' : 'lines';
        const results = await withInterrupt((signal) => runPipeline(cfg, { only: [stage], log, signal, skipBad: opts.skipBad, progress }));
        printSummary(results);
      },
    );
  }
}

import type { Command } from 'commander';
import { runPipeline } from '../pipeline/run.js';
import { createLogger } from '../util/log.js';
import { addCommonOptions, configFromOptions, type CommonOptions } from './common.js';
import { withInterrupt } from './interrupt.js';
import { printSummary } from './run.js';

/** `cosmo seeds corpus.yaml`: read every configured seed source into SeedRecord shards. */
export function registerSeeds(program: Command): void {
  addCommonOptions(
    program
      .command('seeds')
      .description('read the seed sources (web, openstax, course, wikihow, instruct, math, kb, outline) into seed shards')
      .argument('<corpus.yaml>', 'corpus file'),
  ).action(async (file: string, opts: CommonOptions) => {
    const cfg = configFromOptions(file, opts);
    const results = await withInterrupt((signal) =>
      runPipeline(cfg, { only: ['seeds'], log: createLogger(), signal, skipBad: opts.skipBad, progress: 'none' }),
    );
    printSummary(results);
  });
}

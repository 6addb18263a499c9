import { join } from 'node:path';
import type { Command } from 'commander';
import { writeJsonAtomic } from '../io/atomic.js';
import { runPipeline, stageDir } from '../pipeline/run.js';
import { promptStatsOfDir, formatPromptStats } from '../prompts/stats.js';
import { createLogger } from '../util/log.js';
import { addCommonOptions, configFromOptions, type CommonOptions } from './common.js';
import { withInterrupt } from './interrupt.js';
import { printSummary } from './run.js';

/** `cosmo prompts corpus.yaml [--stats]`: build the prompts (loading the seeds first if needed). */
export function registerPrompts(program: Command): void {
  addCommonOptions(
    program
      .command('prompts')
      .description('build the prompts from the seeds (runs the seeds stage first when it has not run)')
      .argument('<corpus.yaml>', 'corpus file')
      .option('--stats', 'print and write the distribution of sources, formats, audiences, languages and templates'),
  ).action(async (file: string, opts: CommonOptions & { stats?: boolean }) => {
    const cfg = configFromOptions(file, opts);
    const results = await withInterrupt((signal) =>
      runPipeline(cfg, { only: ['seeds', 'prompts'], log: createLogger(), signal, skipBad: opts.skipBad, progress: 'none' }),
    );
    printSummary(results);
    if (opts.stats) {
      const dir = stageDir(cfg, 'prompts');
      const stats = await promptStatsOfDir(dir);
      await writeJsonAtomic(join(dir, 'distribution.json'), stats);
      process.stdout.write(`\n${formatPromptStats(stats)}\n\nwritten: ${join(dir, 'distribution.json')}\n`);
    }
  });
}

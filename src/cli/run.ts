import type { Command } from 'commander';
import type { StageResult } from '../pipeline/run.js';
import { createLogger } from '../util/log.js';
import { addCommonOptions, configFromOptions, type CommonOptions } from './common.js';
import { withInterrupt } from './interrupt.js';

export function registerRun(program: Command): void {
  addCommonOptions(
    program
      .command('run')
      .description('run the whole pipeline described by a corpus file, resuming whatever is unfinished')
      .argument('<corpus.yaml>', 'corpus file')
      .option('--dry-run', 'build the prompts and print what would be generated, without generating')
      .option('--tps <n>', 'tokens/s to estimate the dry run\'s generation time with', '100'),
  ).action(async (file: string, opts: CommonOptions & { dryRun?: boolean; tps: string }) => {
    const cfg = await configFromOptions(file, opts);
    const log = createLogger();
    if (opts.dryRun) {
      const { dryRun, formatDryRun } = await import('../pipeline/dry-run.js');
      const report = await withInterrupt((signal) =>
        dryRun(cfg, { log, signal, tokensPerSecond: Number(opts.tps) || 100, skipBad: opts.skipBad }),
      );
      process.stdout.write(formatDryRun(report) + '\n');
      return;
    }
    const { runPipeline } = await import('../pipeline/run.js');
    const results = await withInterrupt((signal) =>
      runPipeline(cfg, { log, signal, skipBad: opts.skipBad, progress: process.stderr.isTTY ? 'bar' : 'lines' }),
    );
    printSummary(results);
  });
}

/** The end-of-run summary: each stage's counters and time, samples, this run's speed, where the dataset is. */
export function printSummary(results: StageResult[]): void {
  const gen = results.find((r) => r.stage === 'generate');
  const exp = results.find((r) => r.stage === 'export');
  const lines: string[] = ['', 'cosmo: done'];
  for (const r of results) {
    const counters = Object.entries(r.stats.counters)
      .map(([k, v]) => `${k}=${v}`)
      .join(' ');
    const time = r.skipped === r.tasks ? '   done before' : `${(r.duration_ms / 1000).toFixed(1).padStart(7)}s`;
    lines.push(`  ${r.stage.padEnd(16)} ${time}  ${counters}`);
  }
  if (gen) {
    const c = gen.stats.counters;
    // Speed counts only what this run generated, over this run's time: a resumed run is not faster for it.
    const fresh = gen.fresh.counters.generated_tokens ?? 0;
    const secs = gen.duration_ms / 1000;
    const speed = secs > 0 && fresh > 0 ? `   this run: ${fresh} tokens at ${(fresh / secs).toFixed(1)} tokens/s` : '';
    lines.push(`  samples: ${c.samples ?? 0} (${c.failed ?? 0} failed)   tokens: ${c.completion_tokens ?? 0}${speed}`);
  }
  if (exp) lines.push(`  dataset: ${exp.outputDir}`);
  process.stdout.write(lines.join('\n') + '\n');
}

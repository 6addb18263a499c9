import { join } from 'node:path';
import type { Command } from 'commander';
import { writeJsonAtomic } from '../io/atomic.js';
import { REGISTRY } from '../pipeline/registry.js';
import { runPipeline, stageDir } from '../pipeline/run.js';
import { formatPromptStats, promptStatsOfDir } from '../prompts/stats.js';
import { createLogger } from '../util/log.js';
import { addCommonOptions, configFromOptions, type CommonOptions } from './common.js';
import { withInterrupt } from './interrupt.js';
import { printSummary } from './run.js';

/** `cosmo prompts` builds the seeds first when they are missing: both are quick and deterministic. */
const ALSO_RUNS: Record<string, string[]> = { prompts: ['seeds'] };

/** Stages whose command is written by hand, because it does more (cli/cluster.ts: also clusters any files). */
const OWN_COMMAND = new Set(['cluster']);

/** `cosmo <stage> corpus.yaml` for every stage of the registry: that stage alone, reading what earlier stages left on disk. */
export function registerStageCommands(program: Command): void {
  for (const def of REGISTRY) {
    if (!def.description || OWN_COMMAND.has(def.name)) continue;
    const cmd = addCommonOptions(program.command(def.name).description(def.description).argument('<corpus.yaml>', 'corpus file'));
    if (def.name === 'prompts') cmd.option('--stats', 'print and write the distribution of sources, formats, audiences, languages and templates');
    if (def.name === 'mix') cmd.option('--max-tokens <n>', 'at most this many tokens in the mix (mix.max_tokens)');
    cmd.action(async (file: string, opts: CommonOptions & { stats?: boolean; maxTokens?: string }) => {
      const cfg = await configFromOptions(file, opts, (raw) => {
        // Checked with the rest of the file: a bad number is named as mix.max_tokens.
        if (opts.maxTokens !== undefined) raw.mix = { ...(raw.mix as object), max_tokens: Number(opts.maxTokens) };
      });
      const progress = process.stderr.isTTY ? 'bar' : 'lines';
      const only = [...(ALSO_RUNS[def.name] ?? []), def.name];
      const results = await withInterrupt((signal) => runPipeline(cfg, { only, log: createLogger(), signal, skipBad: opts.skipBad, progress }));
      printSummary(results);
      if (opts.stats) {
        const dir = stageDir(cfg, 'prompts');
        const stats = await promptStatsOfDir(dir);
        await writeJsonAtomic(join(dir, 'distribution.json'), stats);
        process.stdout.write(`\n${formatPromptStats(stats)}\n\nwritten: ${join(dir, 'distribution.json')}\n`);
      }
    });
  }
}

import type { Command } from 'commander';
import { createLogger } from '../util/log.js';
import { addCommonOptions, configFromOptions, fromHere, positiveInt, type CommonOptions } from './common.js';
import { withInterrupt } from './interrupt.js';

/** `cosmo pilot corpus.yaml --per-template N`: a few samples per template × audience, ranked by what is wrong with them. */
export function registerPilot(program: Command): void {
  addCommonOptions(
    program
      .command('pilot')
      .description('generate N samples for every template × audience cell in a separate folder and rank the cells: repeated openings, near-duplicates, length, cut by max_tokens, filter drops')
      .argument('<corpus.yaml>', 'corpus file')
      .option('--per-template <n>', 'samples per template × audience cell', '20'),
  ).action(async (file: string, o: CommonOptions & { perTemplate: string }) => {
    const perCell = positiveInt('--per-template', o.perTemplate);
    // Its own folder beside the corpus's (or --output), started afresh: a pilot is for trying prompts again.
    const [{ loadConfig }, { pilotTable, runPilot }] = await Promise.all([import('../pipeline/corpus.js'), import('../pilot/pilot.js')]);
    const output = o.output ? fromHere(o.output) : `${loadConfig(file).output_dir}-pilot`;
    const cfg = await configFromOptions(file, { ...o, output: undefined }, (raw) => {
      raw.output = output;
    });
    const r = await withInterrupt((signal) => runPilot(cfg, { perCell, log: createLogger('pilot'), signal, fresh: true }));
    process.stdout.write(`\n${pilotTable(r.cells)}\ncosmo pilot: ${r.cells.length} cells, worst first; ${r.dir}/pilot.md and pilot.json\n`);
  });
}

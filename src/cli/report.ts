import type { Command } from 'commander';
import { resolve } from 'node:path';

/** `cosmo report OUT_DIR` or `cosmo report FILES...`: one self-contained HTML page and its numbers. */
export function registerReport(program: Command): void {
  program
    .command('report')
    .description('write report.html (distributions, lengths, openings, diversity, near-duplicates per template, cleaning, generation) and report.json for a corpus output folder or any Parquet / JSONL files')
    .argument('<paths...>', 'a corpus output folder (works on a partial run), or dataset files and folders')
    .option('--out <dir>', "where to write report.html and report.json (default: the output folder's report/, else ./report)")
    .option('--title <text>', 'the page title')
    .option('--json', 'also print the numbers as JSON')
    .action(async (paths: string[], o: { out?: string; title?: string; json?: boolean }) => {
      const { writeReport } = await import('../report/report.js');
      const r = await writeReport(paths, { out: o.out && resolve(o.out), title: o.title });
      if (o.json) process.stdout.write(`${JSON.stringify(r.data, null, 2)}\n`);
      process.stdout.write(`cosmo report: ${r.data.rows.toLocaleString('en-US')} samples from ${r.data.source}: ${r.html} (numbers: ${r.json})\n`);
    });
}

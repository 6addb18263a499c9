import { statSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { CosmoError } from '../util/errors.js';
import { createLogger } from '../util/log.js';

interface Options {
  benchmarks?: string;
  only?: string;
  extra: string[];
  items: string[];
  field: string;
  mode: string;
  ngram?: string;
  threshold?: string;
  matches?: string;
  json?: boolean;
  skipBad?: boolean;
  threads?: string;
}

/** `cosmo contamination <files...>`: how contaminated any dataset is, without a corpus file. */
export function registerContamination(program: Command): void {
  program
    .command('contamination')
    .description('check JSONL / Parquet files (or folders of them) against benchmark files and print the per-benchmark report')
    .argument('<paths...>', 'data files or folders')
    .option('--benchmarks <dir>', 'folder of benchmark files (ARC, MMLU, HellaSwag, …)')
    .option('--only <names>', 'comma-separated benchmarks of the folder to use, e.g. mmlu,gsm8k')
    .option('--extra <file>', 'an extra benchmark file (JSONL with a "text" field); repeatable', (v: string, acc: string[]) => [...acc, v], [])
    .option('--items <file>', 'prebuilt item texts: JSONL with "text" and "task_name", as Cosmopedia\'s eval dataset; repeatable', (v: string, acc: string[]) => [...acc, v], [])
    .option('--field <name>', 'record field holding the text', 'text')
    .option('--mode <mode>', 'drop (every candidate) or cosmopedia (the reference algorithm)', 'drop')
    .option('--ngram <n>', 'words per n-gram (default 10)')
    .option('--threshold <x>', 'overlap score above which a sample is contaminated (default 0.5)')
    .option('--matches <file.jsonl>', 'also write every contaminated record with what it matched')
    .option('--json', 'print the report as JSON rather than Markdown')
    .option('--skip-bad', 'skip malformed input lines instead of stopping')
    .option('--threads <n>', 'worker threads checking samples (default: none under 24 MiB of input, else the cores, at most 4)')
    .action(async (paths: string[], opts: Options) => {
      if (!opts.benchmarks && opts.extra.length === 0 && opts.items.length === 0)
        throw new CosmoError('contamination: give --benchmarks <dir>, --extra <file> or --items <file>');
      if (opts.mode === 'cut') throw new CosmoError('contamination: cut mode rewrites samples; use it through the decontaminate stage');
      const [{ decontamSchema }, { buildDecontaminator }, { cacheWritten }, { reportMarkdown }, { dataFiles, scanFiles }, { autoThreads }, { JsonlWriter }, { ByteProgress }] = await Promise.all([
        import('../decontaminate/config.js'),
        import('../decontaminate/load.js'),
        import('../decontaminate/cache.js'),
        import('../decontaminate/report.js'),
        import('../decontaminate/scan.js'),
        import('../decontaminate/check-pool.js'),
        import('../io/jsonl-writer.js'),
        import('../util/byte-progress.js'),
      ]);
      const inputBytes = dataFiles(paths.map((p) => resolve(p))).reduce((n, f) => n + (statSync(f, { throwIfNoEntry: false })?.size ?? 0), 0);
      const parsed = decontamSchema.safeParse({
        benchmarks_dir: opts.benchmarks,
        benchmarks: opts.only?.split(',').map((s) => s.trim()),
        extra: opts.extra,
        items: opts.items,
        mode: opts.mode,
        ...(opts.ngram ? { ngram: Number(opts.ngram) } : {}),
        ...(opts.threshold ? { threshold: Number(opts.threshold) } : {}),
        ...(opts.threads !== undefined ? { threads: Number(opts.threads) } : {}),
      });
      if (!parsed.success) throw new CosmoError(`contamination: ${parsed.error.issues.map((i) => `--${String(i.path[0])}: ${i.message}`).join('; ')}`);
      const log = createLogger('contamination');
      const dc = await buildDecontaminator(parsed.data, undefined, log);
      const out = opts.matches ? await JsonlWriter.open(resolve(opts.matches)) : undefined;
      // A bar on a terminal, else a line every 10 s and one at the end (on stderr: the report is stdout's).
      const progress = new ByteProgress('contamination', inputBytes, { log, doing: 'progress', field: 'task', counting: 'samples' });
      try {
        const { report } = await scanFiles(
          paths.map((p) => resolve(p)),
          dc,
          {
            field: opts.field,
            skipBad: opts.skipBad,
            threads: parsed.data.threads ?? autoThreads(inputBytes, 1),
            progress,
            onContaminated: (record, outcome, file) => out?.write({ file, ...record, decontam: outcome.decontam }),
          },
        );
        progress.stop();
        await out?.commit();
        await cacheWritten();
        process.stdout.write(opts.json ? JSON.stringify(report, null, 2) + '\n' : reportMarkdown(report));
      } catch (err) {
        progress.stop();
        await out?.abort();
        throw err;
      }
    });
}

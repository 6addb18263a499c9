import { statSync } from 'node:fs';
import { Stats } from '../exec/stats.js';
import { badLine, readJsonl, type ReadOptions } from '../io/jsonl.js';
import { listShards, readRecords } from '../io/shards.js';
import { NO_PROGRESS, type ProgressSink } from '../util/byte-progress.js';
import { CosmoError, InputError } from '../util/errors.js';
import type { Decontaminator } from './decontaminator.js';
import { checkOnPool, CheckPool, jsonlOnPool } from './check-pool.js';
import { Tally, type Outcome } from './outcome.js';
import { buildReport, type DecontamReport } from './report.js';

export interface ScanOptions {
  /** The record field holding the text to check. */
  field: string;
  skipBad?: boolean;
  /** Check on these worker threads (0 or absent: on this thread). */
  threads?: number;
  /** Hears of the bytes read and the samples checked, for progress. */
  progress?: ProgressSink;
  /** Called for every sample that is removed or cut. */
  onContaminated?: (record: Record<string, unknown>, outcome: Exclude<Outcome, { kind: 'kept' }>, file: string) => void | Promise<void>;
}

/** The data files of these paths: files as they are, folders by their shards. */
export const dataFiles = (paths: readonly string[]): string[] =>
  paths.flatMap((p) => (statSync(p, { throwIfNoEntry: false })?.isDirectory() ? listShards(p) : [p]));

/**
 * Check the records of arbitrary files (JSONL, JSONL.gz, Parquet, or folders of them) against an
 * index and report per benchmark, without a corpus: to measure a dataset's contamination.
 */
export async function scanFiles(paths: readonly string[], dc: Decontaminator, opts: ScanOptions): Promise<{ report: DecontamReport; stats: Stats }> {
  const files = dataFiles(paths);
  if (files.length === 0) throw new CosmoError(`no data files in ${paths.join(', ')}`);
  const stats = new Stats();
  const tally = new Tally(dc, stats);
  const { field } = opts;
  const progress = opts.progress ?? NO_PROGRESS;
  const noField = (file: string, line: number | undefined) => new InputError(file, line, `no string field "${field}" (choose another with --field)`);
  async function* records(of: string[]): AsyncGenerator<{ record: Record<string, unknown>; text: string; file: string }> {
    for (const file of of) {
      for await (const { line, record } of rows(file, { skipBad: opts.skipBad, onBad: () => stats.inc('bad_lines'), onBytes: (n) => progress.add(n) })) {
        const text = record[field];
        if (typeof text !== 'string') throw noField(file, line);
        yield { record, text, file };
      }
    }
  }
  const report = async (r: { record: Record<string, unknown>; file: string }, outcome: Outcome) => {
    progress.add(0, 1);
    if (outcome.kind !== 'kept') await opts.onContaminated?.(r.record, outcome, r.file);
  };
  if (opts.threads) {
    const pool = new CheckPool(dc, opts.threads);
    const signal = new AbortController().signal;
    const readOpts: ReadOptions = { skipBad: opts.skipBad, onBad: () => stats.inc('bad_lines') };
    try {
      for (const file of files) {
        if (file.endsWith('.parquet') || file.endsWith('.gz')) {
          await checkOnPool(records([file]), pool, signal, (r, judged) => report(r, tally.count(judged)));
          continue;
        }
        // Plain JSONL: the workers decode and parse it too; lines are numbered here, in order.
        await jsonlOnPool([file], pool, signal, (bytes) => pool.checkLines(bytes, field), async (_file, first, { rows }, bytes) => {
          progress.add(bytes);
          for (const row of rows) {
            const line = first + row.index;
            if (row.bad) badLine(file, line, row.bad, readOpts);
            else if (row.noField) throw noField(file, line);
            else await report({ record: row.record!, file }, tally.count(row.judged!));
          }
        });
      }
    } finally {
      await pool.close();
    }
  } else for await (const r of records(files)) await report(r, tally.check(r.text));
  const o = dc.options;
  return { report: buildReport({ mode: o.mode, ngram: o.ngram, threshold: o.threshold }, stats, tally.matched, dc.summary), stats };
}

/** Records with their line (JSONL) or row number (Parquet, where errors name no line). */
async function* rows(file: string, opts: ReadOptions): AsyncGenerator<{ line: number | undefined; record: Record<string, unknown> }> {
  if (!file.endsWith('.parquet')) {
    for await (const { line, value } of readJsonl<Record<string, unknown>>(file, opts)) yield { line, record: value };
    return;
  }
  for await (const record of readRecords<Record<string, unknown>>(file, opts)) yield { line: undefined, record };
}

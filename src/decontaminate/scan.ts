import { statSync } from 'node:fs';
import { Stats } from '../exec/stats.js';
import { readJsonl, type ReadOptions } from '../io/jsonl.js';
import { listShards, readRecords } from '../io/shards.js';
import { CosmoError, InputError } from '../util/errors.js';
import type { Decontaminator } from './decontaminator.js';
import { Tally, type Outcome } from './outcome.js';
import { buildReport, type DecontamReport } from './report.js';

export interface ScanOptions {
  /** The record field holding the text to check. */
  field: string;
  skipBad?: boolean;
  /** Called for every sample that is removed or cut. */
  onContaminated?: (record: Record<string, unknown>, outcome: Exclude<Outcome, { kind: 'kept' }>, file: string) => void | Promise<void>;
}

/**
 * Check the records of arbitrary files (JSONL, JSONL.gz, Parquet, or folders of them) against an
 * index and report per benchmark, without a corpus: to measure a dataset's contamination.
 */
export async function scanFiles(paths: readonly string[], dc: Decontaminator, opts: ScanOptions): Promise<{ report: DecontamReport; stats: Stats }> {
  const files = paths.flatMap((p) => (statSync(p, { throwIfNoEntry: false })?.isDirectory() ? listShards(p) : [p]));
  if (files.length === 0) throw new CosmoError(`no data files in ${paths.join(', ')}`);
  const stats = new Stats();
  const tally = new Tally(dc, stats);
  for (const file of files) {
    for await (const { line, record } of rows(file, { skipBad: opts.skipBad, onBad: () => stats.inc('bad_lines') })) {
      const text = record[opts.field];
      if (typeof text !== 'string') throw new InputError(file, line, `no string field "${opts.field}" (choose another with --field)`);
      const outcome = tally.check(text);
      if (outcome.kind !== 'kept') await opts.onContaminated?.(record, outcome, file);
    }
  }
  const o = dc.options;
  return { report: buildReport({ mode: o.mode, ngram: o.ngram, threshold: o.threshold }, stats, tally.matched, dc.summary), stats };
}

/** Records with their line (JSONL) or row number (Parquet, where errors name no line). */
async function* rows(file: string, opts: ReadOptions): AsyncGenerator<{ line: number | undefined; record: Record<string, unknown> }> {
  if (!file.endsWith('.parquet')) {
    for await (const { line, value } of readJsonl<Record<string, unknown>>(file, opts)) yield { line, record: value };
    return;
  }
  for await (const record of readRecords<Record<string, unknown>>(file)) yield { line: undefined, record };
}

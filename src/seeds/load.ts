import { statSync } from 'node:fs';
import { basename } from 'node:path';
import type { SeedRecord } from '../records/types.js';
import { InputError } from '../util/errors.js';
import { listShards } from '../io/shards.js';
import { BadRow, createAdapter, field, seedId } from './adapters.js';
import type { SeedSourceConfig } from './config.js';
import { readSeedRows } from './read.js';

export interface LoadSeedsOptions {
  /** Skip bad rows (counting them) instead of stopping at the first. */
  skipBad?: boolean;
  /** Called for every bad row that was skipped. */
  onBad?: (file: string, line: number, reason: string) => void;
  /** Called for counters worth reporting: rows, filtered (by `match`), rows_without_seed (empty texts, front matter, failed generations), duplicates. */
  count?: (name: string, n?: number) => void;
}

/** A source's name: configured, or the file (folder) name without extension. */
export const sourceName = (src: SeedSourceConfig) => src.name ?? basename(src.path).replace(/(\.(jsonl|json|parquet|csv|txt|yaml|yml))?(\.gz)?$/, '');

/**
 * The SeedRecords of one configured source, read from `path` (already resolved). Rows are adapted by the
 * source's kind, filtered by `match`, given their topic, deduplicated exactly and cut at `limit`.
 */
export async function* loadSeeds(src: SeedSourceConfig, path: string, opts: LoadSeedsOptions = {}): AsyncGenerator<SeedRecord> {
  const adapter = createAdapter(src);
  const source = sourceName(src);
  const match = Object.entries(src.match ?? {}).map(([k, re]) => [k, new RegExp(re)] as const);
  const seen = new Set<string>();
  const count = opts.count ?? (() => {});
  let produced = 0;
  // Generated samples (the outline chain) live in a stage folder beside markers and ledgers: read its shards only.
  const files = src.kind === 'outline' && statSync(path, { throwIfNoEntry: false })?.isDirectory() ? listShards(path) : [path];
  for (const file of files) {
    for await (const row of readSeedRows(file, { format: src.format, skipBad: opts.skipBad, onBad: opts.onBad })) {
      count('rows');
      if (match.length && !match.every(([k, re]) => re.test(asText(field(row.value, k))))) {
        count('filtered');
        continue;
      }
      let drafts;
      try {
        drafts = adapter.push(row.value);
      } catch (err) {
        if (!(err instanceof BadRow)) throw err;
        if (!opts.skipBad) throw new InputError(row.file, row.line, `${err.message}; pass --skip-bad to skip and count bad rows`);
        opts.onBad?.(row.file, row.line, err.message);
        continue;
      }
      // An empty document, a book's front matter, a failed generation: nothing to seed from.
      if (drafts.length === 0) count('rows_without_seed');
      for (const draft of drafts) {
        if (src.topic_field) {
          const topic = asText(field(row.value, src.topic_field)).trim();
          if (topic) draft.meta.topic = topic;
        }
        const id = seedId(source, adapter.kind, draft);
        if (seen.has(id)) {
          count('duplicates');
          continue;
        }
        seen.add(id);
        yield { id, text: draft.text, source, kind: adapter.kind, meta: draft.meta };
        if (src.limit !== undefined && ++produced >= src.limit) return;
      }
    }
  }
}

const asText = (v: unknown): string => (typeof v === 'string' ? v : Array.isArray(v) ? v.map(String).join(' ') : v === undefined || v === null ? '' : String(v));

import { existsSync, readdirSync, rmSync } from 'node:fs';
import { basename, join } from 'node:path';
import { writeJsonAtomic } from '../io/atomic.js';
import type { Logger } from '../util/log.js';
import type { KnowledgeConfig } from './config.js';
import { chunk, readDocuments } from './documents.js';
import { MANIFEST, type Manifest } from './search.js';
import { SegmentBuilder } from './segment.js';

/** A segment folder's name: the task that wrote it and its number within the task. */
const SEGMENT = /^seg-(\d+)-(\d+)$/;

export interface IndexCounts {
  files: number;
  documents: number;
  empty_documents: number;
  passages: number;
  segments: number;
  bad_lines: number;
}

/**
 * Index task `rank`'s knowledge files into segments `seg-<rank>-<n>` of `dir`, one every
 * `segment_passages` passages. Segments (finished or half-written) that an earlier, killed attempt
 * of the task left are removed first: a task's work is all or nothing, and its runner marks it done
 * only when this returns.
 */
export async function indexFiles(
  files: string[],
  cfg: KnowledgeConfig,
  dir: string,
  rank: number,
  opts: { log?: Logger; signal?: AbortSignal; skipBad?: boolean; onBad?: (file: string, line: number, reason: string) => void } = {},
): Promise<IndexCounts> {
  for (const name of existsSync(dir) ? readdirSync(dir) : []) {
    const m = /^seg-(\d+)-\d+(?:\.tmp-\d+)?$/.exec(name);
    if (m && Number(m[1]) === rank) rmSync(join(dir, name), { recursive: true, force: true });
  }
  const counts: IndexCounts = { files: 0, documents: 0, empty_documents: 0, passages: 0, segments: 0, bad_lines: 0 };
  let builder = new SegmentBuilder();
  const flush = async () => {
    if (builder.passages === 0) return;
    const meta = await builder.write(join(dir, `seg-${rank}-${counts.segments++}`));
    opts.log?.info('segment written', { segment: counts.segments - 1, passages: meta.passages, terms: meta.terms, postings: meta.postings });
    builder = new SegmentBuilder();
  };
  for (const file of files) {
    const onBad = (line: number, reason: string) => {
      counts.bad_lines++;
      opts.onBad?.(file, line, reason);
    };
    for await (const doc of readDocuments(file, cfg, { skipBad: opts.skipBad, onBad })) {
      opts.signal?.throwIfAborted();
      counts.documents++;
      let n = 0;
      for (const p of chunk(doc, cfg.passage_words, cfg.overlap_words)) {
        builder.add(p);
        n++;
        if (builder.passages >= cfg.segment_passages) await flush();
      }
      if (n === 0) counts.empty_documents++;
      counts.passages += n;
    }
    counts.files++;
  }
  await flush();
  return counts;
}

/** Name every finished segment of tasks below `cfg.tasks` in the manifest: the index is ready once this is written. */
export async function writeManifest(dir: string, cfg: KnowledgeConfig, counts: { documents: number; passages: number }, files: string[]): Promise<Manifest> {
  const segments = readdirSync(dir)
    .map((name) => [name, SEGMENT.exec(name)] as const)
    .filter((x): x is readonly [string, RegExpExecArray] => !!x[1] && Number(x[1][1]) < cfg.tasks)
    .sort(([, a], [, b]) => Number(a[1]) - Number(b[1]) || Number(a[2]) - Number(b[2]))
    .map(([name]) => name);
  const manifest: Manifest = { segments, documents: counts.documents, passages: counts.passages, files: files.map((f) => basename(f)), passage_words: cfg.passage_words };
  await writeJsonAtomic(join(dir, MANIFEST), manifest);
  return manifest;
}

import { basename } from 'node:path';
import { dataFiles } from '../io/files.js';
import { badLine, readJsonl, readLines, type BadLine } from '../io/jsonl.js';
import { readParquet } from '../io/parquet.js';
import { CosmoError } from '../util/errors.js';
import type { KnowledgeConfig } from './config.js';
import type { Passage } from './segment.js';

/** The knowledge files of a config, in a stable order (folders expanded). */
export function knowledgeFiles(cfg: KnowledgeConfig, resolve: (p: string) => string): string[] {
  const paths = cfg.files === undefined ? [] : typeof cfg.files === 'string' ? [cfg.files] : cfg.files;
  return paths.flatMap((p) => dataFiles(resolve(p), 'knowledge'));
}

function formatOf(file: string): 'jsonl' | 'parquet' | 'text' {
  const name = file.toLowerCase().replace(/\.gz$/, '');
  if (/\.(jsonl|ndjson)$/.test(name)) return 'jsonl';
  if (name.endsWith('.parquet')) return 'parquet';
  if (/\.(txt|text)$/.test(name)) return 'text';
  throw new CosmoError(`${file}: a knowledge file must be JSONL(.gz), Parquet or plain text (.txt, one document a line)`);
}

export interface Document {
  id: string;
  title: string;
  text: string;
  source: string;
}

/** A field's text: a string, or a list's strings joined by blank lines; else undefined. */
function fieldText(value: unknown): string | undefined {
  if (value === undefined || value === null) return '';
  if (typeof value === 'string') return value;
  if (typeof value === 'number') return String(value);
  if (Array.isArray(value) && value.every((v) => typeof v === 'string')) return value.join('\n\n');
  return undefined;
}

/** Fields' texts joined by `sep`, or why one is not text. */
function joined(row: Record<string, unknown>, fields: string[], sep: string): { text: string } | { bad: string } {
  const parts: string[] = [];
  for (const f of fields) {
    const t = fieldText(row[f]);
    if (t === undefined) return { bad: `field "${f}" should be text or a list of texts, got ${Array.isArray(row[f]) ? 'a mixed list' : typeof row[f]}` };
    if (t.trim()) parts.push(t);
  }
  return { text: parts.join(sep) };
}

/** The documents of one knowledge file. Rows without text are skipped and counted by the caller (`empty`). */
export async function* readDocuments(file: string, cfg: KnowledgeConfig, opts: { skipBad?: boolean; onBad?: (line: number, reason: string) => void } = {}): AsyncGenerator<Document> {
  const source = basename(file);
  const list = (f: string | string[]) => (typeof f === 'string' ? [f] : f);
  const fields = list(cfg.text_field);
  const titles = list(cfg.title_field);
  const format = formatOf(file);
  if (format === 'text') {
    for await (const { line, text } of readLines(file)) yield { id: `${source}:${line}`, title: '', text, source };
    return;
  }
  const readOpts = { skipBad: opts.skipBad, onBad: (b: BadLine) => opts.onBad?.(b.line, b.reason) };
  const rows: AsyncIterable<{ line: number; value: Record<string, unknown> }> =
    format === 'jsonl'
      ? readJsonl(file, readOpts)
      : (async function* () {
          let line = 0;
          for await (const value of readParquet(file)) yield { line: ++line, value };
        })();
  for await (const { line, value } of rows) {
    const text = joined(value, fields, '\n\n');
    const title = joined(value, titles, ': ');
    if ('bad' in text || 'bad' in title) {
      badLine(file, line, 'bad' in text ? text.bad : (title as { bad: string }).bad, readOpts);
      continue;
    }
    const id = cfg.id_field !== undefined && value[cfg.id_field] !== undefined ? String(value[cfg.id_field]) : `${source}:${line}`;
    yield { id, title: title.text, text: text.text, source };
  }
}

/** Whether a character code is white space (ASCII, no-break and the Unicode spaces up to U+3000). */
const isSpace = (c: number) => c === 32 || (c >= 9 && c <= 13) || c === 0xa0 || (c >= 0x2000 && c <= 0x200a) || c === 0x2028 || c === 0x2029 || c === 0x3000 || c === 0x1680 || c === 0x202f || c === 0x205f;

/** Whether the word ending before `end` ends a sentence: ".", "!" or "?", maybe followed by a closing quote or bracket. */
function endsSentence(text: string, end: number): boolean {
  let c = text.charCodeAt(end - 1);
  if (c === 34 || c === 39 || c === 41 || c === 93 || c === 0x201d || c === 0x2019) c = text.charCodeAt(end - 2);
  return c === 46 || c === 33 || c === 63;
}

/**
 * A document cut into passages of `words` words, each sharing `overlap` words with the one before.
 * A passage ends at a sentence end when one falls in its last quarter, so passages rarely stop
 * mid-sentence. Passages are slices of the text, its own spacing kept.
 */
export function* chunk(doc: Document, words: number, overlap: number): Generator<Passage> {
  const { text } = doc;
  const starts: number[] = [];
  const ends: number[] = [];
  for (let i = 0; i < text.length; ) {
    while (i < text.length && isSpace(text.charCodeAt(i))) i++;
    if (i >= text.length) break;
    starts.push(i);
    while (i < text.length && !isSpace(text.charCodeAt(i))) i++;
    ends.push(i);
  }
  const count = starts.length;
  let n = 0;
  for (let start = 0; start < count; ) {
    let end = Math.min(count, start + words);
    if (end < count) {
      for (let e = end; e > start + Math.floor((words * 3) / 4); e--) {
        if (endsSentence(text, ends[e - 1]!)) {
          end = e;
          break;
        }
      }
    }
    yield { id: `${doc.id}#${n++}`, title: doc.title, text: text.slice(starts[start]!, ends[end - 1]!), source: doc.source };
    if (end >= count) break;
    start = Math.max(start + 1, end - overlap);
  }
}

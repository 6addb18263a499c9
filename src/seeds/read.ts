import { readFileSync } from 'node:fs';
import { extname } from 'node:path';
import { LineCounter, parseDocument, isSeq, isNode } from 'yaml';
import { dataFiles } from '../io/files.js';
import { readJsonl, readLines } from '../io/jsonl.js';
import { readParquet } from '../io/parquet.js';
import { CosmoError, InputError } from '../util/errors.js';
import type { SeedSourceConfig } from './config.js';

export type SeedFormat = NonNullable<SeedSourceConfig['format']>;

/** One raw row of a seed file, with where it came from so a bad row can be named. */
export interface RawRow {
  file: string;
  line: number;
  /** A parsed object, or a line of text for plain-text files. */
  value: unknown;
}

export interface ReadRowsOptions {
  format?: SeedFormat;
  skipBad?: boolean;
  onBad?: (file: string, line: number, reason: string) => void;
}

export function guessFormat(file: string): SeedFormat {
  const name = file.toLowerCase().replace(/\.gz$/, '');
  const ext = extname(name);
  if (ext === '.jsonl' || ext === '.ndjson') return 'jsonl';
  if (ext === '.json') return 'json';
  if (ext === '.parquet') return 'parquet';
  if (ext === '.csv') return 'csv';
  if (ext === '.yaml' || ext === '.yml') return 'yaml';
  if (ext === '.txt' || ext === '.text' || ext === '.lst') return 'text';
  throw new CosmoError(`${file}: cannot tell the seed file format from its extension; set "format" on the seed source`);
}

/** Data files of a path: the file itself, or every non-hidden file under a folder, in a stable order. */
export const seedFiles = (path: string): string[] => dataFiles(path, 'seed');

/** Rows of every file under `path`, whatever its format. */
export async function* readSeedRows(path: string, opts: ReadRowsOptions = {}): AsyncGenerator<RawRow> {
  for (const file of seedFiles(path)) yield* readFileRows(file, opts);
}

async function* readFileRows(file: string, opts: ReadRowsOptions): AsyncGenerator<RawRow> {
  const format = opts.format ?? guessFormat(file);
  switch (format) {
    case 'jsonl':
      for await (const { line, value } of readJsonl(file, {
        skipBad: opts.skipBad,
        onBad: (b) => opts.onBad?.(b.file, b.line, b.reason),
      }))
        yield { file, line, value };
      return;
    case 'text':
      for await (const { line, text } of readLines(file)) if (text.trim() !== '') yield { file, line, value: text };
      return;
    case 'parquet': {
      let row = 0;
      for await (const value of readParquet(file)) yield { file, line: ++row, value };
      return;
    }
    case 'json':
      yield* readJsonArray(file);
      return;
    case 'yaml':
      yield* readYamlArray(file);
      return;
    case 'csv':
      yield* readCsv(file, opts);
      return;
  }
}

/** A JSON file holding an array of rows (or one object); each row is named by the line it starts on. */
function* readJsonArray(file: string): Generator<RawRow> {
  const text = readFileSync(file, 'utf8');
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    throw new InputError(file, undefined, `malformed JSON (${(err as Error).message})`);
  }
  if (!Array.isArray(data)) {
    yield { file, line: 1, value: data };
    return;
  }
  const lines = arrayItemLines(text);
  for (let i = 0; i < data.length; i++) yield { file, line: lines[i] ?? 1, value: data[i] };
}

/** The 1-based line each element of a top-level JSON array starts on, found in one pass over the text. */
export function arrayItemLines(text: string): number[] {
  const lines: number[] = [];
  let line = 1;
  let depth = 0;
  let inString = false;
  let expectItem = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 10) line++;
    if (inString) {
      if (c === 92) i++; // backslash: skip the escaped character
      else if (c === 34) inString = false;
      continue;
    }
    if (c === 32 || c === 10 || c === 13 || c === 9) continue;
    if (depth === 1 && expectItem && c !== 93) {
      lines.push(line);
      expectItem = false;
    }
    if (c === 34) inString = true;
    else if (c === 91 || c === 123) {
      depth++;
      if (depth === 1) expectItem = true;
    } else if (c === 93 || c === 125) depth--;
    else if (c === 44 && depth === 1) expectItem = true;
  }
  return lines;
}

/** A YAML file holding a list of rows (e.g. course outlines), or one row. */
function* readYamlArray(file: string): Generator<RawRow> {
  const counter = new LineCounter();
  const doc = parseDocument(readFileSync(file, 'utf8'), { lineCounter: counter });
  if (doc.errors.length > 0) {
    const e = doc.errors[0]!;
    throw new InputError(file, e.linePos?.[0].line, `YAML syntax error: ${e.message.split('\n')[0]}`);
  }
  const root = doc.contents;
  if (!isSeq(root)) {
    yield { file, line: 1, value: doc.toJS() };
    return;
  }
  for (const item of root.items) {
    const line = isNode(item) && item.range ? counter.linePos(item.range[0]).line : 1;
    yield { file, line, value: isNode(item) ? item.toJS(doc) : item };
  }
}

/** RFC 4180 CSV with a header row; quoted fields may span lines. */
async function* readCsv(file: string, opts: ReadRowsOptions): AsyncGenerator<RawRow> {
  const text = readFileSync(file, 'utf8');
  let header: string[] | undefined;
  for (const { line, fields } of csvRecords(text)) {
    if (!header) {
      header = fields;
      continue;
    }
    if (fields.length === 1 && fields[0] === '') continue;
    if (fields.length !== header.length) {
      const reason = `expected ${header.length} fields, found ${fields.length}`;
      if (!opts.skipBad) throw new InputError(file, line, `${reason}; pass --skip-bad to skip and count bad rows`);
      opts.onBad?.(file, line, reason);
      continue;
    }
    const value: Record<string, string> = {};
    header.forEach((h, i) => (value[h] = fields[i]!));
    yield { file, line, value };
  }
}

export function* csvRecords(text: string): Generator<{ line: number; fields: string[] }> {
  let fields: string[] = [];
  let field = '';
  let quoted = false;
  let line = 1;
  let start = 1;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quoted) {
      if (c === '"') {
        if (text[i + 1] === '"') {
          field += '"';
          i++;
        } else quoted = false;
      } else {
        if (c === '\n') line++;
        field += c;
      }
    } else if (c === '"') quoted = true;
    else if (c === ',') {
      fields.push(field);
      field = '';
    } else if (c === '\n' || c === '\r') {
      if (c === '\r' && text[i + 1] === '\n') i++;
      fields.push(field);
      yield { line: start, fields };
      fields = [];
      field = '';
      line++;
      start = line;
    } else field += c;
  }
  if (field !== '' || fields.length > 0) {
    fields.push(field);
    yield { line: start, fields };
  }
}

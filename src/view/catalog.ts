/**
 * The viewer's catalog of a dataset: what lets a page of a million rows be found in milliseconds
 * instead of by scanning every text.
 *
 * - A copy of the shown columns as Parquet in row groups of 1,024 rows (`rows.parquet`). In the
 *   export, a row group holds ~120k rows, so a page sorted by length or a search hit cost a whole
 *   group's text (0.7 s for one 21-row range at 1M rows); in the copy, any 21 rows cost ~0.1 s.
 * - In memory: each text's length (so sorting is an index, not a sort of 1M texts), each row's code
 *   for every filter dimension (so a filtered page is a list of row numbers), and the words of each
 *   block of 1,024 rows (`words.ts`), so a search reads only the blocks that can hold it.
 *
 * Rows are numbered by their place in the copy. Everything is built once in the background at the
 * first view (a few seconds per 100k rows) and kept under `OUT_DIR/view/`, keyed by the source
 * files' names, sizes and modification times; a changed export is catalogued again.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { queryRows, runAlone, sqlString, streamRows } from '../io/parquet.js';
import { conditions, type ViewQuery } from './query.js';
import { BlockWords, WordIndex } from './words.js';

/** Rows per row group of the copy and per block of the word index. */
const BLOCK = 1024;
/** Bump when the files' layout or the words' folding changes. */
const LAYOUT = 2;
/** Distinct values a dimension may have to get row codes; past it, filters on it go to SQL. */
const MAX_VALUES = 0xffff;
/** Past this many runs of candidate blocks, one range from the first to the last is searched. */
const MAX_RUNS = 64;
/** Candidate blocks fewer than this many blocks apart are read as one run, the blocks between included. */
const MERGE_GAP = 4;

interface Facet {
  values: Map<string, number>;
  /** The code of each row's value. */
  of: Uint16Array;
}

export interface CatalogSource {
  /** Where the catalog is kept: `OUT_DIR/view`. */
  dir: string;
  /** The dataset's files, and the SQL relation that reads them. */
  files: string[];
  from: string;
  /** Columns shown (text among them) and the dimensions filtered on. */
  fields: string[];
  dims: string[];
  /** Rows catalogued so far, of `total`. */
  progress?: (done: number, total: number) => void;
  /** Stops a build (the viewer closed); the catalog is then not kept. */
  signal?: AbortSignal;
}

/** The catalog of `src`: loaded when the kept one matches its files, else built and kept. */
export async function openCatalog(src: CatalogSource): Promise<Catalog> {
  const key = JSON.stringify({ layout: LAYOUT, fields: src.fields, dims: src.dims, files: src.files.map((f) => [f, statSync(f).size, statSync(f).mtimeMs]) });
  const meta = join(src.dir, 'catalog.json');
  if (existsSync(meta)) {
    try {
      const kept = JSON.parse(readFileSync(meta, 'utf8')) as Kept;
      if (kept.key === key) return await load(src, kept);
    } catch {
      // A damaged or half-written catalog is built again.
    }
  }
  return build(src, key);
}

/** What `catalog.json` records; `catalog.bin` holds the arrays in this order. */
interface Kept {
  key: string;
  rows: number;
  values: Record<string, string[]>;
  /** Word ids listed over all blocks, and the vocabulary's bytes (after the arrays, words ending in newlines). */
  listed: number;
  vocabularyBytes: number;
}

const copyPath = (dir: string) => join(dir, 'rows.parquet');

async function build(src: CatalogSource, key: string): Promise<Catalog> {
  await mkdir(src.dir, { recursive: true });
  await rm(join(src.dir, 'catalog.json'), { force: true });
  const tmp = join(src.dir, `rows.parquet.tmp-${process.pid}`);
  const cols = src.fields.map((f) => `"${f}"`).join(', ');
  try {
    await runAlone(`COPY (SELECT ${cols} FROM ${src.from}) TO ${sqlString(tmp)} (FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE ${BLOCK})`);
    src.signal?.throwIfAborted();
    await rename(tmp, copyPath(src.dir));
  } finally {
    await rm(tmp, { force: true });
  }
  const copy = sqlString(copyPath(src.dir));
  const [{ n } = { n: 0 }] = (await queryRows(`SELECT count(*)::INTEGER AS n FROM read_parquet(${copy})`)) as { n: number }[];
  const rows = Number(n);
  const lengths = new Uint32Array(rows);
  const words = new BlockWords();
  const facets = new Map<string, Facet>(src.dims.map((d) => [d, { values: new Map(), of: new Uint16Array(rows) }]));
  const dims = src.dims.map((d, i) => `"${d}"::VARCHAR AS d${i}`).join(', ');
  let done = 0;
  for await (const row of streamRows(`SELECT file_row_number::INTEGER AS r, length(text)::INTEGER AS len, text${dims ? `, ${dims}` : ''} FROM read_parquet(${copy}, file_row_number = true)`)) {
    const r = Number(row.r);
    const text = typeof row.text === 'string' ? row.text : '';
    // DuckDB's length (characters, not UTF-16 units): the order SQL's sort by length gives.
    lengths[r] = Number(row.len ?? 0);
    words.add(Math.floor(r / BLOCK), text);
    src.dims.forEach((d, i) => {
      const facet = facets.get(d);
      if (!facet) return;
      const value = row[`d${i}`] === null ? '(none)' : String(row[`d${i}`]);
      let code = facet.values.get(value);
      if (code === undefined) {
        // Too many distinct values to code: filters on this dimension are left to SQL.
        if (facet.values.size === MAX_VALUES) return void facets.delete(d);
        facet.values.set(value, (code = facet.values.size));
      }
      facet.of[r] = code;
    });
    if (++done % 8192 === 0) {
      src.progress?.(done, rows);
      src.signal?.throwIfAborted();
    }
  }
  src.progress?.(rows, rows);
  const index = words.finish(Math.ceil(rows / BLOCK));
  const vocabulary = Buffer.from(index.vocabulary.map((w) => `${w}\n`).join(''));
  const kept: Kept = { key, rows, values: Object.fromEntries([...facets].map(([d, f]) => [d, [...f.values.keys()]])), listed: index.ids.length, vocabularyBytes: vocabulary.length };
  const bin = join(src.dir, 'catalog.bin');
  const arrays = [lengths, ...[...facets.values()].map((f) => f.of), index.starts, index.ids].map((a) => Buffer.from(a.buffer, a.byteOffset, a.byteLength));
  await writeFile(`${bin}.tmp-${process.pid}`, Buffer.concat([...arrays, vocabulary]));
  await rename(`${bin}.tmp-${process.pid}`, bin);
  // Written last: its key says the files beside it are whole.
  await writeFile(`${join(src.dir, 'catalog.json')}.tmp-${process.pid}`, JSON.stringify(kept));
  await rename(`${join(src.dir, 'catalog.json')}.tmp-${process.pid}`, join(src.dir, 'catalog.json'));
  return new Catalog(src.dir, rows, lengths, facets, index);
}

async function load(src: CatalogSource, kept: Kept): Promise<Catalog> {
  const buf = await readFile(join(src.dir, 'catalog.bin'));
  let at = 0;
  // Copies, not views: the arrays' offsets in the file need not be aligned to their element size.
  const take = <T>(bytes: number, make: (b: ArrayBuffer) => T): T => {
    const part = buf.buffer.slice(buf.byteOffset + at, buf.byteOffset + at + bytes);
    at += bytes;
    return make(part);
  };
  const rows = kept.rows;
  const lengths = take(rows * 4, (b) => new Uint32Array(b));
  const facets = new Map<string, Facet>();
  for (const [d, values] of Object.entries(kept.values)) facets.set(d, { values: new Map(values.map((v, i) => [v, i])), of: take(rows * 2, (b) => new Uint16Array(b)) });
  const starts = take((Math.ceil(rows / BLOCK) + 1) * 4, (b) => new Uint32Array(b));
  const ids = take(kept.listed * 4, (b) => new Uint32Array(b));
  const vocabulary = take(kept.vocabularyBytes, (b) => Buffer.from(b).toString('utf8').split('\n').slice(0, -1));
  if (at !== buf.byteLength || !existsSync(copyPath(src.dir))) throw new Error('catalog files do not match');
  return new Catalog(src.dir, rows, lengths, facets, new WordIndex(vocabulary, starts, ids));
}

export class Catalog {
  /** The copy as an SQL relation, with each row's number. */
  private readonly source: string;
  /** Row numbers, shortest text first (ties in row order). */
  private readonly byLength: Uint32Array;
  private readonly blocks: number;
  /** Every match of the last few searches, for their counts, sorts and later pages. */
  private readonly found = new Map<string, number[]>();

  constructor(
    dir: string,
    readonly rows: number,
    private readonly lengths: Uint32Array,
    private readonly facets: Map<string, Facet>,
    /** The words of each block: which blocks a search reads. */
    readonly words: WordIndex,
  ) {
    this.source = `read_parquet(${sqlString(copyPath(dir))}, file_row_number = true)`;
    this.blocks = Math.ceil(rows / BLOCK);
    // Length and row number in one float each, sorted as numbers: 20 times faster than a comparator.
    const keys = new Float64Array(rows);
    for (let r = 0; r < rows; r++) keys[r] = Math.min(lengths[r]!, 2 ** 20) * 2 ** 32 + r;
    keys.sort();
    this.byLength = new Uint32Array(rows);
    for (let i = 0; i < rows; i++) this.byLength[i] = keys[i]! % 2 ** 32;
  }

  /**
   * The row numbers of the page `q` asks for and whether more follow; null when the catalog cannot
   * answer (a filter on a dimension with too many values to code), and SQL over the dataset must.
   */
  async page(q: ViewQuery): Promise<{ rows: number[]; more: boolean } | null> {
    const keep = this.filter(q);
    if (keep === null) return null;
    const skip = q.page * q.size;
    const want = skip + q.size + 1;
    let list: number[];
    if (!q.q) list = this.walk(q.sort, keep, want);
    else if (q.sort) list = this.walk(q.sort, new Set(await this.matches(q, keep)), want);
    else list = this.found.get(foundKey(q))?.slice(0, want) ?? (await this.search(q, keep, want));
    return { rows: list.slice(skip, skip + q.size), more: list.length > skip + q.size };
  }

  /** How many rows match `q`; null when the catalog cannot answer. */
  async count(q: ViewQuery): Promise<number | null> {
    const keep = this.filter(q);
    if (keep === null) return null;
    if (q.q) return (await this.matches(q, keep)).length;
    if (keep === true) return this.rows;
    let n = 0;
    for (let r = 0; r < this.rows; r++) if (keep(r)) n++;
    return n;
  }

  /** The rows numbered `list`, in that order, with the columns `select` names. */
  async fetch(list: number[], select: string): Promise<Record<string, unknown>[]> {
    if (list.length === 0) return [];
    const got = await queryRows(`SELECT file_row_number::INTEGER AS _row, ${select} FROM ${this.source} WHERE ${list.map((r) => `file_row_number = ${r}`).join(' OR ')}`);
    const byRow = new Map(got.map(({ _row, ...rest }) => [Number(_row), rest]));
    return list.map((r) => byRow.get(r)).filter((r) => r !== undefined);
  }

  /** A test of a row number against `q`'s filters: true for all rows, null if one can't be coded. */
  private filter(q: ViewQuery): ((r: number) => boolean) | true | null {
    const tests: [Uint16Array, number][] = [];
    for (const [d, v] of Object.entries(q.filters)) {
      const facet = this.facets.get(d);
      if (!facet) return null;
      const code = facet.values.get(v);
      if (code === undefined) return () => false;
      tests.push([facet.of, code]);
    }
    if (tests.length === 0) return true;
    return (r) => tests.every(([of, code]) => of[r] === code);
  }

  /** The first `want` rows in the sort's order that pass `keep`. */
  private walk(sort: ViewQuery['sort'], keep: ((r: number) => boolean) | true | Set<number>, want: number): number[] {
    const pass = keep === true ? () => true : keep instanceof Set ? (r: number) => keep.has(r) : keep;
    const out: number[] = [];
    const n = this.rows;
    for (let i = 0; i < n && out.length < want; i++) {
      const r = sort === 'short' ? this.byLength[i]! : sort === 'long' ? this.byLength[n - 1 - i]! : i;
      if (pass(r)) out.push(r);
    }
    return out;
  }

  /** The blocks that may hold the search and that hold a row passing the filters. */
  private candidates(q: ViewQuery, keep: ((r: number) => boolean) | true): number[] {
    const pass = this.words.blocksFor(q.q);
    const out: number[] = [];
    for (let b = 0; b < this.blocks; b++) {
      if (!pass[b]) continue;
      if (keep !== true) {
        let any = false;
        for (let r = b * BLOCK, end = Math.min(this.rows, r + BLOCK); r < end && !any; r++) any = keep(r);
        if (!any) continue;
      }
      out.push(b);
    }
    return out;
  }

  /**
   * The first `want` matches of the search, in row order: the candidate blocks are searched in
   * batches, so a common word is answered from the first few blocks and a rare one from the blocks
   * that can hold it. Each batch is as many blocks as the matches per block so far say are still
   * needed, with half again to spare (four times the last batch while none was found).
   */
  private async search(q: ViewQuery, keep: ((r: number) => boolean) | true, want: number): Promise<number[]> {
    const blocks = this.candidates(q, keep);
    const out: number[] = [];
    let batch = 4;
    for (let i = 0; i < blocks.length && out.length < want; ) {
      const part = blocks.slice(i, i + batch);
      i += part.length;
      // No LIMIT: with one, DuckDB read the blocks of an OR of ranges 3 times as slowly; a batch's matches are few.
      const found = await queryRows(`SELECT file_row_number::INTEGER AS r FROM ${this.source} WHERE ${[this.within(part), ...conditions(q)].join(' AND ')} ORDER BY r`);
      for (const { r } of found.slice(0, want - out.length)) out.push(Number(r));
      batch = out.length ? Math.ceil((1.5 * (want - out.length) * i) / out.length) : batch * 4;
    }
    return out;
  }

  /** Every match of the search, in row order; the last eight searches' are kept. */
  private async matches(q: ViewQuery, keep: ((r: number) => boolean) | true): Promise<number[]> {
    const key = foundKey(q);
    let all = this.found.get(key);
    if (!all) {
      const blocks = this.candidates(q, keep);
      all = blocks.length === 0 ? [] : (await queryRows(`SELECT file_row_number::INTEGER AS r FROM ${this.source} WHERE ${[this.within(blocks), ...conditions(q)].join(' AND ')} ORDER BY r`)).map(({ r }) => Number(r));
      if (this.found.size >= 8) this.found.delete(this.found.keys().next().value!);
    }
    this.found.delete(key);
    this.found.set(key, all);
    return all;
  }

  /**
   * An SQL condition for the rows of `blocks` (ascending) or of ranges around them: a superset is
   * still right. Runs of blocks closer than MERGE_GAP are read as one: a block read on its own cost
   * ~3 ms, one in a run ~0.7 ms.
   */
  private within(blocks: number[]): string {
    const runs: [number, number][] = [];
    for (const b of blocks) {
      const last = runs.at(-1);
      if (last && b - last[1] < MERGE_GAP) last[1] = b + 1;
      else runs.push([b, b + 1]);
    }
    const range = ([from, to]: [number, number]) => `file_row_number BETWEEN ${from * BLOCK} AND ${to * BLOCK - 1}`;
    if (runs.length > MAX_RUNS) return range([runs[0]![0], runs.at(-1)![1]]);
    return `(${runs.map(range).join(' OR ')})`;
  }
}

const foundKey = (q: ViewQuery) => JSON.stringify([q.q, Object.entries(q.filters).sort()]);

import { closeSync, openSync, readFileSync, readSync, writeFileSync, writeSync } from 'node:fs';
import { mkdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { CosmoError } from '../util/errors.js';
import { termKey, termKeys } from '../util/terms.js';

/**
 * One segment of the BM25 index: a folder of flat files, read with positioned reads so that a
 * query loads only the posting lists of its own terms.
 *
 *   terms.f64    every term's 53-bit key, sorted (the dictionary, held in memory: 8 bytes a term)
 *   starts.u32   where each term's postings start, and one end (in memory: 4 bytes a term)
 *   postings.bin per term, its passage numbers (u32) then each one's BM25 term-frequency part (u8,
 *                1-255): on disk; a query reads its terms' lists, or the first `depth` of a long one
 *   owners.u32   each passage's document (a number within the segment)  ┐ in memory (8 bytes a passage),
 *   hashes.u32   a hash of each passage's text                           ┘ so results are told apart unread
 *   text.jsonl   the passages: {id, title, text, source}
 *   text.f64     where each passage's line starts (in memory: 8 bytes a passage)
 *   meta.json    counts, average length, k1 and b; written last, so a segment without it is unfinished
 *
 * A long posting list is ordered by impact, highest first, so reading only its head reads the
 * passages where the term weighs most (an impact-ordered index, as in JASS); a short one stays in
 * passage order. The term-frequency part uses the segment's own average length (Lucene and
 * Elasticsearch shards do the same); the idf is computed at query time from every segment's counts.
 */

export const SEGMENT_VERSION = 2;
/** BM25's usual parameters (Robertson et al.; Lucene's defaults). */
export const K1 = 1.2;
export const B = 0.75;
/** Lists longer than this are ordered by impact; shorter ones are always read whole. */
const ORDERED_FROM = 64;

export interface Passage {
  id: string;
  title: string;
  text: string;
  /** The knowledge file it came from (its name, not its path). */
  source: string;
}

export interface SegmentMeta {
  version: number;
  passages: number;
  terms: number;
  postings: number;
  avgdl: number;
  k1: number;
  b: number;
}

/** Grow a typed array to at least `n` entries, keeping its contents. */
function grow<T extends Uint32Array | Uint8Array>(a: T, n: number): T {
  if (n <= a.length) return a;
  const b = new (a.constructor as new (n: number) => T)(Math.max(n, a.length * 2));
  b.set(a);
  return b;
}

/**
 * Term key → term number, for the keys of one segment: open addressing over the key's low and high
 * words (a Map keyed by 53-bit numbers boxes every key, and was a sixth of the build).
 */
class TermTable {
  private lo = new Uint32Array(1 << 16);
  private hi = new Uint32Array(1 << 16);
  private ids = new Int32Array(1 << 16).fill(-1);
  /** Every term's key, by term number. */
  readonly keys: number[] = [];

  id(key: number): number {
    const lo = key >>> 0;
    const hi = (key - lo) / 4294967296;
    const mask = this.ids.length - 1;
    for (let at = Math.imul(lo, 0x9e3779b1) >>> 0; ; at++) {
      at &= mask;
      const id = this.ids[at]!;
      if (id < 0) {
        const fresh = this.keys.length;
        this.keys.push(key);
        this.lo[at] = lo;
        this.hi[at] = hi;
        this.ids[at] = fresh;
        if (this.keys.length * 2 > this.ids.length) this.rehash();
        return fresh;
      }
      if (this.lo[at] === lo && this.hi[at] === hi) return id;
    }
  }

  private rehash(): void {
    const size = this.ids.length * 2;
    const mask = size - 1;
    const lo = new Uint32Array(size);
    const hi = new Uint32Array(size);
    const ids = new Int32Array(size).fill(-1);
    for (let at = 0; at < this.ids.length; at++) {
      const id = this.ids[at]!;
      if (id < 0) continue;
      let to = Math.imul(this.lo[at]!, 0x9e3779b1) >>> 0;
      while (ids[(to &= mask)]! >= 0) to++;
      lo[to] = this.lo[at]!;
      hi[to] = this.hi[at]!;
      ids[to] = id;
    }
    this.lo = lo;
    this.hi = hi;
    this.ids = ids;
  }
}

/**
 * Collects passages in memory (about 10 bytes a posting) and writes them as one segment. The
 * caller starts a new segment every `segment_passages` passages, which bounds the memory a build needs.
 */
export class SegmentBuilder {
  private readonly terms = new TermTable();
  private postTerm = new Uint32Array(1 << 16);
  private postDoc = new Uint32Array(1 << 16);
  private postTf = new Uint8Array(1 << 16);
  private lengths = new Uint32Array(1 << 12);
  private posting = 0;
  /**
   * The passages as JSON lines, encoded in blocks of about 4 MB, and where each line starts (found
   * from the encoded block's newlines: JSON escapes those inside strings). One buffer a line, or a
   * byte count a line, cost a sixth of the build.
   */
  private readonly blocks: Buffer[] = [];
  private pending: string[] = [];
  private pendingChars = 0;
  private readonly offsets: number[] = [0];
  private count = 0;
  private readonly owners: number[] = [];
  private readonly hashes: number[] = [];
  private lastDocument = '';
  private titleKeys: { title: string; keys: number[] } = { title: '', keys: [] };
  private readonly scratch: number[] = [];
  private ids = new Int32Array(1024);

  get passages(): number {
    return this.count;
  }

  /** Bytes the builder holds, roughly: for the caller's memory bound. */
  get bytes(): number {
    return this.posting * 9 + this.offsets[this.offsets.length - 1]! + this.pendingChars + this.terms.keys.length * 40;
  }

  add(p: Passage): void {
    const doc = this.passages;
    // A document's passages share its title: its terms are found once.
    if (this.titleKeys.title !== p.title) this.titleKeys = { title: p.title, keys: termKeys(p.title, []) };
    const words = this.scratch;
    words.length = 0;
    for (const k of this.titleKeys.keys) words.push(k);
    termKeys(p.text, words);
    if (this.ids.length < words.length) this.ids = new Int32Array(words.length * 2);
    const ids = this.ids.subarray(0, words.length);
    for (let i = 0; i < words.length; i++) ids[i] = this.terms.id(words[i]!);
    ids.sort();
    const need = this.posting + ids.length;
    this.postTerm = grow(this.postTerm, need);
    this.postDoc = grow(this.postDoc, need);
    this.postTf = grow(this.postTf, need);
    for (let i = 0; i < ids.length; ) {
      let j = i + 1;
      while (j < ids.length && ids[j] === ids[i]) j++;
      this.postTerm[this.posting] = ids[i]!;
      this.postDoc[this.posting] = doc;
      this.postTf[this.posting] = Math.min(255, j - i);
      this.posting++;
      i = j;
    }
    this.lengths = grow(this.lengths, doc + 1);
    this.lengths[doc] = words.length;
    const document = p.id.slice(0, p.id.lastIndexOf('#'));
    this.owners.push(this.owners.length === 0 ? 0 : this.owners[doc - 1]! + (document === this.lastDocument ? 0 : 1));
    this.lastDocument = document;
    this.hashes.push(termKey(p.text) >>> 0);
    const line = JSON.stringify(p);
    this.pending.push(line);
    this.pendingChars += line.length + 1;
    this.count++;
    if (this.pendingChars >= 1 << 22) this.encodePending();
  }

  private encodePending(): void {
    if (this.pending.length === 0) return;
    const block = Buffer.from(this.pending.join('\n') + '\n');
    const base = this.offsets[this.offsets.length - 1]!;
    for (let at = block.indexOf(10); at >= 0; at = block.indexOf(10, at + 1)) this.offsets.push(base + at + 1);
    this.blocks.push(block);
    this.pending = [];
    this.pendingChars = 0;
  }

  /** Write the segment into `dir` (through a temporary folder renamed into place). */
  async write(dir: string): Promise<SegmentMeta> {
    const tmp = `${dir}.tmp-${process.pid}`;
    await rm(tmp, { recursive: true, force: true });
    await mkdir(tmp, { recursive: true });
    const n = this.passages;
    this.encodePending();
    const T = this.terms.keys.length;
    const P = this.posting;
    let total = 0;
    for (let d = 0; d < n; d++) total += this.lengths[d]!;
    const avgdl = n ? total / n : 0;

    // The dictionary in key order (a native sort, then each term's rank by bisection); a term's
    // postings are laid out in that order.
    const sorted = Float64Array.from(this.terms.keys).sort();
    const rank = new Uint32Array(T);
    this.terms.keys.forEach((key, t) => {
      let lo = 0;
      let hi = T - 1;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if (sorted[mid]! < key) lo = mid + 1;
        else hi = mid;
      }
      rank[t] = lo;
    });
    const starts = new Uint32Array(T + 1);
    for (let i = 0; i < P; i++) starts[rank[this.postTerm[i]!]! + 1]!++;
    for (let r = 0; r < T; r++) starts[r + 1]! += starts[r]!;
    const cursor = starts.slice(0, T);
    const docs = new Uint32Array(P);
    const imps = new Uint8Array(P);
    const norm = new Float64Array(n);
    for (let d = 0; d < n; d++) norm[d] = K1 * (1 - B + (B * this.lengths[d]!) / (avgdl || 1));
    for (let i = 0; i < P; i++) {
      const at = cursor[rank[this.postTerm[i]!]!]!++;
      const doc = this.postDoc[i]!;
      const tf = this.postTf[i]!;
      docs[at] = doc;
      // tf·(k1+1) / (tf + k1·(1 − b + b·len/avgdl)) lies in (0, k1+1): kept as a byte.
      imps[at] = Math.max(1, Math.round((255 * tf) / (tf + norm[doc]!)));
    }
    orderByImpact(starts, docs, imps);

    const offsets = Float64Array.from(this.offsets);
    const meta: SegmentMeta = { version: SEGMENT_VERSION, passages: n, terms: T, postings: P, avgdl, k1: K1, b: B };
    const bytes = (a: ArrayBufferView) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
    writeFileSync(join(tmp, 'terms.f64'), bytes(sorted));
    writeFileSync(join(tmp, 'starts.u32'), bytes(starts));
    // Each term's block: its passages, then their impacts, so a short list is one read.
    const postings = new Uint8Array(5 * P);
    const docBytes = bytes(docs);
    for (let r = 0; r < T; r++) {
      const s = starts[r]!;
      const e = starts[r + 1]!;
      postings.set(docBytes.subarray(4 * s, 4 * e), 5 * s);
      postings.set(imps.subarray(s, e), 5 * s + 4 * (e - s));
    }
    writeFileSync(join(tmp, 'postings.bin'), postings);
    writeFileSync(join(tmp, 'owners.u32'), bytes(Uint32Array.from(this.owners)));
    writeFileSync(join(tmp, 'hashes.u32'), bytes(Uint32Array.from(this.hashes)));
    const fd = openSync(join(tmp, 'text.jsonl'), 'w');
    try {
      for (const block of this.blocks) writeSync(fd, block);
    } finally {
      closeSync(fd);
    }
    writeFileSync(join(tmp, 'text.f64'), bytes(offsets));
    writeFileSync(join(tmp, 'meta.json'), JSON.stringify(meta) + '\n');
    await rm(dir, { recursive: true, force: true });
    await rename(tmp, dir);
    return meta;
  }
}

/** Order each long posting list by impact, highest first (a counting sort: linear in the postings). */
function orderByImpact(starts: Uint32Array, docs: Uint32Array, imps: Uint8Array): void {
  const count = new Uint32Array(257);
  let tmpDocs = new Uint32Array(1024);
  for (let t = 0; t + 1 < starts.length; t++) {
    const s = starts[t]!;
    const e = starts[t + 1]!;
    if (e - s < ORDERED_FROM) continue;
    count.fill(0);
    for (let i = s; i < e; i++) count[256 - imps[i]!]!++;
    for (let v = 1; v <= 256; v++) count[v]! += count[v - 1]!;
    // count[v] is now the end of bucket v; walking back keeps passage order within a bucket.
    if (tmpDocs.length < e - s) tmpDocs = new Uint32Array(e - s);
    for (let i = e - 1; i >= s; i--) tmpDocs[--count[256 - imps[i]!]!] = docs[i]!;
    docs.set(tmpDocs.subarray(0, e - s), s);
    imps.subarray(s, e).sort().reverse();
  }
}

/** Read a whole small file as a typed array (the dictionary, the offsets). */
function readArray<T>(file: string, Kind: new (buf: ArrayBuffer) => T): T {
  const buf = readFileSync(file);
  const copy = new ArrayBuffer(buf.byteLength);
  new Uint8Array(copy).set(buf);
  return new Kind(copy);
}

/** An open segment: its dictionary and passage offsets in memory, its postings and texts on disk. */
export class Segment {
  readonly meta: SegmentMeta;
  private readonly keys: Float64Array;
  private readonly starts: Uint32Array;
  private readonly offsets: Float64Array;
  /** Each passage's document within the segment, and a hash of its text. */
  readonly owners: Uint32Array;
  readonly hashes: Uint32Array;
  private readonly fds: { postings: number; text: number };

  constructor(readonly dir: string) {
    let meta: SegmentMeta;
    try {
      meta = JSON.parse(readFileSync(join(dir, 'meta.json'), 'utf8')) as SegmentMeta;
    } catch (err) {
      throw new CosmoError(`${dir}: not a finished index segment (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}); rebuild the knowledge index`);
    }
    if (meta.version !== SEGMENT_VERSION) throw new CosmoError(`${dir}: index segment version ${meta.version}, this cosmo reads ${SEGMENT_VERSION}; rebuild the knowledge index`);
    this.meta = meta;
    this.keys = readArray(join(dir, 'terms.f64'), Float64Array);
    this.starts = readArray(join(dir, 'starts.u32'), Uint32Array);
    this.offsets = readArray(join(dir, 'text.f64'), Float64Array);
    this.owners = readArray(join(dir, 'owners.u32'), Uint32Array);
    this.hashes = readArray(join(dir, 'hashes.u32'), Uint32Array);
    if (this.keys.length !== meta.terms || this.offsets.length !== meta.passages + 1) throw new CosmoError(`${dir}: index segment files disagree with its meta.json; rebuild the knowledge index`);
    this.fds = { postings: openSync(join(dir, 'postings.bin'), 'r'), text: openSync(join(dir, 'text.jsonl'), 'r') };
  }

  /** Bytes held in memory for this segment. */
  get memory(): number {
    return this.keys.byteLength + this.starts.byteLength + this.offsets.byteLength + this.owners.byteLength + this.hashes.byteLength;
  }

  /** The dictionary slot of a term key, or -1. Of two terms with one key, the first slot holds both lists (the builder's bisection put them there). */
  find(key: number): number {
    let lo = 0;
    let hi = this.keys.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.keys[mid]! < key) lo = mid + 1;
      else hi = mid;
    }
    return lo < this.keys.length && this.keys[lo] === key ? lo : -1;
  }

  /** How many passages hold the term in slot `t`. */
  df(t: number): number {
    return this.starts[t + 1]! - this.starts[t]!;
  }

  /**
   * Read postings `from` to `from + n` of slot `t` (fewer at the list's end) into `into`: their
   * passage numbers from byte 0, their impacts from the byte returned beside the count. A whole
   * list is one read, a part of one two. `into` needs 5·n bytes and a byte offset divisible by 4.
   */
  postings(t: number, from: number, n: number, into: Uint8Array): [count: number, impacts: number] {
    const s = this.starts[t]!;
    const df = this.starts[t + 1]! - s;
    const m = Math.max(0, Math.min(n, df - from));
    if (from === 0 && m === df) {
      readSync(this.fds.postings, into, 0, 5 * df, 5 * s);
      return [m, 4 * df];
    }
    readSync(this.fds.postings, into, 0, 4 * m, 5 * s + 4 * from);
    readSync(this.fds.postings, into, 4 * m, m, 5 * s + 4 * df + from);
    return [m, 4 * m];
  }

  passage(doc: number): Passage {
    const start = this.offsets[doc]!;
    const len = this.offsets[doc + 1]! - start;
    const buf = Buffer.allocUnsafe(len);
    readSync(this.fds.text, buf, 0, len, start);
    return JSON.parse(buf.toString('utf8')) as Passage;
  }

  close(): void {
    for (const fd of Object.values(this.fds)) closeSync(fd);
  }
}

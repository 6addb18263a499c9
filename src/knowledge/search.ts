import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Embedder } from '../embed/types.js';
import { dot } from '../embed/types.js';
import { CosmoError } from '../util/errors.js';
import { termKeys } from '../util/terms.js';
import { K1, Segment, type Passage } from './segment.js';

/** The index's manifest, written once every segment is: the segments in order, and what went in. */
export const MANIFEST = 'index.json';

export interface Manifest {
  segments: string[];
  passages: number;
  documents: number;
  /** The knowledge files, by name. */
  files: string[];
  passage_words: number;
}

export interface Hit {
  passage: Passage;
  /** BM25. */
  score: number;
  /**
   * The score as a share of the query's weight (the sum of its terms' idf; a term no passage has
   * counts at the highest idf): about the share of the query's information the passage matches, so
   * comparable between short and long queries. Above 1 when matched terms repeat.
   */
  match: number;
}

export interface SearchOptions {
  k: number;
  /** Hits whose `match` is under this are left out. */
  minMatch?: number;
  /** Only the query's this many rarest terms count (all when absent). */
  maxTerms?: number;
  /** At most this many postings of long lists are read (the ones that can add most to a score first); all when absent. */
  postings?: number;
}

/** Postings read at once from a long list; lists this short are read whole. */
const CHUNK = 4096;

/** A query's terms with their counts, at most `max` distinct ones (the first seen). */
function queryTerms(query: string, max = 64): Map<number, number> {
  const out = new Map<number, number>();
  for (const key of termKeys(query, [])) {
    if (out.has(key)) out.set(key, out.get(key)! + 1);
    else if (out.size < max) out.set(key, 1);
  }
  return out;
}

/**
 * A built knowledge index, searched with BM25 over every segment. Memory: the segments'
 * dictionaries (12 bytes a term), each passage's text offset, document and text hash (16 bytes),
 * and a query's scores (8 bytes a passage); postings and texts stay on disk and are read per query.
 */
export class KnowledgeIndex {
  readonly manifest: Manifest;
  readonly segments: Segment[];
  readonly passages: number;
  /** Per segment, a query's running scores and the passages it touched (reused: a query allocates nothing per posting). */
  private readonly acc: { scores: Float32Array; touched: Int32Array; count: number }[];
  /** Where a term's postings are read to: passage numbers (u32), then impacts (u8). */
  private buf = new Uint8Array(5 * CHUNK);

  private constructor(
    readonly dir: string,
    manifest: Manifest,
  ) {
    this.manifest = manifest;
    this.segments = manifest.segments.map((s) => new Segment(join(dir, s)));
    this.passages = this.segments.reduce((n, s) => n + s.meta.passages, 0);
    this.acc = this.segments.map((s) => ({ scores: new Float32Array(s.meta.passages), touched: new Int32Array(s.meta.passages), count: 0 }));
  }

  /** Open the index in `dir` (the knowledge stage's folder). */
  static open(dir: string): KnowledgeIndex {
    const file = join(dir, MANIFEST);
    if (!existsSync(file)) throw new CosmoError(`${dir}: no knowledge index here (no ${MANIFEST}); build one with \`cosmo knowledge corpus.yaml\``);
    let manifest: Manifest;
    try {
      manifest = JSON.parse(readFileSync(file, 'utf8')) as Manifest;
    } catch (err) {
      throw new CosmoError(`${file}: unreadable (${(err as Error).message}); rebuild the knowledge index`);
    }
    return new KnowledgeIndex(dir, manifest);
  }

  /** Bytes held in memory. */
  get memory(): number {
    return this.segments.reduce((n, s) => n + s.memory, 0) + this.acc.reduce((n, a) => n + a.scores.byteLength + a.touched.byteLength, 0);
  }

  /**
   * The top `k` passages for a query, best first. Short posting lists are read whole. Long ones
   * (ordered by impact) are read in chunks, always the chunk that can add the most to any score
   * next (its term's idf times the last impact read from its list, which bounds the rest): BM25
   * computed score-at-a-time, as JASS does, stopping after `postings` postings of long lists. The
   * terms that decide a ranking (rare, or weighing much in a passage) are read first and in full;
   * what is left unread is the tail of common terms, each worth little.
   */
  search(query: string, opts: SearchOptions): Hit[] {
    const q = queryTerms(query);
    const N = this.passages;
    if (q.size === 0 || N === 0) return [];
    const terms = [...q]
      .map(([key, count]) => {
        const slots = this.segments.map((seg) => seg.find(key));
        const df = slots.reduce((n, t, s) => n + (t >= 0 ? this.segments[s]!.df(t) : 0), 0);
        return { slots, df, idf: count * Math.log(1 + (N - df + 0.5) / (df + 0.5)) };
      })
      .sort((a, b) => b.idf - a.idf);
    // A long query (a seed's first words) keeps its most telling terms: the common ones cost the most
    // postings and decide the least. The query's weight counts its rarest terms, those the source
    // lacks included; the terms read are the rarest it has.
    const max = opts.maxTerms ?? Infinity;
    const total = terms.slice(0, max).reduce((n, t) => n + t.idf, 0);
    const long: { s: number; t: number; weight: number; df: number; read: number; bound: number }[] = [];
    for (const { slots, idf } of terms.filter((t) => t.df > 0).slice(0, max)) {
      const weight = idf * ((K1 + 1) / 255);
      slots.forEach((t, s) => {
        if (t < 0) return;
        const segDf = this.segments[s]!.df(t);
        if (segDf <= CHUNK) this.accumulate(s, t, 0, segDf, weight);
        else long.push({ s, t, weight, df: segDf, read: 0, bound: weight * 255 });
      });
    }
    for (let budget = opts.postings ?? Infinity; budget > 0 && long.length > 0; ) {
      let at = 0;
      for (let i = 1; i < long.length; i++) if (long[i]!.bound > long[at]!.bound) at = i;
      const l = long[at]!;
      const [m, last] = this.accumulate(l.s, l.t, l.read, CHUNK, l.weight);
      l.read += m;
      budget -= m;
      l.bound = l.weight * last;
      if (l.read >= l.df) long.splice(at, 1);
    }
    const best = new TopK(opts.k, (opts.minMatch ?? 0) * total);
    this.acc.forEach(({ scores, touched, count }, s) => {
      const { owners, hashes } = this.segments[s]!;
      // Most passages score under the k-th best: they are passed over in this loop, without a call.
      let floor = best.floor;
      for (let i = 0; i < count; i++) {
        const d = touched[i]!;
        const v = scores[d]!;
        scores[d] = 0;
        if (v < floor) continue;
        best.offer(v, s, d, s * 2 ** 32 + owners[d]!, hashes[d]!);
        floor = best.floor;
      }
    });
    for (const a of this.acc) a.count = 0;
    return best.entries().map((e) => ({ passage: this.segments[e.s]!.passage(e.d), score: e.v, match: e.v / total }));
  }

  /** Add postings `from` to `from + n` of slot `t` of segment `s` to the scores; returns how many, and the last one's impact. */
  private accumulate(s: number, t: number, from: number, n: number, weight: number): [count: number, lastImpact: number] {
    if (this.buf.length < 5 * n) this.buf = new Uint8Array(5 * n);
    const [m, at] = this.segments[s]!.postings(t, from, n, this.buf);
    const docs = new Uint32Array(this.buf.buffer, 0, m);
    const imps = this.buf.subarray(at, at + m);
    const acc = this.acc[s]!;
    const { scores, touched } = acc;
    let count = acc.count;
    for (let j = 0; j < m; j++) {
      const d = docs[j]!;
      const v = scores[d]!;
      if (v === 0) touched[count++] = d;
      scores[d] = v + weight * imps[j]!;
    }
    acc.count = count;
    return [m, m ? imps[m - 1]! : 0];
  }

  close(): void {
    for (const s of this.segments) s.close();
  }
}

interface Entry {
  v: number;
  s: number;
  d: number;
  doc: number;
  text: number;
}

/**
 * The `k` best passages offered that score at least `min`, at most one per document (overlapping
 * windows of one text say the same) and per text (one section in two editions of a book): a passage
 * that beats another of its document or text replaces it. Ties go to the earlier segment and
 * passage, so results never depend on the order passages were touched in.
 */
class TopK {
  private readonly top: Entry[] = [];

  constructor(
    private readonly k: number,
    private readonly min: number,
  ) {}

  /** The lowest score that may still enter. */
  get floor(): number {
    return this.top.length === this.k ? this.top[this.k - 1]!.v : this.min;
  }

  offer(v: number, s: number, d: number, doc: number, text: number): void {
    const top = this.top;
    if (v < this.min || (top.length === this.k && !before(v, s, d, top[top.length - 1]!))) return;
    // Another passage of its document or with its text: the better of them stays.
    for (let j = top.length - 1; j >= 0; j--) {
      const e = top[j]!;
      if (e.doc !== doc && e.text !== text) continue;
      if (!before(v, s, d, e)) return;
      top.splice(j, 1);
    }
    let i = top.length;
    while (i > 0 && before(v, s, d, top[i - 1]!)) i--;
    top.splice(i, 0, { v, s, d, doc, text });
    if (top.length > this.k) top.pop();
  }

  entries(): readonly Entry[] {
    return this.top;
  }
}

/** Whether (v, s, d) ranks before entry `e`. */
const before = (v: number, s: number, d: number, e: Entry) => v > e.v || (v === e.v && (s < e.s || (s === e.s && d < e.d)));

/**
 * Hits reordered by meaning: each passage's cosine similarity with the query, mixed with its BM25
 * score scaled to the best hit's (weight 1: by meaning alone); hits keep their BM25 figures. BM25
 * finds the candidates and the embedder only reorders them: a few embeddings a query, not one a passage.
 */
export async function rerank(hits: Hit[], query: string, embedder: Embedder, weight: number, k: number, signal?: AbortSignal): Promise<Hit[]> {
  if (hits.length === 0) return hits;
  const dim = embedder.dim;
  const vecs = await embedder.embed([query, ...hits.map((h) => `${h.passage.title}\n${h.passage.text}`)], signal);
  const qv = vecs.subarray(0, dim);
  const top = hits[0]!.score || 1;
  return hits
    .map((h, i) => ({ h, mixed: (1 - weight) * (h.score / top) + weight * dot(qv, vecs.subarray((i + 1) * dim, (i + 2) * dim)) }))
    .sort((a, b) => b.mixed - a.mixed)
    .slice(0, k)
    .map(({ h }) => h);
}

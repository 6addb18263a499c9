import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Embedder } from '../embed/types.js';
import { dot } from '../embed/types.js';
import { CosmoError } from '../util/errors.js';
import { K1, Segment, type Passage } from './segment.js';
import { termKeys } from '../util/terms.js';

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
const CHUNK = 2048;

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
 * dictionaries and passage offsets (about 12 bytes a term and 8 a passage) and one score array;
 * postings and texts stay on disk and are read per query.
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
    const chosen = [...q].map(([key, count]) => {
      const slots = this.segments.map((seg) => seg.find(key));
      const df = slots.reduce((n, t, s) => n + (t >= 0 ? this.segments[s]!.df(t) : 0), 0);
      return { slots, idf: count * Math.log(1 + (N - df + 0.5) / (df + 0.5)) };
    });
    // A long query (a seed's first words) keeps its most telling terms: the common ones cost the most
    // postings and decide the least.
    chosen.sort((a, b) => b.idf - a.idf).splice(opts.maxTerms ?? Infinity);
    let total = 0;
    const long: { s: number; t: number; weight: number; df: number; read: number; bound: number }[] = [];
    for (const { slots, idf } of chosen) {
      total += idf;
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
    // More than k: one passage per document (overlapping windows of one text say the same), and
    // none repeating another word for word (one section in two editions of a book).
    const best = new TopK(3 * opts.k, (opts.minMatch ?? 0) * total);
    this.acc.forEach(({ scores, touched, count }, s) => {
      for (let i = 0; i < count; i++) {
        const d = touched[i]!;
        best.offer(scores[d]!, s, d);
        scores[d] = 0;
      }
    });
    for (const a of this.acc) a.count = 0;
    const seen = new Set<string>();
    const hits: Hit[] = [];
    for (const [score, s, d] of best.sorted()) {
      const seg = this.segments[s]!;
      const doc = `${s}:${seg.owners[d]}`;
      const text = `#${seg.hashes[d]}`;
      if (seen.has(doc) || seen.has(text)) continue;
      seen.add(doc).add(text);
      hits.push({ passage: seg.passage(d), score, match: score / total });
      if (hits.length === opts.k) break;
    }
    return hits;
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

/**
 * The `k` best (segment, passage) pairs offered, scoring at least `min`; ties go to the earlier
 * segment and passage, so results never depend on the order passages were touched in.
 */
class TopK {
  private readonly v: number[] = [];
  private readonly s: number[] = [];
  private readonly d: number[] = [];

  constructor(
    private readonly k: number,
    private readonly min: number,
  ) {}

  offer(v: number, s: number, d: number): void {
    const n = this.v.length;
    if (v < this.min || (n === this.k && !this.before(v, s, d, n - 1))) return;
    let i = n === this.k ? n - 1 : n;
    while (i > 0 && this.before(v, s, d, i - 1)) {
      this.v[i] = this.v[i - 1]!;
      this.s[i] = this.s[i - 1]!;
      this.d[i] = this.d[i - 1]!;
      i--;
    }
    this.v[i] = v;
    this.s[i] = s;
    this.d[i] = d;
  }

  /** Whether (v, s, d) ranks before entry `i`. */
  private before(v: number, s: number, d: number, i: number): boolean {
    const w = this.v[i]!;
    return v > w || (v === w && (s < this.s[i]! || (s === this.s[i]! && d < this.d[i]!)));
  }

  sorted(): [number, number, number][] {
    return this.v.map((v, i) => [v, this.s[i]!, this.d[i]!]);
  }
}

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

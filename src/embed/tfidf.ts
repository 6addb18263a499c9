import { normalizeRows, truncatedSvd, type SparseRows } from './linalg.js';
import type { Embedder } from './types.js';
import { words } from './words.js';

export interface TfidfOptions {
  /** Dimensions kept by the truncated SVD. */
  dims: number;
  /** Terms kept, the most frequent first. */
  maxTerms: number;
  /** A term must appear in at least this many documents… */
  minDf: number;
  /** …and in at most this share of them. */
  maxDfShare: number;
  seed: number;
}

export const TFIDF_DEFAULTS: TfidfOptions = { dims: 100, maxTerms: 30_000, minDf: 2, maxDfShare: 0.5, seed: 1 };

/**
 * TF-IDF (sublinear term frequency, smoothed idf, stop words out) reduced by a truncated SVD: latent
 * semantic analysis. It needs no weights and is deterministic; it is fitted on the corpus itself,
 * so `fit` comes first, and texts embedded later are projected on what the fit learned.
 */
export class TfidfSvdEmbedder implements Embedder {
  readonly name: string;
  readonly dim: number;

  private constructor(
    private readonly vocab: Map<string, number>,
    private readonly idf: Float64Array,
    /** terms × dim, row-major. */
    private readonly components: Float64Array,
    dim: number,
  ) {
    this.dim = dim;
    this.name = `tfidf-svd:${dim}`;
  }

  static fit(texts: string[], options: Partial<TfidfOptions> = {}): TfidfSvdEmbedder {
    const o = { ...TFIDF_DEFAULTS, ...options };
    const docs = texts.map(words);
    const df = new Map<string, number>();
    for (const d of docs) for (const w of new Set(d)) df.set(w, (df.get(w) ?? 0) + 1);
    const maxDf = Math.max(o.minDf, o.maxDfShare * docs.length);
    const terms = [...df]
      .filter(([, n]) => n >= o.minDf && n <= maxDf)
      .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))
      .slice(0, o.maxTerms);
    const vocab = new Map(terms.map(([w], i) => [w, i]));
    const idf = Float64Array.from(terms, ([, n]) => Math.log((1 + docs.length) / (1 + n)) + 1);
    const matrix = tfidfRows(docs, vocab, idf);
    if (vocab.size === 0 || matrix.rows === 0) return new TfidfSvdEmbedder(vocab, idf, new Float64Array(0), 0);
    const svd = truncatedSvd(matrix, o.dims, { seed: o.seed });
    return new TfidfSvdEmbedder(vocab, idf, svd.components, svd.k);
  }

  async embed(texts: string[]): Promise<Float32Array> {
    return this.embedSync(texts);
  }

  embedSync(texts: string[]): Float32Array {
    const m = tfidfRows(texts.map(words), this.vocab, this.idf);
    const k = this.dim;
    const out = new Float32Array(m.rows * k);
    for (let i = 0; i < m.rows; i++) {
      for (let p = m.indptr[i]!; p < m.indptr[i + 1]!; p++) {
        const v = m.data[p]!;
        const co = m.indices[p]! * k;
        for (let c = 0; c < k; c++) out[i * k + c]! += v * this.components[co + c]!;
      }
    }
    normalizeRows(out, k);
    return out;
  }
}

/** The documents' TF-IDF rows, each of unit length. */
function tfidfRows(docs: string[][], vocab: Map<string, number>, idf: Float64Array): SparseRows {
  const indptr = new Int32Array(docs.length + 1);
  const indices: number[] = [];
  const data: number[] = [];
  docs.forEach((d, i) => {
    const tf = new Map<number, number>();
    for (const w of d) {
      const j = vocab.get(w);
      if (j !== undefined) tf.set(j, (tf.get(j) ?? 0) + 1);
    }
    const entries = [...tf].sort((a, b) => a[0] - b[0]).map(([j, n]) => [j, (1 + Math.log(n)) * idf[j]!] as const);
    const norm = Math.sqrt(entries.reduce((s, [, v]) => s + v * v, 0)) || 1;
    for (const [j, v] of entries) {
      indices.push(j);
      data.push(v / norm);
    }
    indptr[i + 1] = indices.length;
  });
  return { rows: docs.length, cols: vocab.size, indptr, indices: Int32Array.from(indices), data: Float64Array.from(data) };
}

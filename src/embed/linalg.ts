/**
 * The little dense and sparse linear algebra the embedders need: a seeded random source, sparse ×
 * dense products, orthonormalisation and a symmetric eigensolver, enough for a randomized truncated
 * SVD (Halko, Martinsson and Tropp 2011). Dense matrices are row-major Float64Arrays.
 */

/** xorshift32: a small, seeded, deterministic source of uniform numbers in [0, 1). */
export function seededRandom(seed: number): () => number {
  let s = seed >>> 0 || 0x9e3779b9;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s / 4294967296;
  };
}

/** A standard normal draw (Box-Muller). */
export function gaussian(random: () => number): number {
  return Math.sqrt(-2 * Math.log(Math.max(random(), 1e-300))) * Math.cos(2 * Math.PI * random());
}

/** A sparse matrix in compressed rows. */
export interface SparseRows {
  rows: number;
  cols: number;
  indptr: Int32Array;
  indices: Int32Array;
  data: Float64Array;
}

/** A (rows×cols, sparse) × M (cols×k, dense): rows×k. */
export function sparseTimesDense(a: SparseRows, m: Float64Array, k: number): Float64Array {
  const out = new Float64Array(a.rows * k);
  for (let i = 0; i < a.rows; i++) {
    const o = i * k;
    for (let p = a.indptr[i]!; p < a.indptr[i + 1]!; p++) {
      const v = a.data[p]!;
      const mo = a.indices[p]! * k;
      for (let c = 0; c < k; c++) out[o + c]! += v * m[mo + c]!;
    }
  }
  return out;
}

/** Aᵀ (cols×rows) × Y (rows×k, dense): cols×k. */
export function sparseTransposeTimesDense(a: SparseRows, y: Float64Array, k: number): Float64Array {
  const out = new Float64Array(a.cols * k);
  for (let i = 0; i < a.rows; i++) {
    const yo = i * k;
    for (let p = a.indptr[i]!; p < a.indptr[i + 1]!; p++) {
      const v = a.data[p]!;
      const o = a.indices[p]! * k;
      for (let c = 0; c < k; c++) out[o + c]! += v * y[yo + c]!;
    }
  }
  return out;
}

/** XᵀX of a rows×k matrix: k×k. */
function gram(x: Float64Array, rows: number, k: number): Float64Array {
  const g = new Float64Array(k * k);
  for (let i = 0; i < rows; i++) {
    const o = i * k;
    for (let a = 0; a < k; a++) {
      const xa = x[o + a]!;
      if (xa === 0) continue;
      const go = a * k;
      for (let b = a; b < k; b++) g[go + b]! += xa * x[o + b]!;
    }
  }
  for (let a = 0; a < k; a++) for (let b = 0; b < a; b++) g[a * k + b] = g[b * k + a]!;
  return g;
}

/**
 * Orthonormalise the columns of a tall rows×k matrix in place, by Cholesky QR twice (CholQR2: as
 * accurate as Householder for the well-conditioned blocks of a randomized SVD, and row-major
 * friendly). Columns that are (numerically) dependent come out as zeros.
 */
export function orthonormalize(x: Float64Array, rows: number, k: number): void {
  for (let pass = 0; pass < 2; pass++) {
    const g = gram(x, rows, k);
    // Cholesky g = RᵀR (upper R), skipping pivots that vanish.
    const r = new Float64Array(k * k);
    for (let j = 0; j < k; j++) {
      let d = g[j * k + j]!;
      for (let p = 0; p < j; p++) d -= r[p * k + j]! ** 2;
      const rjj = d > 1e-12 * (g[j * k + j]! || 1) ? Math.sqrt(d) : 0;
      r[j * k + j] = rjj;
      for (let c = j + 1; c < k; c++) {
        let s = g[j * k + c]!;
        for (let p = 0; p < j; p++) s -= r[p * k + j]! * r[p * k + c]!;
        r[j * k + c] = rjj ? s / rjj : 0;
      }
    }
    // x ← x R⁻¹, one row at a time (forward substitution on each row).
    const row = new Float64Array(k);
    for (let i = 0; i < rows; i++) {
      const o = i * k;
      for (let c = 0; c < k; c++) {
        let s = x[o + c]!;
        for (let p = 0; p < c; p++) s -= row[p]! * r[p * k + c]!;
        row[c] = r[c * k + c] ? s / r[c * k + c]! : 0;
      }
      x.set(row, o);
    }
  }
}

/** Eigenvalues (descending) and eigenvectors (columns) of a small symmetric k×k matrix, by Jacobi rotations. */
export function symmetricEigen(m: Float64Array, k: number): { values: Float64Array; vectors: Float64Array } {
  const a = Float64Array.from(m);
  const v = new Float64Array(k * k);
  for (let i = 0; i < k; i++) v[i * k + i] = 1;
  for (let sweep = 0; sweep < 60; sweep++) {
    let off = 0;
    let diag = 0;
    for (let p = 0; p < k; p++) {
      diag += a[p * k + p]! ** 2;
      for (let q = p + 1; q < k; q++) off += a[p * k + q]! ** 2;
    }
    if (off <= 1e-22 * diag) break;
    for (let p = 0; p < k; p++) {
      for (let q = p + 1; q < k; q++) {
        const apq = a[p * k + q]!;
        if (Math.abs(apq) < 1e-300) continue;
        const theta = (a[q * k + q]! - a[p * k + p]!) / (2 * apq);
        const t = (theta >= 0 ? 1 : -1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1);
        const s = t * c;
        for (let i = 0; i < k; i++) {
          const aip = a[i * k + p]!;
          const aiq = a[i * k + q]!;
          a[i * k + p] = c * aip - s * aiq;
          a[i * k + q] = s * aip + c * aiq;
        }
        for (let i = 0; i < k; i++) {
          const api = a[p * k + i]!;
          const aqi = a[q * k + i]!;
          a[p * k + i] = c * api - s * aqi;
          a[q * k + i] = s * api + c * aqi;
        }
        for (let i = 0; i < k; i++) {
          const vip = v[i * k + p]!;
          const viq = v[i * k + q]!;
          v[i * k + p] = c * vip - s * viq;
          v[i * k + q] = s * vip + c * viq;
        }
      }
    }
  }
  const order = [...Array(k).keys()].sort((x, y) => a[y * k + y]! - a[x * k + x]!);
  const values = new Float64Array(k);
  const vectors = new Float64Array(k * k);
  order.forEach((o, i) => {
    values[i] = a[o * k + o]!;
    for (let r = 0; r < k; r++) vectors[r * k + i] = v[r * k + o]!;
  });
  return { values, vectors };
}

/**
 * The top `k` right singular vectors of A (cols×k, row-major) and their singular values, by a
 * randomized range finder with `powerIterations` passes (Halko et al., algorithm 4.4).
 */
export function truncatedSvd(a: SparseRows, k: number, opts: { oversample?: number; powerIterations?: number; seed?: number } = {}): { components: Float64Array; values: Float64Array; k: number } {
  const rank = Math.min(k, a.rows, a.cols);
  const l = Math.min(rank + (opts.oversample ?? 10), a.rows, a.cols);
  const random = seededRandom(opts.seed ?? 1);
  const omega = new Float64Array(a.cols * l);
  for (let i = 0; i < omega.length; i++) omega[i] = gaussian(random);
  let y = sparseTimesDense(a, omega, l);
  orthonormalize(y, a.rows, l);
  for (let q = 0; q < (opts.powerIterations ?? 2); q++) {
    const z = sparseTransposeTimesDense(a, y, l);
    orthonormalize(z, a.cols, l);
    y = sparseTimesDense(a, z, l);
    orthonormalize(y, a.rows, l);
  }
  // B = QᵀA (l×cols), held as its transpose (cols×l); BBᵀ = (Bᵀ)ᵀBᵀ is l×l.
  const bt = sparseTransposeTimesDense(a, y, l);
  const { values: eig, vectors } = symmetricEigen(gram(bt, a.cols, l), l);
  // Right singular vectors V = Bᵀ U_B Σ⁻¹ (cols×rank).
  const components = new Float64Array(a.cols * rank);
  const values = new Float64Array(rank);
  for (let c = 0; c < rank; c++) values[c] = Math.sqrt(Math.max(eig[c]!, 0));
  for (let j = 0; j < a.cols; j++) {
    const bo = j * l;
    for (let c = 0; c < rank; c++) {
      if (!values[c]) continue;
      let s = 0;
      for (let p = 0; p < l; p++) s += bt[bo + p]! * vectors[p * l + c]!;
      components[j * rank + c] = s / values[c]!;
    }
  }
  return { components, values, k: rank };
}

/** Scale each row of a rows×dim matrix to unit length (zero rows stay zero). */
export function normalizeRows(x: Float32Array | Float64Array, dim: number): void {
  for (let o = 0; o < x.length; o += dim) {
    let s = 0;
    for (let d = 0; d < dim; d++) s += x[o + d]! * x[o + d]!;
    if (s === 0) continue;
    const inv = 1 / Math.sqrt(s);
    for (let d = 0; d < dim; d++) x[o + d]! *= inv;
  }
}

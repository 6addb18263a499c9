/**
 * HDBSCAN (Campello, Moulavi and Sander 2013, as McInnes et al. describe it for the hdbscan library):
 * core distances, the minimum spanning tree of mutual reachability distances, its single-linkage
 * hierarchy condensed at `minClusterSize`, and the clusters of greatest stability (excess of mass).
 * It needs no number of clusters and leaves sparse points as noise (-1). Exact and O(n²) in time,
 * O(n) in memory: meant for the sample a clustering is fitted on (tens of thousands of points in a
 * few dimensions); the other points are assigned to the fitted clusters by their nearest neighbours.
 */

/** Squared Euclidean distance between rows a and b of a flat n × dim matrix. */
function dist2(x: Float32Array, dim: number, a: number, b: number): number {
  let s = 0;
  const oa = a * dim;
  const ob = b * dim;
  for (let d = 0; d < dim; d++) {
    const t = x[oa + d]! - x[ob + d]!;
    s += t * t;
  }
  return s;
}

/** Distance of each point to its k-th nearest other point. */
function coreDistances(x: Float32Array, dim: number, n: number, k: number): Float64Array {
  const core = new Float64Array(n);
  const heap = new Float64Array(k); // max-heap of the k smallest distances seen
  for (let i = 0; i < n; i++) {
    let size = 0;
    for (let j = 0; j < n; j++) {
      if (j === i) continue;
      const d = dist2(x, dim, i, j);
      if (size < k) {
        heap[size] = d;
        let c = size++;
        while (c > 0 && heap[(c - 1) >> 1]! < heap[c]!) {
          const p = (c - 1) >> 1;
          [heap[p], heap[c]] = [heap[c]!, heap[p]!];
          c = p;
        }
      } else if (d < heap[0]!) {
        heap[0] = d;
        let c = 0;
        for (;;) {
          const l = 2 * c + 1;
          const r = l + 1;
          let m = c;
          if (l < k && heap[l]! > heap[m]!) m = l;
          if (r < k && heap[r]! > heap[m]!) m = r;
          if (m === c) break;
          [heap[m], heap[c]] = [heap[c]!, heap[m]!];
          c = m;
        }
      }
    }
    core[i] = Math.sqrt(heap[0]!);
  }
  return core;
}

interface Condensed {
  parent: number;
  /** λ = 1/distance at which the cluster appears. */
  birth: number;
  /** Points that leave the cluster (as noise) and the λ at which they do. */
  points: number[];
  lambdas: number[];
  children: number[];
  size: number;
}

export interface HdbscanResult {
  /** Cluster of each point, -1 for noise. */
  labels: Int32Array;
  clusters: number;
}

export function hdbscan(x: Float32Array, dim: number, opts: { minClusterSize: number; minSamples?: number }): HdbscanResult {
  const n = x.length / dim;
  const minSize = Math.max(2, opts.minClusterSize);
  if (n < minSize) return { labels: new Int32Array(n).fill(-1), clusters: 0 };
  const core = coreDistances(x, dim, n, Math.min(opts.minSamples ?? minSize, n - 1));

  // Prim's algorithm on the complete graph of mutual reachability distances.
  const inTree = new Uint8Array(n);
  const best = new Float64Array(n).fill(Infinity);
  const from = new Int32Array(n).fill(-1);
  const edges: { a: number; b: number; d: number }[] = [];
  let current = 0;
  inTree[0] = 1;
  for (let step = 1; step < n; step++) {
    let next = -1;
    let nextD = Infinity;
    const cc = core[current]!;
    for (let j = 0; j < n; j++) {
      if (inTree[j]) continue;
      const d = Math.max(cc, core[j]!, Math.sqrt(dist2(x, dim, current, j)));
      if (d < best[j]!) {
        best[j] = d;
        from[j] = current;
      }
      if (best[j]! < nextD) {
        nextD = best[j]!;
        next = j;
      }
    }
    inTree[next] = 1;
    edges.push({ a: from[next]!, b: next, d: nextD });
    current = next;
  }
  edges.sort((p, q) => p.d - q.d);

  // Single-linkage hierarchy: leaves 0..n-1, merges n..2n-2.
  const total = 2 * n - 1;
  const uf = Int32Array.from({ length: total }, (_, i) => i);
  const find = (v: number): number => {
    while (uf[v] !== v) {
      uf[v] = uf[uf[v]!]!;
      v = uf[v]!;
    }
    return v;
  };
  const left = new Int32Array(total).fill(-1);
  const right = new Int32Array(total).fill(-1);
  const size = new Int32Array(total).fill(1);
  const height = new Float64Array(total);
  let node = n;
  for (const e of edges) {
    const ra = find(e.a);
    const rb = find(e.b);
    uf[ra] = node;
    uf[rb] = node;
    left[node] = ra;
    right[node] = rb;
    size[node] = size[ra]! + size[rb]!;
    height[node] = e.d;
    node++;
  }

  // Condense: walk down from the root; a split into two parts of at least minSize makes two new
  // clusters, a smaller part falls out of its cluster as noise at that λ.
  const lambda = (d: number) => (d > 0 ? 1 / d : Number.MAX_VALUE);
  const condensed: Condensed[] = [{ parent: -1, birth: 0, points: [], lambdas: [], children: [], size: n }];
  const stack: [number, number][] = [[node - 1, 0]];
  const fallOut = (sub: number, cluster: number, l: number) => {
    const todo = [sub];
    while (todo.length) {
      const v = todo.pop()!;
      if (v < n) {
        condensed[cluster]!.points.push(v);
        condensed[cluster]!.lambdas.push(l);
      } else todo.push(left[v]!, right[v]!);
    }
  };
  while (stack.length) {
    const [v, cluster] = stack.pop()!;
    if (v < n) {
      fallOut(v, cluster, Number.MAX_VALUE);
      continue;
    }
    const l = lambda(height[v]!);
    const a = left[v]!;
    const b = right[v]!;
    const bigA = size[a]! >= minSize;
    const bigB = size[b]! >= minSize;
    if (bigA && bigB) {
      for (const child of [a, b]) {
        condensed.push({ parent: cluster, birth: l, points: [], lambdas: [], children: [], size: size[child]! });
        condensed[cluster]!.children.push(condensed.length - 1);
        stack.push([child, condensed.length - 1]);
      }
    } else {
      for (const [child, big] of [[a, bigA], [b, bigB]] as const) {
        if (big) stack.push([child, cluster]);
        else fallOut(child, cluster, l);
      }
    }
  }

  // Stability: Σ (λ_leave − λ_birth) over the points, children counting as leaving at their birth.
  const stability = condensed.map((c) => {
    let s = 0;
    for (const l of c.lambdas) s += Math.min(l, 1e12) - c.birth;
    for (const ch of c.children) s += condensed[ch]!.size * (condensed[ch]!.birth - c.birth);
    return s;
  });
  // Excess of mass, bottom up (children always come after their parent in `condensed`).
  const selected = new Uint8Array(condensed.length);
  const best2 = new Float64Array(condensed.length);
  for (let i = condensed.length - 1; i >= 0; i--) {
    const c = condensed[i]!;
    const childSum = c.children.reduce((s, ch) => s + best2[ch]!, 0);
    if (c.children.length === 0 || stability[i]! >= childSum) {
      best2[i] = stability[i]!;
      selected[i] = 1;
    } else best2[i] = childSum;
  }
  // The root is a cluster only when nothing ever split: one dense blob.
  if (condensed[0]!.children.length > 0) selected[0] = 0;

  const labels = new Int32Array(n).fill(-1);
  let clusters = 0;
  const label = (i: number, inherited: number) => {
    const c = condensed[i]!;
    const mine = inherited >= 0 ? inherited : selected[i] ? clusters++ : -1;
    if (mine >= 0) for (const p of c.points) labels[p] = mine;
    for (const ch of c.children) label(ch, mine);
  };
  label(0, -1);
  return { labels, clusters };
}

import { estimatedJaccard } from './minhash.js';
import { U32List, U64Map, UnionFind } from './tables.js';

export const EXACT = 0;
export const NEAR = 1;

/** The signature of a document, for verifying a bucket match; `slot` says which of two buffers may be reused. */
export type SignatureOf = (doc: number, slot: 0 | 1) => Uint32Array;

/**
 * Bounds on the bucket members a new document is checked (and walked) against per band. Within
 * them, the clusters are exactly the connected components of "shares a bucket and passes
 * verification" (plus exact matches), whatever the order or sharding of the input; they only cap
 * the work in very large buckets.
 */
const MAX_TESTS = 256;
const MAX_WALK = 2048;

/**
 * Turns bucket collisions into duplicate edges between documents (global indices 0..n-1).
 * Exact keys join documents outright. A band collision is a candidate only: it becomes an edge
 * when the two full signatures agree on at least `threshold` of their positions (an estimate of
 * Jaccard similarity), which drops the chance collisions of plain LSH (at 14x8, a pair at
 * Jaccard 0.5 shares a bucket 5% of the time) while keeping true near-duplicates.
 * A new bucket member is checked against every earlier member it is not yet joined to, directly
 * or through others, so the result does not depend on the order documents come in.
 */
export class EdgeFinder {
  /** (kind, a, b) triples. */
  readonly edges = new U32List();
  private readonly uf: UnionFind;
  verified = 0;
  rejected = 0;

  constructor(
    n: number,
    private readonly threshold: number,
    private readonly signatureOf: SignatureOf,
  ) {
    this.uf = new UnionFind(n);
  }

  /** Exact keys: `entries` holds (hi, lo, doc) triples. Feed these before any band. */
  addExact(entries: Uint32Array): void {
    const first = new U64Map(entries.length / 3);
    for (let i = 0; i < entries.length; i += 3) {
      const doc = entries[i + 2]!;
      const twin = first.getOrSet(entries[i]!, entries[i + 1]!, doc);
      if (twin >= 0) this.edge(EXACT, twin, doc);
    }
  }

  /** One band's bucket keys: (hi, lo, doc) triples. */
  addBand(entries: Uint32Array): void {
    const count = entries.length / 3;
    const head = new U64Map(count); // bucket key -> latest entry; `next` links each entry to the previous one in its bucket
    const next = new Int32Array(count);
    for (let e = 0; e < count; e++) {
      const doc = entries[3 * e + 2]!;
      const prev = head.getOrSet(entries[3 * e]!, entries[3 * e + 1]!, e);
      next[e] = prev;
      if (prev < 0) continue;
      head.set(entries[3 * e]!, entries[3 * e + 1]!, e);
      let tests = 0;
      let walked = 0;
      for (let m = prev; m >= 0 && tests < MAX_TESTS && walked++ < MAX_WALK; m = next[m]!) {
        const other = entries[3 * m + 2]!;
        if (this.uf.find(other) === this.uf.find(doc)) continue; // already joined
        tests++;
        this.verified++;
        if (this.threshold <= 0 || estimatedJaccard(this.signatureOf(other, 0), this.signatureOf(doc, 1)) >= this.threshold) this.edge(NEAR, other, doc);
        else this.rejected++;
      }
    }
  }

  private edge(kind: number, a: number, b: number): void {
    if (!this.uf.union(a, b)) return;
    this.edges.push(kind);
    this.edges.push(a);
    this.edges.push(b);
  }
}

export interface Removal {
  doc: number;
  /** Global index of the cluster's survivor. */
  of: number;
  kind: 'exact' | 'near';
}

export interface Clusters {
  removed: Removal[];
  /** Clusters of two or more documents. */
  clusters: number;
}

/**
 * Union-find clusters from duplicate edges, and one survivor per cluster: the document with the
 * smallest id (ids are content hashes, so this does not depend on how the input was sharded),
 * the earliest one on a tie. Every other member is removed as a duplicate of the survivor; it is an
 * `exact` duplicate when exact-key edges alone join it to the survivor, else `near`.
 */
export function cluster(ids: readonly string[], edges: Iterable<Uint32Array>): Clusters {
  const n = ids.length;
  const all = new UnionFind(n);
  const exact = new UnionFind(n);
  for (const list of edges) {
    for (let i = 0; i < list.length; i += 3) {
      all.union(list[i + 1]!, list[i + 2]!);
      if (list[i] === EXACT) exact.union(list[i + 1]!, list[i + 2]!);
    }
  }
  const best = new Int32Array(n).fill(-1);
  const members = new Int32Array(n);
  for (let d = 0; d < n; d++) {
    const r = all.find(d);
    members[r]!++;
    const b = best[r]!;
    if (b < 0 || ids[d]! < ids[b]!) best[r] = d;
  }
  const removed: Removal[] = [];
  let clusters = 0;
  for (let d = 0; d < n; d++) {
    const r = all.find(d);
    if (r === d && members[d]! > 1) clusters++;
    const s = best[r]!;
    if (s !== d) removed.push({ doc: d, of: s, kind: exact.find(d) === exact.find(s) ? 'exact' : 'near' });
  }
  return { removed, clusters };
}

/** Small typed-array structures that keep dedup's memory at a few bytes per document. */

/** Open-addressing hash map from a 64-bit key (two uint32 halves) to a non-negative int. */
export class U64Map {
  private hi: Uint32Array;
  private lo: Uint32Array;
  private val: Int32Array;
  private mask: number;
  size = 0;

  constructor(expected = 1024) {
    let cap = 16;
    while (cap < expected * 2) cap *= 2;
    this.hi = new Uint32Array(cap);
    this.lo = new Uint32Array(cap);
    this.val = new Int32Array(cap).fill(-1);
    this.mask = cap - 1;
  }

  /** The value stored under the key, or -1 after storing `value` there. */
  getOrSet(hi: number, lo: number, value: number): number {
    if (this.size * 2 >= this.val.length) this.rehash();
    let slot = (lo ^ Math.imul(hi, 0x9e3779b1)) & this.mask;
    for (;;) {
      const v = this.val[slot]!;
      if (v < 0) {
        this.hi[slot] = hi;
        this.lo[slot] = lo;
        this.val[slot] = value;
        this.size++;
        return -1;
      }
      if (this.hi[slot] === hi && this.lo[slot] === lo) return v;
      slot = (slot + 1) & this.mask;
    }
  }

  /** Store `value` under the key, replacing any value there. */
  set(hi: number, lo: number, value: number): void {
    if (this.getOrSet(hi, lo, value) < 0) return;
    let slot = (lo ^ Math.imul(hi, 0x9e3779b1)) & this.mask;
    while (this.hi[slot] !== hi || this.lo[slot] !== lo || this.val[slot]! < 0) slot = (slot + 1) & this.mask;
    this.val[slot] = value;
  }

  private rehash(): void {
    const { hi, lo, val } = this;
    const cap = val.length * 2;
    this.hi = new Uint32Array(cap);
    this.lo = new Uint32Array(cap);
    this.val = new Int32Array(cap).fill(-1);
    this.mask = cap - 1;
    this.size = 0;
    for (let i = 0; i < val.length; i++) if (val[i]! >= 0) this.getOrSet(hi[i]!, lo[i]!, val[i]!);
  }
}

/** A growable uint32 array. */
export class U32List {
  data: Uint32Array;
  length = 0;

  constructor(capacity = 1024) {
    this.data = new Uint32Array(capacity);
  }

  push(x: number): void {
    if (this.length === this.data.length) this.reserve(this.length + 1);
    this.data[this.length++] = x;
  }

  pushAll(xs: ArrayLike<number>): void {
    this.reserve(this.length + xs.length);
    this.data.set(xs, this.length);
    this.length += xs.length;
  }

  /** Room for `n` values in all: growing copies what is held into fresh memory, and on a VM a fresh page costs ~10 us to touch. */
  reserve(n: number): void {
    if (n <= this.data.length) return;
    const bigger = new Uint32Array(Math.max(n, this.data.length * 2));
    bigger.set(this.data.subarray(0, this.length));
    this.data = bigger;
  }

  view(): Uint32Array {
    return this.data.subarray(0, this.length);
  }
}

/** Union-find over 0..n-1 with path halving and union by size. */
export class UnionFind {
  private readonly parent: Int32Array;
  private readonly size: Int32Array;

  constructor(n: number) {
    this.parent = new Int32Array(n);
    for (let i = 0; i < n; i++) this.parent[i] = i;
    this.size = new Int32Array(n).fill(1);
  }

  find(x: number): number {
    const p = this.parent;
    while (p[x] !== x) {
      p[x] = p[p[x]!]!;
      x = p[x]!;
    }
    return x;
  }

  /** Join the sets of a and b; false when they were already one. */
  union(a: number, b: number): boolean {
    let ra = this.find(a);
    let rb = this.find(b);
    if (ra === rb) return false;
    if (this.size[ra]! < this.size[rb]!) [ra, rb] = [rb, ra];
    this.parent[rb] = ra;
    this.size[ra] = this.size[ra]! + this.size[rb]!;
    return true;
  }
}

/**
 * An n-gram -> benchmark items index. N-grams are hashed to 53-bit integers (two independent 32-bit
 * hashes), so lookups allocate no strings; a collision can only add a candidate, which the
 * SequenceMatcher check then rejects. Storage is an open-addressing table over typed arrays with a
 * posting chain per n-gram: millions of n-grams cost tens of MB and build in well under a second.
 */

/** Two 32-bit hashes of each word (FNV-1a and a murmur-style mix), computed once per word. */
export function wordHashes(words: readonly string[]): { h1: Int32Array; h2: Int32Array } {
  const h1 = new Int32Array(words.length);
  const h2 = new Int32Array(words.length);
  for (let w = 0; w < words.length; w++) {
    const s = words[w]!;
    let a = 0x811c9dc5;
    let b = 0x9747b28c ^ s.length;
    for (let i = 0; i < s.length; i++) {
      const c = s.charCodeAt(i);
      a = Math.imul(a ^ c, 0x01000193);
      b = Math.imul(b ^ c, 0x5bd1e995);
      b ^= b >>> 15;
    }
    h1[w] = a;
    h2[w] = b;
  }
  return { h1, h2 };
}

/** Hash of each n-gram start position (length words.length - n + 1, or 0 when too short). */
export function ngramKeys(words: readonly string[], n: number): Float64Array {
  const count = words.length - n + 1;
  if (count <= 0) return new Float64Array(0);
  const { h1, h2 } = wordHashes(words);
  const keys = new Float64Array(count);
  for (let p = 0; p < count; p++) {
    let a = 0x2545f491;
    let b = 0x7fb5d329;
    for (let t = p; t < p + n; t++) {
      a = Math.imul(a ^ h1[t]!, 0x9e3779b1);
      a ^= a >>> 16;
      b = Math.imul(b ^ h2[t]!, 0x85ebca6b);
      b ^= b >>> 13;
    }
    // 32 bits of one hash and 21 of the other: exact in a double; 0 is reserved for empty slots.
    keys[p] = (a >>> 0) * 2097152 + (b >>> 11) || 1;
  }
  return keys;
}

export class NgramIndex {
  private keys: Float64Array;
  private heads: Int32Array;
  private mask: number;
  private distinct = 0;
  // Postings: item id and next posting (-1 ends the chain). Newest first, so a chain's head is the
  // item inserted last — what a Python dict update leaves in place.
  private postItem: Int32Array;
  private postNext: Int32Array;
  private postings = 0;

  constructor(expected = 1 << 16) {
    let cap = 1 << 10;
    while (cap < expected * 2) cap <<= 1;
    this.keys = new Float64Array(cap);
    this.heads = new Int32Array(cap);
    this.mask = cap - 1;
    this.postItem = new Int32Array(expected);
    this.postNext = new Int32Array(expected);
  }

  get size(): number {
    return this.distinct;
  }

  private slot(key: number): number {
    // The top 32 bits of a key are an already mixed 32-bit hash: use them as the slot.
    let s = (key / 2097152) & this.mask;
    const keys = this.keys;
    while (keys[s] !== 0 && keys[s] !== key) s = (s + 1) & this.mask;
    return s;
  }

  /** Record that `item` contains the n-gram `key`. Items must be added in ascending id order. */
  add(key: number, item: number): void {
    let s = this.slot(key);
    if (this.keys[s] === 0) {
      if ((this.distinct + 1) * 2 > this.keys.length) {
        this.grow();
        s = this.slot(key);
      }
      this.keys[s] = key;
      this.heads[s] = -1;
      this.distinct++;
    } else if (this.postItem[this.heads[s]!] === item) return; // same n-gram twice in one item
    if (this.postings === this.postItem.length) {
      const cap = this.postings * 2;
      const items = new Int32Array(cap);
      items.set(this.postItem);
      const next = new Int32Array(cap);
      next.set(this.postNext);
      this.postItem = items;
      this.postNext = next;
    }
    const p = this.postings++;
    this.postItem[p] = item;
    this.postNext[p] = this.heads[s]!;
    this.heads[s] = p;
  }

  private grow(): void {
    const oldKeys = this.keys;
    const oldHeads = this.heads;
    this.keys = new Float64Array(oldKeys.length * 2);
    this.heads = new Int32Array(oldKeys.length * 2);
    this.mask = this.keys.length - 1;
    for (let i = 0; i < oldKeys.length; i++) {
      const k = oldKeys[i]!;
      if (k === 0) continue;
      const s = this.slot(k);
      this.keys[s] = k;
      this.heads[s] = oldHeads[i]!;
    }
  }

  /** The most recently added item with this n-gram, or -1. */
  last(key: number): number {
    const s = this.slot(key);
    return this.keys[s] === 0 ? -1 : this.postItem[this.heads[s]!]!;
  }

  /** Calls `fn` for every item with this n-gram, newest first. */
  forEach(key: number, fn: (item: number) => void): void {
    const s = this.slot(key);
    if (this.keys[s] === 0) return;
    for (let p = this.heads[s]!; p !== -1; p = this.postNext[p]!) fn(this.postItem[p]!);
  }
}

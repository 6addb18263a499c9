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

/**
 * Hashes of every n-gram, for several lengths in one pass: result[i][p] is the key of the
 * `lengths[i]`-word n-gram starting at word p. The length is mixed into the key, so n-grams of
 * different lengths never share a key in one index.
 */
export function ngramKeysMulti(words: readonly string[], lengths: readonly number[]): Float64Array[] {
  const out = lengths.map((n) => new Float64Array(Math.max(0, words.length - n + 1)));
  const longest = Math.max(0, ...lengths);
  if (words.length < Math.min(...lengths)) return out;
  const slot = new Int32Array(longest + 1).fill(-1);
  lengths.forEach((n, i) => (slot[n] = i));
  const { h1, h2 } = wordHashes(words);
  for (let p = 0; p < words.length; p++) {
    let a = 0x2545f491;
    let b = 0x7fb5d329;
    const end = Math.min(words.length, p + longest);
    for (let t = p; t < end; t++) {
      a = Math.imul(a ^ h1[t]!, 0x9e3779b1);
      a ^= a >>> 16;
      b = Math.imul(b ^ h2[t]!, 0x85ebca6b);
      b ^= b >>> 13;
      const i = slot[t - p + 1]!;
      if (i < 0) continue;
      let fa = Math.imul(a ^ (t - p + 1), 0x85ebca6b);
      fa ^= fa >>> 13;
      let fb = Math.imul(b ^ (t - p + 1), 0xc2b2ae35);
      fb ^= fb >>> 16;
      // 32 bits of one hash and 21 of the other: exact in a double; 0 is reserved for empty slots.
      out[i]![p] = (fa >>> 0) * 2097152 + (fb >>> 11) || 1;
    }
  }
  return out;
}

/** Hash of each n-gram start position (length words.length - n + 1, or 0 when too short). */
export const ngramKeys = (words: readonly string[], n: number): Float64Array => ngramKeysMulti(words, [n])[0]!;

export class NgramIndex {
  private keys: Float64Array;
  private heads: Int32Array;
  /** Items per n-gram. */
  private counts: Int32Array;
  private mask: number;
  private distinct = 0;
  // Postings: item id and next posting (-1 ends the chain). Newest first, so a chain's head is the
  // item inserted last — what a Python dict update leaves in place.
  private postItem: Int32Array;
  private postNext: Int32Array;
  private postings = 0;
  // One bit per hashed n-gram (a one-hash Bloom filter of 4 MB): most n-grams of a clean sample
  // are absent, and this answers for them without touching the much larger table.
  private readonly present = new Int32Array(1 << 20);

  constructor(expected = 1 << 16) {
    let cap = 1 << 10;
    while (cap < expected * 2) cap <<= 1;
    this.keys = new Float64Array(cap);
    this.heads = new Int32Array(cap);
    this.counts = new Int32Array(cap);
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
    const bit = (key / 268435456) & 0x1ffffff; // bits 7-31 of the high hash; the slot uses the low ones
    this.present[bit >>> 5]! |= 1 << (bit & 31);
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
    this.counts[s]!++;
  }

  private grow(): void {
    const oldKeys = this.keys;
    const oldHeads = this.heads;
    const oldCounts = this.counts;
    this.keys = new Float64Array(oldKeys.length * 2);
    this.heads = new Int32Array(oldKeys.length * 2);
    this.counts = new Int32Array(oldKeys.length * 2);
    this.mask = this.keys.length - 1;
    for (let i = 0; i < oldKeys.length; i++) {
      const k = oldKeys[i]!;
      if (k === 0) continue;
      const s = this.slot(k);
      this.keys[s] = k;
      this.heads[s] = oldHeads[i]!;
      this.counts[s] = oldCounts[i]!;
    }
  }

  /** The first posting of this n-gram (its newest item), or -1; walk on with `next`. */
  head(key: number): number {
    const bit = (key / 268435456) & 0x1ffffff;
    if ((this.present[bit >>> 5]! & (1 << (bit & 31))) === 0) return -1;
    const s = this.slot(key);
    return this.keys[s] === 0 ? -1 : this.heads[s]!;
  }

  /** How many items hold this n-gram. */
  count(key: number): number {
    const s = this.slot(key);
    return this.keys[s] === 0 ? 0 : this.counts[s]!;
  }

  /** The item of a posting. */
  item(posting: number): number {
    return this.postItem[posting]!;
  }

  /** The next (older) posting of the same n-gram, or -1. */
  next(posting: number): number {
    return this.postNext[posting]!;
  }

  /** The most recently added item with this n-gram, or -1. */
  last(key: number): number {
    const p = this.head(key);
    return p === -1 ? -1 : this.postItem[p]!;
  }

  /** Every item with this n-gram, newest first. */
  items(key: number): number[] {
    const out: number[] = [];
    for (let p = this.head(key); p !== -1; p = this.postNext[p]!) out.push(this.postItem[p]!);
    return out;
  }
}

/**
 * An n-gram -> benchmark items index. N-grams are hashed to 53-bit integers (two independent 32-bit
 * hashes), so lookups allocate no strings; a collision can only add a candidate, which the
 * SequenceMatcher check then rejects. Storage is an open-addressing table over typed arrays with a
 * posting chain per n-gram: millions of n-grams cost tens of MB and build in about a second.
 */

import { ASCII_LOWER, normaliseChar } from './normalize.js';

/**
 * Two 32-bit hashes per word; `count` words are filled. The first is FNV-1a over the characters.
 * The second comes from two running sums of the characters (a Fletcher checksum), mixed once at
 * the word's end: additions run beside FNV's multiply chain, where a second multiply chain per
 * character made hashing 8-14% slower.
 */
export interface WordHashes {
  h1: Int32Array;
  h2: Int32Array;
  count: number;
  /** Where each word starts and ends in the text hashed (absent where the text took the slow path). */
  starts?: Int32Array;
  ends?: Int32Array;
}

/** Hashes of each word. */
export function wordHashes(words: readonly string[]): WordHashes {
  const h1 = new Int32Array(words.length);
  const h2 = new Int32Array(words.length);
  for (let w = 0; w < words.length; w++) {
    const s = words[w]!;
    let a = 0x811c9dc5;
    let s1 = 0;
    let s2 = 0;
    for (let i = 0; i < s.length; i++) {
      const c = s.charCodeAt(i);
      a = Math.imul(a ^ c, 0x01000193);
      s1 = (s1 + c) | 0;
      s2 = (s2 + s1) | 0;
    }
    h1[w] = a;
    h2[w] = sumsHash(s1, s2, s.length);
  }
  return { h1, h2, count: words.length };
}

/** A word's second hash from its two character sums and its length. */
function sumsHash(s1: number, s2: number, length: number): number {
  let b = Math.imul(s1 ^ Math.imul(s2, 0x5bd1e995), 0x85ebca6b) ^ length;
  b ^= b >>> 13;
  b = Math.imul(b, 0xc2b2ae35);
  return b ^ (b >>> 16);
}

// Reused between calls: a fresh pair of arrays per sample costs more in allocation and GC than
// the hashing itself on long texts.
let scratch1 = new Int32Array(1 << 14);
let scratch2 = new Int32Array(1 << 14);
let scratchStarts = new Int32Array(1 << 14);
let scratchEnds = new Int32Array(1 << 14);

/** Hash the words of `text` into the scratch arrays; their count, or -1 where the text needs the slow path. */
function hashWordsInto(text: string, minLength: number): number {
  const n = text.length;
  if (scratch1.length <= n) {
    scratch1 = new Int32Array(n * 2);
    scratch2 = new Int32Array(n * 2);
    scratchStarts = new Int32Array(n * 2);
    scratchEnds = new Int32Array(n * 2);
  }
  const h1 = scratch1;
  const h2 = scratch2;
  const starts = scratchStarts;
  const ends = scratchEnds;
  let count = 0;
  let len = 0;
  let start = 0;
  let a = 0x811c9dc5;
  let s1 = 0;
  let s2 = 0;
  // One step past the end closes the last word. (The word end is written out inline: a shared
  // closure would put these counters in a context object, several times slower.)
  for (let i = 0; i <= n; i++) {
    let c = i < n ? text.charCodeAt(i) : 32;
    let lower = c < 128 ? ASCII_LOWER[c]! : 255;
    if (lower !== 0 && lower !== 255) {
      // A run of ASCII word characters, the common case, in a loop of its own.
      if (len === 0) start = i;
      do {
        a = Math.imul(a ^ lower, 0x01000193);
        s1 = (s1 + lower) | 0;
        s2 = (s2 + s1) | 0;
        len++;
        c = ++i < n ? text.charCodeAt(i) : 32;
        lower = c < 128 ? ASCII_LOWER[c]! : 255;
      } while (lower !== 0 && lower !== 255);
    }
    const at = i;
    if (lower === 255) {
      const cp = text.codePointAt(i)!;
      if (cp > 0xffff) i++;
      const piece = normaliseChar(cp);
      if (piece === undefined) return -1;
      if (piece !== null) {
        if (len === 0) start = at;
        for (let j = 0; j < piece.length; j++) {
          const u = piece.charCodeAt(j);
          a = Math.imul(a ^ u, 0x01000193);
          s1 = (s1 + u) | 0;
          s2 = (s2 + s1) | 0;
        }
        len += piece.length;
        continue;
      }
    }
    // A separator: the word so far, if any, ends here.
    if (len >= minLength) {
      h1[count] = a;
      h2[count] = sumsHash(s1, s2, len);
      starts[count] = start;
      ends[count] = at;
      count++;
    }
    len = 0;
    a = 0x811c9dc5;
    s1 = 0;
    s2 = 0;
  }
  return count;
}

/**
 * The hashes of a text's normalised words of at least `minLength` characters, the same as
 * `wordHashes(normalizeWords(text).filter(...))`, hashed straight from the characters without
 * building a string per word. The result is only valid until the next call (its arrays are reused).
 * Texts the per-character shortcut cannot match exactly (Greek capital sigma, whose lowercase
 * depends on its neighbours; rare mixed decompositions) take `normalize`.
 */
export function textWordHashes(text: string, minLength: number, normalize: (t: string) => string[]): WordHashes {
  // The rare slow path stays out of the hashing loop's function: inlined there, it slows every
  // text by a third.
  const count = hashWordsInto(text, minLength);
  return count >= 0 ? { h1: scratch1, h2: scratch2, count, starts: scratchStarts, ends: scratchEnds } : wordHashes(normalize(text).filter((w) => w.length >= minLength));
}

/**
 * Hashes of every n-gram, for several lengths in one pass: result[i][p] is the key of the
 * `lengths[i]`-word n-gram starting at word p. The length is mixed into the key, so n-grams of
 * different lengths never share a key in one index.
 */
export function ngramKeysMulti(words: readonly string[] | WordHashes, lengths: readonly number[]): Float64Array[] {
  const { h1, h2, count } = Array.isArray(words) ? wordHashes(words) : (words as WordHashes);
  const out = lengths.map((n) => new Float64Array(Math.max(0, count - n + 1)));
  const longest = Math.max(0, ...lengths);
  if (count < Math.min(...lengths)) return out;
  const slot = new Int32Array(longest + 1).fill(-1);
  lengths.forEach((n, i) => (slot[n] = i));
  for (let p = 0; p < count; p++) {
    let a = 0x2545f491;
    let b = 0x7fb5d329;
    const end = Math.min(count, p + longest);
    for (let t = p; t < end; t++) {
      a = Math.imul(a ^ h1[t]!, 0x9e3779b1);
      a ^= a >>> 16;
      b = Math.imul(b ^ h2[t]!, 0x85ebca6b);
      b ^= b >>> 13;
      const i = slot[t - p + 1]!;
      if (i < 0) continue;
      out[i]![p] = finalKey(a, b, t - p + 1);
    }
  }
  return out;
}

/** Hash of each n-gram start position (length words.length - n + 1, or 0 when too short). */
export const ngramKeys = (words: readonly string[], n: number): Float64Array => ngramKeysMulti(words, [n])[0]!;

/**
 * A zeroed typed array in shared memory. The index lives there from the start, so that worker
 * threads read it as it is: copying it over when they start cost half a second.
 */
function sharedArray<T extends Int32Array | Float64Array>(kind: new (buffer: SharedArrayBuffer) => T, length: number): T {
  const bytes = kind === (Float64Array as unknown) ? 8 : 4;
  return new kind(new SharedArrayBuffer(length * bytes));
}

/** An object of `cls` with these fields, made without running its constructor (from shared state). */
const revive = <T extends object>(cls: { prototype: T }, fields: object): T => Object.assign(Object.create(cls.prototype) as T, fields);

/**
 * A Bloom filter over n-gram keys, about 8 bits per key up to 4 MB: it answers "absent"
 * for most n-grams of a clean sample from a small array that stays in cache.
 */
export class KeyFilter {
  private readonly words: Int32Array;
  private readonly mask: number;

  constructor(expected: number) {
    let bits = 1 << 16;
    while (bits < expected * 8 && bits < 1 << 25) bits <<= 1;
    this.words = sharedArray(Int32Array, bits >>> 5);
    this.mask = this.words.length - 1;
  }

  // Three bits per key in one 32-bit word (one cache miss): the word from the key's top hash bits,
  // the bits from its lowest ones, both independent of the bits that pick a table slot. With two
  // bits, 3.6% of the positions of long samples passed the gate, with three 2.7%, and each
  // position that passes costs about ten times one that does not.
  private static pattern(key: number): number {
    const low = key >>> 0;
    return (1 << (low & 31)) | (1 << ((low >>> 5) & 31)) | (1 << ((low >>> 10) & 31));
  }

  add(key: number): void {
    this.words[((key / 4294967296) >>> 0) & this.mask]! |= KeyFilter.pattern(key);
  }

  has(key: number): boolean {
    return this.bit(key) !== 0;
  }

  /** 1 when the key may be present, else 0. */
  bit(key: number): number {
    const p = KeyFilter.pattern(key);
    return (this.words[((key / 4294967296) >>> 0) & this.mask]! & p) === p ? 1 : 0;
  }

  /** Its state (in shared memory), for `KeyFilter.from` in a worker thread. */
  share(): object {
    return { words: this.words, mask: this.mask };
  }

  static from(state: object): KeyFilter {
    return revive(KeyFilter, state);
  }
}

export class NgramIndex {
  // Open addressing: the n-gram's key (0 marks an empty slot) and its item, or where its chain of
  // items starts. Most n-grams belong to one item, which the slot holds itself (a value >= 0); an
  // n-gram of several items holds -2 - its first posting. All ten benchmarks then take 64 MB, where
  // a posting for every n-gram took 102 MB, and memory is what a run pays to read the index back
  // (~11 us for each 4 KB page first touched, here).
  private keys: Float64Array;
  private values: Int32Array;
  private mask: number;
  private distinct = 0;
  // Postings of shared n-grams: item id and next posting (-1 ends the chain). Newest first, so a
  // chain's head is the item inserted last — what a Python dict update leaves in place.
  private postItem: Int32Array;
  private postNext: Int32Array;
  private postings = 0;
  // Most n-grams of a clean sample are absent; the filter answers for them without touching the
  // much larger table.
  private readonly filter: KeyFilter;

  /** `expected`: about how many distinct n-grams will be added (the table grows past it). */
  constructor(expected = 1 << 16) {
    this.filter = new KeyFilter(expected);
    let cap = 1 << 10;
    // Up to 0.7 full, the load at which it grows: `expected` counts an n-gram each time an item has
    // it, ~10% more than the distinct ones.
    while (cap * 0.7 < expected) cap <<= 1;
    this.keys = sharedArray(Float64Array, cap);
    this.values = sharedArray(Int32Array, cap);
    this.mask = cap - 1;
    this.postItem = sharedArray(Int32Array, 1024);
    this.postNext = sharedArray(Int32Array, 1024);
  }

  get size(): number {
    return this.distinct;
  }

  /** The slot holding `key`, or the empty slot where it would go. */
  private slot(key: number): number {
    // The top 32 bits of a key are an already mixed 32-bit hash: their low bits pick the slot.
    let s = (key / 2097152) & this.mask;
    const k = this.keys;
    while (k[s] !== 0 && k[s] !== key) s = (s + 1) & this.mask;
    return s;
  }

  /** A new posting of `item` before `next`. */
  private post(item: number, next: number): number {
    if (this.postings === this.postItem.length) {
      const items = sharedArray(Int32Array, this.postings * 2);
      items.set(this.postItem);
      const nexts = sharedArray(Int32Array, this.postings * 2);
      nexts.set(this.postNext);
      this.postItem = items;
      this.postNext = nexts;
    }
    this.postItem[this.postings] = item;
    this.postNext[this.postings] = next;
    return this.postings++;
  }

  /** Record that `item` contains the n-gram `key`. Items must be added in ascending id order. */
  add(key: number, item: number): void {
    this.filter.add(key);
    let s = this.slot(key);
    if (this.keys[s] === 0) {
      if ((this.distinct + 1) / (this.mask + 1) > 0.7) {
        this.grow();
        s = this.slot(key);
      }
      this.keys[s] = key;
      this.values[s] = item;
      this.distinct++;
      return;
    }
    const v = this.values[s]!;
    // The same n-gram twice in one item counts once.
    if (v >= 0) {
      if (v !== item) this.values[s] = -2 - this.post(item, this.post(v, -1));
    } else if (this.postItem[-2 - v] !== item) this.values[s] = -2 - this.post(item, -2 - v);
  }

  private grow(): void {
    const { keys, values } = this;
    this.keys = sharedArray(Float64Array, keys.length * 2);
    this.values = sharedArray(Int32Array, keys.length * 2);
    this.mask = this.keys.length - 1;
    for (let i = 0; i < keys.length; i++) {
      if (keys[i] === 0) continue;
      const s = this.slot(keys[i]!);
      this.keys[s] = keys[i]!;
      this.values[s] = values[i]!;
    }
  }

  /** Its state (in shared memory), for `NgramIndex.from` in a worker thread (no more adds after this). */
  share(): object {
    const { mask, distinct, postings } = this;
    return {
      keys: this.keys,
      values: this.values,
      mask,
      distinct,
      postItem: this.postItem.subarray(0, postings),
      postNext: this.postNext.subarray(0, postings),
      postings,
      filter: this.filter.share(),
    };
  }

  static from(state: object): NgramIndex {
    const s = state as { filter: object };
    return revive(NgramIndex, { ...s, filter: KeyFilter.from(s.filter) });
  }

  /**
   * What the index holds for this n-gram: -1 for nothing, its one item (>= 0), or for several
   * items -2 - the first posting of their chain (walk it with `item` and `next`).
   */
  lookup(key: number): number {
    if (!this.filter.has(key)) return -1;
    const s = this.slot(key);
    return this.keys[s] === 0 ? -1 : this.values[s]!;
  }

  /** The item of a posting. */
  item(posting: number): number {
    return this.postItem[posting]!;
  }

  /** The next (older) posting of the same n-gram, or -1. */
  next(posting: number): number {
    return this.postNext[posting]!;
  }

  /** How many items hold the n-gram whose chain starts at posting `head`, counting no further than `limit + 1`. */
  chainLength(head: number, limit: number): number {
    let n = 0;
    for (let p = head; p !== -1 && n <= limit; p = this.postNext[p]!) n++;
    return n;
  }

  /** Every item with this n-gram, newest first. */
  items(key: number): number[] {
    const v = this.lookup(key);
    if (v >= -1) return v === -1 ? [] : [v];
    const out: number[] = [];
    for (let p = -2 - v; p !== -1; p = this.postNext[p]!) out.push(this.postItem[p]!);
    return out;
  }

  /** The most recently added item with this n-gram, or -1. */
  last(key: number): number {
    return this.items(key)[0] ?? -1;
  }
}

/** The key of an n-gram of `n` words from its mixed word hashes (as in ngramKeysMulti). */
function finalKey(a: number, b: number, n: number): number {
  let fa = Math.imul(a ^ n, 0x85ebca6b);
  fa ^= fa >>> 13;
  let fb = Math.imul(b ^ n, 0xc2b2ae35);
  fb ^= fb >>> 16;
  // 32 bits of one hash and 21 of the other: exact in a double; 0 is reserved for empty slots.
  return (fa >>> 0) * 2097152 + (fb >>> 11) || 1;
}

/**
 * Gate keys: for every position p, a key of the n words from p on, from polynomial hashes of the
 * word hashes rolled along the text: a few multiplications per position where an n-gram key costs
 * n mixing steps. (Not the index's keys: only the gate sees them.) Returns how many were written.
 */
function gateKeysOf(words: WordHashes, n: number, out: Float64Array): number {
  const { h1, h2, count } = words;
  const positions = count - n + 1;
  if (positions <= 0) return 0;
  const P = 0x01000193;
  let top = 1; // P^(n - 1)
  for (let i = 1; i < n; i++) top = Math.imul(top, P);
  let g1 = 0;
  let g2 = 0;
  for (let t = 0; t < n; t++) {
    g1 = (Math.imul(g1, P) + h1[t]!) | 0;
    g2 = (Math.imul(g2, P) + h2[t]!) | 0;
  }
  out[0] = finalKey(g1, g2, n);
  for (let p = 1; p < positions; p++) {
    g1 = (Math.imul(g1 - Math.imul(h1[p - 1]!, top), P) + h1[p + n - 1]!) | 0;
    g2 = (Math.imul(g2 - Math.imul(h2[p - 1]!, top), P) + h2[p + n - 1]!) | 0;
    out[p] = finalKey(g1, g2, n);
  }
  return positions;
}

// Reused by every search (see textWordHashes).
let gateKeys = new Float64Array(1 << 14);
let passed = new Uint8Array(1 << 14);

/**
 * N-gram indexes of several lengths, searched in one pass over a text. Every indexed n-gram's first
 * `prefix` words also go into one gate filter, so a text position that starts no indexed n-gram
 * costs one rolled gate key and one probe of a 4 MB filter; only positions that pass the gate
 * (about 3% of a clean text's) compute their n-gram keys and look them up.
 */
export class NgramIndexSet {
  private readonly byLength = new Map<number, NgramIndex>();
  /** Indexed lengths, ascending, each at least `prefix`. */
  private readonly lengths: number[];
  private readonly gate: KeyFilter;

  /** `expected`: per n-gram length, about how many n-grams items will add. */
  constructor(
    readonly prefix: number,
    expected: ReadonlyMap<number, number>,
  ) {
    this.lengths = [...expected.keys()].sort((x, y) => x - y);
    if (this.lengths.some((k) => k < prefix)) throw new Error(`n-gram lengths ${this.lengths.join(', ')} must be at least the gate's ${prefix}`);
    for (const [k, count] of expected) this.byLength.set(k, new NgramIndex(count));
    this.gate = new KeyFilter([...expected.values()].reduce((x, y) => x + y, 0));
  }

  /** Its state (in shared memory), for `NgramIndexSet.from` in a worker thread (no more adds after this). */
  share(): object {
    return {
      prefix: this.prefix,
      lengths: this.lengths,
      gate: this.gate.share(),
      byLength: [...this.byLength].map(([k, index]) => [k, index.share()]),
    };
  }

  static from(state: object): NgramIndexSet {
    const s = state as { prefix: number; lengths: number[]; gate: object; byLength: [number, object][] };
    return revive(NgramIndexSet, {
      prefix: s.prefix,
      lengths: s.lengths,
      gate: KeyFilter.from(s.gate),
      byLength: new Map(s.byLength.map(([k, index]) => [k, NgramIndex.from(index)])),
    });
  }

  /** Distinct n-grams over all lengths. */
  get size(): number {
    let n = 0;
    for (const index of this.byLength.values()) n += index.size;
    return n;
  }

  /** Index every `k`-gram of an item's words. Items must be added in ascending id order. */
  add(words: WordHashes, k: number, item: number): void {
    const index = this.byLength.get(k);
    if (!index) throw new Error(`no index for ${k}-grams`);
    const keys = ngramKeysMulti(words, [k])[0]!;
    if (gateKeys.length < keys.length) gateKeys = new Float64Array(keys.length * 2);
    gateKeysOf(words, this.prefix, gateKeys);
    for (let p = 0; p < keys.length; p++) {
      index.add(keys[p]!, item);
      this.gate.add(gateKeys[p]!);
    }
  }

  /**
   * Call `visit(item, position, length)` for every item sharing an indexed n-gram with `words`, in
   * text order, newest item first at each n-gram. N-grams held by more than `maxChain` items are
   * skipped. `visit` returns true to stop the search.
   */
  find(words: WordHashes, maxChain: number, visit: (item: number, at: number, length: number) => boolean): void {
    const { h1, h2, count } = words;
    const prefix = this.prefix;
    const positions = count - prefix + 1;
    if (positions <= 0) return;
    // Three passes: the gate keys of every position, then the gate probes in a loop of
    // independent loads (so their cache misses overlap), then the longer keys of the few positions
    // that passed.
    if (gateKeys.length < positions) gateKeys = new Float64Array(positions * 2);
    if (passed.length < positions) passed = new Uint8Array(positions * 2);
    const keys = gateKeys;
    gateKeysOf(words, prefix, keys);
    const gate = this.gate;
    for (let p = 0; p < positions; p++) passed[p] = gate.bit(keys[p]!);
    const lengths = this.lengths;
    const longest = lengths[lengths.length - 1]!;
    for (let p = 0; p < positions; p++) {
      if (passed[p] === 0) continue;
      // The same mixing as ngramKeysMulti, extended one word at a time.
      let a = 0x2545f491;
      let b = 0x7fb5d329;
      let li = 0;
      const end = Math.min(count, p + longest);
      for (let t = p; t < end; t++) {
        a = Math.imul(a ^ h1[t]!, 0x9e3779b1);
        a ^= a >>> 16;
        b = Math.imul(b ^ h2[t]!, 0x85ebca6b);
        b ^= b >>> 13;
        const n = t - p + 1;
        if (n !== lengths[li]) continue;
        li++;
        const index = this.byLength.get(n)!;
        const v = index.lookup(finalKey(a, b, n));
        if (v === -1 || maxChain < 1) continue;
        if (v >= 0) {
          if (visit(v, p, n)) return;
          continue;
        }
        const head = -2 - v;
        if (maxChain < Infinity && index.chainLength(head, maxChain) > maxChain) continue;
        for (let q = head; q !== -1; q = index.next(q)) if (visit(index.item(q), p, n)) return;
      }
    }
  }
}

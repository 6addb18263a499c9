/**
 * The words of each block of rows, so that a search reads only the blocks that can hold it.
 *
 * A word is a run of ASCII letters and digits after folding. The search is case-insensitive (RE2's
 * `(?i)`, simple case folding), so both sides fold alike: ASCII letters to lower case, and the only
 * two non-ASCII characters whose fold orbit holds an ASCII letter (KELVIN SIGN with k, LONG S with
 * s) to that letter; every other character ends a word. A text that matches a query then holds,
 * for each word of the query, a word that contains it: a block without one is skipped, and the
 * regex decides within the blocks kept. (Trigram sketches per block were tried first: over 1,024
 * texts of English nearly every trigram occurs, and a word found nowhere still passed 94% of them.)
 */

const SEP = -1;

/** The folded character code of `c` if it belongs in a word, else -1. */
function wordChar(c: number): number {
  if (c >= 97 && c <= 122) return c;
  if (c >= 65 && c <= 90) return c + 32;
  if (c >= 48 && c <= 57) return c;
  if (c === 0x212a) return 107;
  if (c === 0x17f) return 115;
  return SEP;
}

/** The folded words of `text`, as strings (for queries: a few words). */
export function wordsOf(text: string): string[] {
  const out: string[] = [];
  let word = '';
  for (let i = 0; i <= text.length; i++) {
    const c = i < text.length ? wordChar(text.charCodeAt(i)) : SEP;
    if (c !== SEP) word += String.fromCharCode(c);
    else if (word) {
      out.push(word);
      word = '';
    }
  }
  return out;
}

/**
 * The vocabulary of a dataset and the words of each block, built text by text. Words are found by a
 * two-lane hash of their characters, so a string is made only for a word not seen before.
 */
export class BlockWords {
  /** Every word, in the order first seen; its place is its id. */
  readonly vocabulary: string[] = [];
  private readonly ids = new Map<number, number>();
  /** For each word id, 1 + the last block it was listed in. */
  private seen = new Uint32Array(1 << 16);
  private current: number[] = [];
  private block = 0;
  /** Word ids of each finished block, ascending; `starts[b]` is where block b's begin. */
  private readonly lists: Uint32Array[] = [];

  /** Adds the words of `text`, a text of block `block` (blocks come in order). */
  add(block: number, text: string): void {
    while (block > this.block) this.endBlock();
    let h1 = 0;
    let h2 = 0;
    let start = -1;
    for (let i = 0; i <= text.length; i++) {
      const c = i < text.length ? wordChar(text.charCodeAt(i)) : SEP;
      if (c !== SEP) {
        if (start < 0) {
          start = i;
          h1 = 0x811c9dc5;
          h2 = 0x1b873593;
        }
        h1 = Math.imul(h1 ^ c, 0x01000193);
        h2 = Math.imul(h2 ^ c, 0x5bd1e995) + 0x2d;
        continue;
      }
      if (start < 0) continue;
      // 53 bits of two hashes (and the length): two words of a million share one about once in 10^4 datasets.
      const key = (h1 >>> 0) * 2 ** 21 + (((h2 >>> 16) ^ (i - start)) & 0x1fffff);
      let id = this.ids.get(key);
      if (id === undefined) {
        id = this.vocabulary.length;
        this.ids.set(key, id);
        this.vocabulary.push(wordsOf(text.slice(start, i)).join(''));
        if (id >= this.seen.length) {
          const grown = new Uint32Array(this.seen.length * 2);
          grown.set(this.seen);
          this.seen = grown;
        }
      }
      if (this.seen[id] !== this.block + 1) {
        this.seen[id] = this.block + 1;
        this.current.push(id);
      }
      start = -1;
    }
  }

  private endBlock(): void {
    this.lists.push(Uint32Array.from(this.current).sort());
    this.current = [];
    this.block++;
  }

  /** The finished index over `blocks` blocks. */
  finish(blocks: number): WordIndex {
    while (this.block < blocks) this.endBlock();
    const starts = new Uint32Array(blocks + 1);
    for (let b = 0; b < blocks; b++) starts[b + 1] = starts[b]! + this.lists[b]!.length;
    const ids = new Uint32Array(starts[blocks]!);
    this.lists.forEach((l, b) => ids.set(l, starts[b]));
    return new WordIndex(this.vocabulary, starts, ids);
  }
}

export class WordIndex {
  /** The vocabulary in one string, each word after a newline, for a fast substring search. */
  private readonly joined: string;
  /** Where each word starts in `joined`. */
  private readonly offsets: Uint32Array;

  constructor(
    readonly vocabulary: string[],
    /** Block b's word ids are `ids[starts[b] .. starts[b + 1]]`, ascending. */
    readonly starts: Uint32Array,
    readonly ids: Uint32Array,
  ) {
    this.joined = `\n${vocabulary.join('\n')}`;
    this.offsets = new Uint32Array(vocabulary.length);
    let at = 1;
    vocabulary.forEach((w, i) => {
      this.offsets[i] = at;
      at += w.length + 1;
    });
  }

  get blocks(): number {
    return this.starts.length - 1;
  }

  /** Ids of the words that contain `part`. */
  private containing(part: string): number[] {
    const out: number[] = [];
    let last = -1;
    for (let at = this.joined.indexOf(part); at >= 0; at = this.joined.indexOf(part, at + 1)) {
      // The word holding position `at`: the last offset not after it.
      let lo = 0;
      let hi = this.offsets.length - 1;
      while (lo < hi) {
        const mid = (lo + hi + 1) >>> 1;
        if (this.offsets[mid]! <= at) lo = mid;
        else hi = mid - 1;
      }
      if (lo !== last) out.push((last = lo));
    }
    return out;
  }

  /** Whether each block may hold a text containing `query`: 1 for yes, 0 for surely not. */
  blocksFor(query: string): Uint8Array {
    const pass = new Uint8Array(this.blocks).fill(1);
    for (const part of new Set(wordsOf(query))) {
      const ids = this.containing(part);
      const wanted = new Uint8Array(this.vocabulary.length);
      for (const id of ids) wanted[id] = 1;
      for (let b = 0; b < this.blocks; b++) {
        if (!pass[b]) continue;
        let any = 0;
        if (ids.length <= 8) {
          for (const id of ids) if ((any = this.has(b, id))) break;
        } else {
          for (let i = this.starts[b]!, end = this.starts[b + 1]!; i < end && !any; i++) any = wanted[this.ids[i]!]!;
        }
        pass[b] = any;
      }
    }
    return pass;
  }

  /** Whether block b lists word `id` (a binary search of its ascending ids). */
  private has(b: number, id: number): number {
    let lo = this.starts[b]!;
    let hi = this.starts[b + 1]!;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const v = this.ids[mid]!;
      if (v === id) return 1;
      if (v < id) lo = mid + 1;
      else hi = mid;
    }
    return 0;
  }
}

/**
 * Python's difflib.SequenceMatcher(None, a, b, autojunk=False).get_matching_blocks(), reimplemented
 * over typed arrays. Without junk the result depends only on the longest-match rule (earliest in a,
 * then earliest in b) and the split-and-recurse order, both reproduced here, so the blocks are the
 * same as Python's (the tests compare against the `difflib` port). It is several times faster than
 * the generic port, and the `b` side (a benchmark item) is prepared once and reused for every sample.
 */

export interface Block {
  /** Start in a. */
  a: number;
  /** Start in b. */
  b: number;
  size: number;
}

/**
 * b's substrings of n characters, by hash, in flat arrays (thousands of items stay prepared for the
 * whole run: a Map of small arrays per item cost the garbage collector a third of the run): an
 * open-addressing table from hash to the first start position, and `next` chaining the starts of
 * one hash in ascending order (-1 ends a chain).
 */
interface GramTable {
  n: number;
  /**
   * A bit per hash (16 bits per substring): most of a's substrings are not in b, and one bit
   * says so where a probe of the table, half full, took 2.5 slots on average.
   */
  bits: Int32Array;
  bitMask: number;
  mask: number;
  slotHash: Int32Array;
  slotHead: Int32Array;
  next: Int32Array;
}

/**
 * The second sequence (a benchmark item), with its lookup table kept from its second match on: most
 * items a run meets are matched once, and a table of their own (~30 bytes a character) was fresh
 * memory, whose page faults cost more than building the table (1,878 items met in 3,000 samples:
 * ~10,000 faults, ~150 ms on this VM); a first match builds it in reused memory instead.
 */
export interface PreparedB {
  readonly text: string;
  grams?: GramTable;
  /** Matched before, without a table kept. */
  seen?: boolean;
}

export const prepareB = (text: string): PreparedB => ({ text });

// Runs of matching characters (see `matchingRuns`), in flat scratch arrays reused by every call:
// matching is synchronous, so one set serves every call.
let runA = new Int32Array(1024);
let runB = new Int32Array(1024);
let runLen = new Int32Array(1024);
// The runs that reach into each box still to be searched: a segment per box.
let boxRuns = new Int32Array(1024);
// Per diagonal (b - a + la): the call and the a position that last extended a run there, and which run.
let diagCall = new Int32Array(0);
let diagAt = new Int32Array(0);
let diagRun = new Int32Array(0);
let calls = 0;

const P = 0x01000193;

/** Polynomial hashes of every `n`-unit substring, rolled along: hashes[i] covers codes[i, i + n). */
function gramHashes(codes: Uint16Array, from: number, to: number, n: number, out: Int32Array): number {
  const count = to - from - n + 1;
  if (count <= 0) return 0;
  let pn = 1; // P^(n-1)
  for (let i = 1; i < n; i++) pn = Math.imul(pn, P);
  let h = 0;
  for (let i = from; i < from + n; i++) h = (Math.imul(h, P) + codes[i]!) | 0;
  out[0] = h;
  for (let i = 1; i < count; i++) {
    h = (Math.imul(h - Math.imul(codes[from + i - 1]!, pn), P) + codes[from + i + n - 1]!) | 0;
    out[i] = h;
  }
  return count;
}

/** A string's UTF-16 code units, to match one text against many items without converting it each time. */
export function charCodes(text: string): Uint16Array {
  const a = new Uint16Array(text.length);
  for (let i = 0; i < text.length; i++) a[i] = text.charCodeAt(i);
  return a;
}

/** Which bit of a gram table's `bits` stands for hash h (before masking): bits apart from the slot's. */
const gramBit = (h: number): number => Math.imul(h ^ (h >>> 16), 0x85ebca6b) >>> 7;

/** The slot of hash h in a gram table: where it is, or the empty slot where it would go. */
function gramSlot(g: GramTable, h: number): number {
  let s = Math.imul(h, 0x9e3779b1) >>> 0 & g.mask;
  while (g.slotHead[s] !== -1 && g.slotHash[s] !== h) s = (s + 1) & g.mask;
  return s;
}

// Scratch for building a gram table: b's codes and the hash of each of its substrings; and the
// table of a b matched for the first time.
let tableCodes = new Uint16Array(1024);
let tableHashes = new Int32Array(1024);
let tableOnce = new Int32Array(1024);

/**
 * b's gram table for n-character substrings: in reused memory for its first match, then its own
 * (see PreparedB). Its arrays are views of one allocation: six typed arrays of their own cost twice
 * the building (a few thousand items become candidates in a run, each with several texts).
 */
function gramTable(b: PreparedB, n: number): GramTable {
  if (b.grams?.n === n) return b.grams;
  const lb = b.text.length;
  const count = Math.max(0, lb - n + 1);
  if (tableCodes.length < lb) {
    tableCodes = new Uint16Array(2 * lb);
    tableHashes = new Int32Array(2 * lb);
  }
  for (let i = 0; i < lb; i++) tableCodes[i] = b.text.charCodeAt(i);
  const hashes = tableHashes;
  gramHashes(tableCodes, 0, lb, n, hashes);
  let slots = 16;
  while (slots < count * 2) slots <<= 1;
  const words = slots >>> 2; // 8 bits per slot
  const size = words + 2 * slots + count;
  let all: Int32Array;
  if (b.seen) all = new Int32Array(size);
  else {
    if (tableOnce.length < size) tableOnce = new Int32Array(2 * size);
    all = tableOnce.subarray(0, size);
    all.fill(0, 0, words); // the bits; a slot's hash is read only where its head is set
  }
  const bits = all.subarray(0, words);
  const slotHead = all.subarray(words + slots, words + 2 * slots).fill(-1);
  const g: GramTable = { n, bits, bitMask: words * 32 - 1, mask: slots - 1, slotHash: all.subarray(words, words + slots), slotHead, next: all.subarray(words + 2 * slots) };
  // From the last start to the first, each put at the head of its chain: chains ascend.
  for (let j = count - 1; j >= 0; j--) {
    const bit = gramBit(hashes[j]!) & g.bitMask;
    bits[bit >>> 5]! |= 1 << (bit & 31);
    const s = gramSlot(g, hashes[j]!);
    g.slotHash[s] = hashes[j]!;
    g.next[j] = g.slotHead[s]!;
    g.slotHead[s] = j;
  }
  if (b.seen) b.grams = g;
  b.seen = true;
  return g;
}

// Per a position: the hash of its n-gram, and the first place b has it (-1: nowhere).
let aHashes = new Int32Array(1024);
let aHeads = new Int32Array(1024);

/**
 * Every maximal run of equal characters, at least n long, between a and b: a common substring of
 * k >= n characters lies within one of them, on its diagonal. Found once per call from the
 * n-character substrings a and b share; returns how many runs were written.
 */
function matchingRuns(a: Uint16Array, bCodes: string, heads: Int32Array, next: Int32Array, n: number, grams: number, lb: number): number {
  const la = a.length;
  if (diagCall.length < la + lb + 1 || calls === 0x7fffffff) {
    // (Also before the call count would leave the arrays' 32 bits: a long run makes billions of calls.)
    diagCall = new Int32Array(Math.max(diagCall.length, 2 * (la + lb + 1)));
    diagAt = new Int32Array(diagCall.length);
    diagRun = new Int32Array(diagCall.length);
    calls = 0;
  }
  const call = ++calls;
  let runs = 0;
  for (let sa = 0; sa < grams; sa++) {
    for (let t = heads[sa]!; t !== -1; t = next[t]!) {
      const d = t - sa + la;
      if (diagCall[d] === call && diagAt[d] === sa - 1) {
        // The run on this diagonal covers the first n - 1 characters already.
        if (a[sa + n - 1] !== bCodes.charCodeAt(t + n - 1)) continue;
        runLen[diagRun[d]!]!++;
      } else {
        // Equal hashes; the characters decide.
        let same = true;
        for (let c = 0; c < n && same; c++) same = a[sa + c] === bCodes.charCodeAt(t + c);
        if (!same) continue;
        if (runs === runA.length) {
          const grow = (x: Int32Array) => {
            const y = new Int32Array(2 * x.length);
            y.set(x);
            return y;
          };
          runA = grow(runA);
          runB = grow(runB);
          runLen = grow(runLen);
        }
        runA[runs] = sa;
        runB[runs] = t;
        runLen[runs] = n;
        diagCall[d] = call;
        diagRun[d] = runs++;
      }
      diagAt[d] = sa;
    }
  }
  return runs;
}

/** covered[j] = how many of b's first j characters lie in one of the runs (see matchingBlocks), for j up to lb. */
function coverage(runs: number, lb: number, covered: Int32Array): void {
  // Where runs start and end, counted first, then turned into the covered count in place.
  covered.fill(0, 0, lb + 1);
  for (let r = 0; r < runs; r++) {
    covered[runB[r]!]!++;
    covered[runB[r]! + runLen[r]!]!--;
  }
  let depth = 0;
  let count = 0;
  for (let j = 0; j <= lb; j++) {
    depth += covered[j]!;
    covered[j] = count;
    if (depth > 0) count++;
  }
}

/**
 * find_longest_match(alo, ahi, blo, bhi) without junk, for blocks of at least n characters: [i, j, k],
 * k = 0 when there is none. The longest match in the box is the longest of the runs cut to it;
 * ties go to the earliest in a, then in b, as Python's scan finds them first.
 */
function longestRunMatch(from: number, to: number, n: number, alo: number, ahi: number, blo: number, bhi: number): [number, number, number] {
  let besti = alo;
  let bestj = blo;
  let best = 0;
  for (let x = from; x < to; x++) {
    const r = boxRuns[x]!;
    const a0 = runA[r]!;
    const d = runB[r]! - a0;
    const s = Math.max(a0, alo, blo - d);
    const k = Math.min(a0 + runLen[r]!, ahi, bhi - d) - s;
    if (k > best || (k === best && k > 0 && (s < besti || (s === besti && s + d < bestj)))) {
      best = k;
      besti = s;
      bestj = s + d;
    }
  }
  return best >= n ? [besti, bestj, best] : [alo, blo, 0];
}

/**
 * The matching blocks of a against b, sorted and with adjacent blocks merged; no final sentinel.
 * With `longerThan`, only blocks longer than that, found much faster: a range whose longest match
 * is no longer cannot hold a longer block in its sub-ranges, so it is not searched further. (The
 * result is the same as filtering the full list: without junk, no two blocks are ever adjacent,
 * because two adjacent blocks would form a longer match in the range that split them.)
 *
 * With `covered` (at least b's length + 1 long), also how much of b any blocks could cover:
 * covered[j] is how many of b's first j characters lie in a common substring of more than
 * `longerThan` characters. A text that is b[o, o + m), matched against the same a, finds blocks
 * covering at most covered[o + m] - covered[o] of its characters: a bound on its score, unmatched.
 */
export function matchingBlocks(aText: string | Uint16Array, bPrepared: PreparedB | string, longerThan = 0, covered?: Int32Array): Block[] {
  const b = typeof bPrepared === 'string' ? prepareB(bPrepared) : bPrepared;
  const a = typeof aText === 'string' ? charCodes(aText) : aText;
  const la = a.length;
  const lb = b.text.length;
  // Ranges are searched by (bound + 1)-character substrings (single characters without a bound):
  // each a position is looked up in b once, here, rather than once per range that holds it.
  const n = longerThan + 1;
  const grams = gramTable(b, n);
  if (aHashes.length < la) {
    aHashes = new Int32Array(la * 2);
    aHeads = new Int32Array(la * 2);
  }
  const count = gramHashes(a, 0, la, n, aHashes);
  const { bits, bitMask } = grams;
  for (let i = 0; i < count; i++) {
    const h = aHashes[i]!;
    const bit = gramBit(h) & bitMask;
    aHeads[i] = (bits[bit >>> 5]! & (1 << (bit & 31))) === 0 ? -1 : grams.slotHead[gramSlot(grams, h)]!;
  }
  const runs = matchingRuns(a, b.text, aHeads, grams.next, n, count, lb);
  if (covered) coverage(runs, lb, covered);
  if (boxRuns.length < runs) boxRuns = new Int32Array(2 * runs);
  for (let r = 0; r < runs; r++) boxRuns[r] = r;
  let top = runs;
  /** Queue the box with those of the runs [from, to) that still hold n characters in it. */
  const queueBox = (alo: number, ahi: number, blo: number, bhi: number, from: number, to: number) => {
    const start = top;
    for (let x = from; x < to; x++) {
      const r = boxRuns[x]!;
      const a0 = runA[r]!;
      const d = runB[r]! - a0;
      if (Math.min(a0 + runLen[r]!, ahi, bhi - d) - Math.max(a0, alo, blo - d) < n) continue;
      if (top === boxRuns.length) {
        const grown = new Int32Array(2 * top);
        grown.set(boxRuns);
        boxRuns = grown;
      }
      boxRuns[top++] = r;
    }
    if (top > start) queue.push([alo, ahi, blo, bhi, start, top]);
  };
  const found: Block[] = [];
  const queue: [number, number, number, number, number, number][] = [[0, la, 0, lb, 0, runs]];
  while (queue.length > 0) {
    const [alo, ahi, blo, bhi, from, to] = queue.pop()!;
    const [i, j, k] = longestRunMatch(from, to, n, alo, ahi, blo, bhi);
    if (k === 0 || k <= longerThan) continue;
    found.push({ a: i, b: j, size: k });
    if (alo < i && blo < j) queueBox(alo, i, blo, j, from, to);
    if (i + k < ahi && j + k < bhi) queueBox(i + k, ahi, j + k, bhi, from, to);
  }
  found.sort((x, y) => x.a - y.a || x.b - y.b || x.size - y.size);
  const merged: Block[] = [];
  for (const blk of found) {
    const last = merged[merged.length - 1];
    if (last && last.a + last.size === blk.a && last.b + last.size === blk.b) last.size += blk.size;
    else merged.push({ ...blk });
  }
  return merged;
}

/**
 * The run of blocks holding the most matched characters, where consecutive blocks are at most
 * `maxGap` characters apart in a: where one copy of the item sits in a long sample.
 */
export function densestRun(blocks: readonly Block[], maxGap: number): Block[] {
  let best: Block[] = [];
  let bestSize = -1;
  for (let i = 0; i < blocks.length; ) {
    let j = i;
    let size = blocks[i]!.size;
    while (j + 1 < blocks.length && blocks[j + 1]!.a - (blocks[j]!.a + blocks[j]!.size) <= maxGap) size += blocks[++j]!.size;
    if (size > bestSize) {
      bestSize = size;
      best = blocks.slice(i, j + 1);
    }
    i = j + 1;
  }
  return best;
}

/** How far apart blocks may lie and still belong to one copy of an item of this length. */
export const runGap = (itemLength: number) => Math.max(40, itemLength / 2);

/**
 * Cosmopedia's overlap score: the characters of a in matching blocks longer than `minBlock`,
 * whitespace-normalised, over the length of b. With `window`, only that part of a is matched.
 */
export function overlapScore(
  aText: string,
  b: PreparedB,
  opts: { minBlock?: number; aCodes?: Uint16Array; window?: [number, number]; covered?: Int32Array } = {},
): { score: number; blocks: Block[] } {
  if (b.text.length === 0) return { score: 0, blocks: [] };
  const minBlock = opts.minBlock ?? 5;
  const codes = opts.aCodes ?? charCodes(aText);
  // A window matches only that part of a (offsets stay those of the whole text).
  const [from, to] = opts.window ?? [0, codes.length];
  const blocks = matchingBlocks(from === 0 && to === codes.length ? codes : codes.subarray(from, to), b, minBlock, opts.covered)
    .map((blk) => (from ? { ...blk, a: blk.a + from } : blk));
  // " ".join("".join(parts).split()): concatenate the parts, then collapse and trim whitespace.
  const joined = blocks.map((blk) => aText.slice(blk.a, blk.a + blk.size)).join('');
  const matched = joined.split(/\s+/).filter(Boolean).join(' ');
  return { score: matched.length / b.text.length, blocks };
}

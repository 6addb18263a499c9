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
  mask: number;
  slotHash: Int32Array;
  slotHead: Int32Array;
  next: Int32Array;
}

/** The second sequence (a benchmark item), with its lookup tables made when first needed. */
export interface PreparedB {
  readonly text: string;
  grams?: GramTable;
}

export const prepareB = (text: string): PreparedB => ({ text });

// Two rows of the longest-suffix table, stamped with the row that wrote them so they never need
// clearing. Shared scratch: matching is synchronous, so one set serves every call.
let size = 0;
let valA = new Int32Array(0);
let valB = new Int32Array(0);
let stampA = new Int32Array(0);
let stampB = new Int32Array(0);
let clock = 0;

function ensureScratch(lb: number): void {
  if (lb + 1 <= size && clock < 0x3fffffff) return;
  size = Math.max(lb + 1, size * 2, 1024);
  valA = new Int32Array(size);
  valB = new Int32Array(size);
  stampA = new Int32Array(size);
  stampB = new Int32Array(size);
  clock = 0;
}

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

/** The slot of hash h in a gram table: where it is, or the empty slot where it would go. */
function gramSlot(g: GramTable, h: number): number {
  let s = Math.imul(h, 0x9e3779b1) >>> 0 & g.mask;
  while (g.slotHead[s] !== -1 && g.slotHash[s] !== h) s = (s + 1) & g.mask;
  return s;
}

/** b's gram table for n-character substrings (made once per item and n). */
function gramTable(b: PreparedB, n: number): GramTable {
  if (b.grams?.n === n) return b.grams;
  const count = Math.max(0, b.text.length - n + 1);
  const hashes = new Int32Array(count);
  gramHashes(charCodes(b.text), 0, b.text.length, n, hashes);
  let slots = 16;
  while (slots < count * 2) slots <<= 1;
  const g: GramTable = { n, mask: slots - 1, slotHash: new Int32Array(slots), slotHead: new Int32Array(slots).fill(-1), next: new Int32Array(count) };
  // From the last start to the first, each put at the head of its chain: chains ascend.
  for (let j = count - 1; j >= 0; j--) {
    const s = gramSlot(g, hashes[j]!);
    g.slotHash[s] = hashes[j]!;
    g.next[j] = g.slotHead[s]!;
    g.slotHead[s] = j;
  }
  b.grams = g;
  return g;
}

// Per a position: the hash of its n-gram, and the first place b has it (-1: nowhere).
let aHashes = new Int32Array(1024);
let aHeads = new Int32Array(1024);

/**
 * find_longest_match(alo, ahi, blo, bhi) without junk, for blocks of at least n characters: [i, j, k].
 * Python's DP over characters (n = 1), stepping over n-character substrings. A common substring of k >= n characters ends
 * at (i, j) exactly when the n-grams ending at (i, j), (i - 1, j - 1), ... (k - n + 1 of them)
 * match, so every k >= n, and the first (i, j) in scan order to reach the longest, are the
 * character DP's; shorter matches are reported as 0. Each a position meets only the few places its
 * n-gram occurs in b, not every place its character does: on long items, tens of times less work.
 */
function longestGramMatch(a: Uint16Array, bCodes: string, heads: Int32Array, next: Int32Array, n: number, alo: number, ahi: number, blo: number, bhi: number): [number, number, number] {
  let besti = alo;
  let bestj = blo;
  let best = 0;
  let prevVal = valA;
  let prevStamp = stampA;
  let curVal = valB;
  let curStamp = stampB;
  clock++;
  // Row i: the n-gram of a starting at s = i - n + 1, against those of b starting at t.
  for (let sa = alo; sa + n <= ahi; sa++) {
    const row = ++clock;
    for (let t = heads[sa]!; t !== -1; t = next[t]!) {
      if (t < blo) continue;
      if (t + n > bhi) break;
      // Equal hashes; the characters decide.
      let same = true;
      for (let c = 0; c < n && same; c++) same = a[sa + c] === bCodes.charCodeAt(t + c);
      if (!same) continue;
      const j = t + n - 1;
      const k = prevStamp[j] === row - 1 ? prevVal[j]! + 1 : n;
      curVal[j + 1] = k;
      curStamp[j + 1] = row;
      if (k > best) {
        besti = sa + n - k;
        bestj = t + n - k;
        best = k;
      }
    }
    const v = prevVal;
    prevVal = curVal;
    curVal = v;
    const st = prevStamp;
    prevStamp = curStamp;
    curStamp = st;
  }
  return [besti, bestj, best];
}

/**
 * The matching blocks of a against b, sorted and with adjacent blocks merged; no final sentinel.
 * With `longerThan`, only blocks longer than that, found much faster: a range whose longest match
 * is no longer cannot hold a longer block in its sub-ranges, so it is not searched further. (The
 * result is the same as filtering the full list: without junk, no two blocks are ever adjacent,
 * because two adjacent blocks would form a longer match in the range that split them.)
 */
export function matchingBlocks(aText: string | Uint16Array, bPrepared: PreparedB | string, longerThan = 0): Block[] {
  const b = typeof bPrepared === 'string' ? prepareB(bPrepared) : bPrepared;
  const a = typeof aText === 'string' ? charCodes(aText) : aText;
  const la = a.length;
  const lb = b.text.length;
  ensureScratch(lb);
  // Ranges are searched by (bound + 1)-character substrings (single characters without a bound):
  // each a position is looked up in b once, here, rather than once per range that holds it.
  const n = longerThan + 1;
  const grams = gramTable(b, n);
  if (aHashes.length < la) {
    aHashes = new Int32Array(la * 2);
    aHeads = new Int32Array(la * 2);
  }
  const count = gramHashes(a, 0, la, n, aHashes);
  for (let i = 0; i < count; i++) aHeads[i] = grams.slotHead[gramSlot(grams, aHashes[i]!)]!;
  const found: Block[] = [];
  const queue: [number, number, number, number][] = [[0, la, 0, lb]];
  while (queue.length > 0) {
    const [alo, ahi, blo, bhi] = queue.pop()!;
    const [i, j, k] = longestGramMatch(a, b.text, aHeads, grams.next, n, alo, ahi, blo, bhi);
    if (k === 0 || k <= longerThan) continue;
    found.push({ a: i, b: j, size: k });
    if (alo < i && blo < j) queue.push([alo, i, blo, j]);
    if (i + k < ahi && j + k < bhi) queue.push([i + k, ahi, j + k, bhi]);
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
  opts: { minBlock?: number; aCodes?: Uint16Array; window?: [number, number] } = {},
): { score: number; blocks: Block[] } {
  if (b.text.length === 0) return { score: 0, blocks: [] };
  const minBlock = opts.minBlock ?? 5;
  const codes = opts.aCodes ?? charCodes(aText);
  // A window matches only that part of a (offsets stay those of the whole text).
  const [from, to] = opts.window ?? [0, codes.length];
  const blocks = matchingBlocks(from === 0 && to === codes.length ? codes : codes.subarray(from, to), b, minBlock)
    .map((blk) => (from ? { ...blk, a: blk.a + from } : blk));
  // " ".join("".join(parts).split()): concatenate the parts, then collapse and trim whitespace.
  const joined = blocks.map((blk) => aText.slice(blk.a, blk.a + blk.size)).join('');
  const matched = joined.split(/\s+/).filter(Boolean).join(' ');
  return { score: matched.length / b.text.length, blocks };
}

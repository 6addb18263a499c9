/**
 * Benchmark contamination check, after Cosmopedia's decontamination script: normalise (NFD, no
 * marks, lowercase, `\w+`), find candidate items through shared word n-grams, and call a sample
 * contaminated by an item when the SequenceMatcher overlap (characters in matching blocks longer
 * than 5, over the item's length) is above 0.5.
 *
 * - `cosmopedia` mode is the reference exactly: 10-grams over all words, later items overwrite
 *   earlier ones on a shared n-gram, only the first n-gram hit is scored, against the whole sample.
 * - `drop` (default) and `cut` modes check every candidate, and are more thorough where the
 *   reference misses real copies: option labels ("a)", "(b)") do not break n-grams (one-character
 *   words are skipped), items with short questions are indexed by shorter n-grams (down to
 *   `minNgram`), a long question is also scored alone (paraphrased answers around a verbatim
 *   question), so is the question with its gold answer (the wrong options left out), and so are
 *   the item's lines and sentences one by one (a reordered copy). Each candidate is scored within
 *   one item length of its shared n-grams, so stray short blocks over a long sample cannot add up
 *   to an item. `cut` removes the matched span.
 */
import { openSync } from 'node:fs';
import { readFully } from '../io/files.js';
import { CosmoError } from '../util/errors.js';
import type { BenchmarkItem } from './benchmarks.js';
import { NgramIndexSet, textWordHashes, type WordHashes } from './ngram-index.js';
import { normaliseSpan, normalizeText, normalizeWords, tokenize } from './normalize.js';
import { charCodes, densestRun, overlapScore, prepareB, runGap, type Block, type PreparedB } from './sequence-matcher.js';

const WHITESPACE = /\s/;
/** Where an item's text splits into the lines and sentences a leak may reorder. */
const PIECES = /\n|(?<=[.?!])\s+/;

export type DecontamMode = 'drop' | 'cut' | 'cosmopedia';

export interface DecontamOptions {
  /** Words per n-gram (Cosmopedia: 10). */
  ngram: number;
  /**
   * drop/cut modes: an item whose question has fewer than `ngram` words is indexed by n-grams as
   * long as its question (but at least this many words), so short questions are found too.
   */
  minNgram: number;
  /** Contaminated above this overlap score (Cosmopedia: 0.5). */
  threshold: number;
  mode: DecontamMode;
  /** Matching blocks must be longer than this (Cosmopedia: 5 characters). */
  minBlock: number;
  /** Also score an item's question alone when it has at least this many words (not in cosmopedia mode; 0 = off). */
  questionMinWords: number;
  /**
   * drop/cut modes: what a part of an item must score to condemn a sample — its long question
   * alone, its question with and without the gold answer, its lines and sentences matched one by
   * one. Higher than `threshold`: half of a short part is a phrase that prose shares. 1 = parts off.
   */
  partThreshold: number;
  /** cut mode: drop the sample when fewer words than this remain. */
  cutMinWords: number;
  /**
   * drop/cut modes: an n-gram shared by more items than this is benchmark boilerplate (e.g. MMLU's
   * "wrong, not wrong" options) and retrieves nothing; the items' own n-grams still do.
   */
  maxItemsPerNgram: number;
}

export const DEFAULT_OPTIONS: DecontamOptions = {
  ngram: 10,
  minNgram: 6,
  threshold: 0.5,
  mode: 'drop',
  minBlock: 5,
  questionMinWords: 20,
  partThreshold: 0.8,
  cutMinWords: 50,
  maxItemsPerNgram: 50,
};

/** One benchmark item found in a sample. */
export interface Match {
  benchmark: string;
  item_id: string;
  /** Overlap score: matched characters over the item's length. */
  score: number;
  /**
   * Which text of the item matched: the whole item, its question alone, its question and gold
   * answer, or its lines and sentences in another order.
   */
  part: 'item' | 'question' | 'question_answer' | 'reordered';
  /** The contaminated span in the sample's original text: [start, end). */
  span: [number, number];
  /** The sample's text in that span. */
  matched: string;
}

export interface Verdict {
  contaminated: boolean;
  /** Items scoring above the threshold, best first. */
  matches: Match[];
  /** Items the n-gram index proposed (each costs one SequenceMatcher run). */
  candidates: number;
}

export interface CutResult {
  /** The sample text with every contaminated span removed, or undefined when the sample must be dropped. */
  text: string | undefined;
  /** The spans that were cut (offsets refer to the text as it was before that round's cut). */
  cuts: Match[];
  /** Why the sample is dropped rather than cut. */
  dropReason?: 'too_short_after_cut' | 'still_contaminated';
  verdict: Verdict;
}

interface Entry {
  item: BenchmarkItem;
  /** The item's normalised text and question, prepared for matching when first a candidate. */
  full?: PreparedB;
  /**
   * The question (or context) alone, with its word count and where it lies in the full text (-1:
   * not as it is); and with the gold answer after it.
   */
  question?: { text: PreparedB; words: number; at: number } | null;
  questionAnswer?: PreparedB | null;
  /** The item's lines and sentences, each alone (null for an item of one), and where each lies in the full text (-1: not as it is). */
  pieces?: PreparedB[] | null;
  pieceAt?: number[];
}

export interface IndexSummary {
  items: number;
  /** Items with at least n words (shorter items have no n-gram and cannot be matched, as in Cosmopedia). */
  indexed: number;
  /** Per benchmark: items, indexed items, and how the item texts were built. */
  benchmarks: Record<string, { items: number; indexed: number; built?: string }>;
  ngrams: number;
}

/** A Decontaminator's state, structured-cloneable, its index in shared memory (see `share`). */
export interface DecontaminatorState {
  options: DecontamOptions;
  summary: IndexSummary;
  /**
   * The indexed items, as UTF-8 JSON lines in id order: in shared memory, or the path of a file
   * holding them (the cache's), read a line at a time as items become candidates.
   */
  items: Uint8Array | string;
  /** Where each item's line starts, and one past the end of the last. */
  itemStarts: Int32Array;
  index: object;
}

/** Items kept prepared for matching per Decontaminator (per checking thread): about 130 MB at most (every item met as a hard negative, its parts prepared too). */
export const PREPARED_ITEMS = 4096;

/** The n-gram index of a set of benchmarks, and the check of one sample against it. */
export class Decontaminator {
  readonly options: DecontamOptions;
  readonly summary: IndexSummary;
  /** Indexed items by id, when they were indexed here (from a shared state: none, see `itemLines`). */
  private readonly items: BenchmarkItem[] = [];
  /**
   * Items prepared for matching, the most recently used last, at most `preparedLimit`: each holds
   * lookup tables for its texts (~18 KB an item on average, ~32 KB with its parts), and a long
   * run meets most of the 37,000 items, which grew each checking thread by 700 MB.
   */
  private readonly prepared = new Map<number, Entry>();
  preparedLimit = PREPARED_ITEMS;
  /** The items as UTF-8 JSON lines, in memory or in a file, when they came so (shared state, cache): parsed one by one on use. */
  private itemLines?: { source: Buffer | string; starts: Int32Array };
  /**
   * The items' n-grams: cosmopedia mode only n-grams of n words; drop/cut modes shorter ones for
   * items with short questions, all gated by their first `minNgram` words.
   */
  private readonly index: NgramIndexSet;

  constructor(items: readonly BenchmarkItem[], options: Partial<DecontamOptions> = {}) {
    this.options = { ...DEFAULT_OPTIONS, ...options };
    const { ngram: n, minNgram, mode } = this.options;
    const benchmarks: IndexSummary['benchmarks'] = {};
    const indexed: { item: BenchmarkItem; k: number; ngrams: number }[] = [];
    for (const item of items) {
      const b = (benchmarks[item.benchmark] ??= { items: 0, indexed: 0, ...(item.built ? { built: item.built } : {}) });
      b.items++;
      // Cosmopedia: every item's n-grams over all words; items shorter than n are skipped.
      // drop/cut: n-grams over the words of two letters or more, so option labels ("a)", "(b)",
      // "1.") inserted between the parts of an item do not break them, and shorter n-grams for
      // items with short questions.
      const questionLength = mode === 'cosmopedia' || item.prompt === undefined ? undefined : textWordHashes(item.prompt, 2, normalizeWords).count;
      const count = textWordHashes(item.text, mode === 'cosmopedia' ? 1 : 2, normalizeWords).count;
      const k = mode === 'cosmopedia' ? n : Math.min(n, Math.max(minNgram, questionLength ?? count));
      if (count < k) continue;
      b.indexed++;
      indexed.push({ item, k, ngrams: count - k + 1 });
    }
    // Each length's index is sized to its own n-grams: the few short-question items get small
    // indexes whose filters stay in cache.
    const expected = new Map<number, number>();
    for (const { k, ngrams } of indexed) expected.set(k, (expected.get(k) ?? 0) + ngrams);
    this.index = new NgramIndexSet(mode === 'cosmopedia' ? n : Math.min(minNgram, n), expected);
    // Items are added in order, so where items share an n-gram the later one heads its chain,
    // as a later dict update wins in Cosmopedia's script.
    indexed.forEach(({ item, k }, id) => {
      this.index.add(textWordHashes(item.text, mode === 'cosmopedia' ? 1 : 2, normalizeWords), k, id);
      this.items.push(item);
    });
    this.summary = { items: items.length, indexed: this.items.length, benchmarks, ngrams: this.index.size };
  }

  /**
   * What worker threads need to check samples as this does: the index, in shared memory, and the
   * items, one JSON line each, in shared memory or in the cache's file. (37,000 item objects cost
   * the main thread a fifth of a second per thread to copy; a 35 MB string, decoded from the cache,
   * half a second to make; and the whole file, read into fresh memory, a tenth.)
   */
  share(): DecontaminatorState {
    if (!this.itemLines) {
      const text = this.items.map((item) => JSON.stringify(item)).join('\n');
      const bytes = Buffer.from(new SharedArrayBuffer(Buffer.byteLength(text)));
      bytes.write(text);
      const starts: number[] = [0];
      for (let at = bytes.indexOf(10); at >= 0; at = bytes.indexOf(10, at + 1)) starts.push(at + 1);
      starts.push(bytes.length + 1);
      this.itemLines = { source: bytes, starts: Int32Array.from(starts) };
    }
    const { source, starts } = this.itemLines;
    return { options: this.options, summary: this.summary, items: source, itemStarts: starts, index: this.index.share() };
  }

  /**
   * A Decontaminator from `share()`'s state (in a worker thread, or from the cache). Its items are
   * parsed only as they become candidates: a run meets a few thousand of 37,000, and parsing them
   * all cost each worker, and the main thread, 70-90 ms before its first sample.
   */
  static from(state: DecontaminatorState): Decontaminator {
    const { items } = state;
    const source = typeof items === 'string' ? items : Buffer.from(items.buffer, items.byteOffset, items.byteLength);
    return Object.assign(Object.create(Decontaminator.prototype) as Decontaminator, {
      options: state.options,
      summary: state.summary,
      items: [],
      prepared: new Map(),
      preparedLimit: PREPARED_ITEMS,
      itemLines: { source, starts: state.itemStarts },
      index: NgramIndexSet.from(state.index),
    });
  }

  /** Indexed item `id` with what is prepared of it, parsed first where it came as a line of JSON. */
  private entry(id: number): Entry {
    let e = this.prepared.get(id);
    if (e) this.prepared.delete(id);
    else {
      let item = this.items[id];
      if (!item) {
        const { source, starts } = this.itemLines!;
        const [from, to] = [starts[id]!, starts[id + 1]! - 1];
        item = JSON.parse(typeof source === 'string' ? readRange(source, from, to) : source.toString('utf8', from, to)) as BenchmarkItem;
      }
      e = { item };
      if (this.prepared.size >= this.preparedLimit) this.prepared.delete(this.prepared.keys().next().value!);
    }
    this.prepared.set(id, e);
    return e;
  }

  /** How many items are prepared for matching now (at most `preparedLimit`). */
  get preparedItems(): number {
    return this.prepared.size;
  }

  /** Whether `text` contains benchmark items, and which. */
  check(text: string): Verdict {
    const o = this.options;
    // Candidate items, each with the words its shared n-grams cover: [first, end).
    const candidates = new Map<number, [number, number]>();
    let hashed: WordHashes | undefined;
    if (o.mode === 'cosmopedia') {
      // The reference takes the first n-gram found in the index (it iterates a Python set, whose
      // order varies per process; text order is the deterministic equivalent) and only its item,
      // the one inserted last.
      this.index.find(textWordHashes(text, 1, normalizeWords), Infinity, (it) => {
        candidates.set(it, [0, Infinity]);
        return true;
      });
    } else {
      // Hits are positions among the words of two characters or more; they are mapped back to
      // word positions only when there is a hit.
      hashed = textWordHashes(text, 2, normalizeWords);
      this.index.find(hashed, o.maxItemsPerNgram, (it, p, k) => {
        const seen = candidates.get(it);
        if (!seen) candidates.set(it, [p, p + k]);
        else {
          seen[0] = Math.min(seen[0], p);
          seen[1] = Math.max(seen[1], p + k);
        }
        return false;
      });
    }
    if (candidates.size === 0) return { contaminated: false, matches: [], candidates: 0 };

    const matches: Match[] = [];
    if (o.mode === 'cosmopedia') {
      const sample = new Sample(text, 0, text.length);
      for (const [id] of candidates) {
        const m = this.score(sample, this.entry(id), [0, sample.words]);
        if (m) matches.push(m);
      }
    } else {
      // Only the part of the text around the hits is normalised and matched: the candidates'
      // windows reach one item length either side of their n-grams, and no further.
      const { slice, base } = this.around(text, hashed!, candidates);
      const sample = new Sample(text, slice[0], slice[1]);
      // Retrieval positions -> word positions (drop/cut modes skip one-character words).
      const at: number[] = [];
      for (let i = 0; i < sample.words; i++) if (sample.wordLength(i) > 1) at.push(i);
      for (const [id, [from, to]] of candidates) {
        const m = this.score(sample, this.entry(id), [at[from - base]!, at[to - 1 - base]! + 1]);
        if (m) matches.push(m);
      }
    }
    matches.sort((x, y) => y.score - x.score || x.item_id.localeCompare(y.item_id));
    return { contaminated: matches.length > 0, matches, candidates: candidates.size };
  }

  /**
   * The part of `text` that every candidate's window lies in, cut at whitespace so that its words
   * are the text's own, and how many retrieval words come before it.
   */
  private around(text: string, hashed: WordHashes, candidates: Map<number, [number, number]>): { slice: [number, number]; base: number } {
    const { starts, ends } = hashed;
    if (!starts || !ends) return { slice: [0, text.length], base: 0 }; // hashed by the slow path: no offsets
    let lo = text.length;
    let hi = 0;
    let margin = 0;
    for (const [id, [from, to]] of candidates) {
      lo = Math.min(lo, starts[from]!);
      hi = Math.max(hi, ends[to - 1]!);
      margin = Math.max(margin, this.entry(id).item.text.length);
    }
    // Three times the item's length: normalising can lengthen text (a Hangul syllable becomes
    // three letters), and the window is measured in normalised characters.
    margin = 3 * margin + 16;
    lo = Math.max(0, lo - margin);
    hi = Math.min(text.length, hi + margin);
    while (lo > 0 && !WHITESPACE.test(text[lo - 1]!)) lo--;
    while (hi < text.length && !WHITESPACE.test(text[hi]!)) hi++;
    // Retrieval words wholly before the slice.
    let base = 0;
    let top = hashed.count;
    while (base < top) {
      const mid = (base + top) >> 1;
      if (starts[mid]! < lo) base = mid + 1;
      else top = mid;
    }
    return { slice: [lo, hi], base };
  }

  /** Score one candidate item: the whole item, then (outside cosmopedia mode) its question alone. */
  private score(sample: Sample, e: Entry, hit: [number, number]): Match | undefined {
    const o = this.options;
    e.full ??= prepareB(normalizeText(e.item.text));
    // cosmopedia mode scores the whole sample, as the reference. drop/cut modes score the part of
    // the sample within one item length of the shared n-grams: stray short blocks elsewhere in a
    // long sample cannot add up to an item there, and matching stays cheap.
    const window = o.mode === 'cosmopedia' ? undefined : sample.window(hit, e.full.text.length);
    const scoring = { minBlock: o.minBlock, aCodes: sample.codes, window };
    const score = (b: PreparedB) => overlapScore(sample.joined, b, scoring);
    const parts = o.mode !== 'cosmopedia' && o.partThreshold < 1;
    // Parts of the item are substrings of its text: how much of the text matching could cover at
    // all bounds each part's score, and parts that cannot pass are not matched (most are not, on
    // hard negatives).
    const length = e.full.text.length;
    if (parts && covered.length <= length) covered = new Int32Array(2 * (length + 1));
    let best = overlapScore(sample.joined, e.full, parts ? { ...scoring, covered } : scoring);
    /** At most how many characters a part of `size` at `at` in the full text can match (its size where it is not a substring). */
    const most = (at: number, size: number) => (at < 0 ? size : covered[at + size]! - covered[at]!);
    let part: Match['part'] = 'item';
    let matchedText = e.full;
    const { prompt, answer } = e.item;
    if (best.score <= o.threshold && parts && prompt !== undefined) {
      if (e.question === undefined) {
        const words = normalizeWords(prompt);
        const text = words.join(' ');
        e.question = { text: prepareB(text), words: words.length, at: e.full.text.indexOf(text) };
        e.questionAnswer = answer ? prepareB(normalizeText(`${prompt} ${answer}`)) : null;
      }
      const question = e.question!;
      const size = question.text.text.length;
      const q = most(question.at, size) > o.partThreshold * size ? score(question.text) : { score: 0, blocks: [] };
      if (o.questionMinWords > 0 && question.words >= o.questionMinWords && q.score > o.partThreshold) {
        // A long question alone is the item (paraphrased options around it change nothing).
        best = q;
        part = 'question';
        matchedText = question.text;
      } else if (q.score > o.partThreshold && e.questionAnswer) {
        // A question with its gold answer and no other option: most of the question, and most of
        // the two together. (The answer alone, or a short question alone, is not enough; a
        // cloze question and its answer read as one plain sentence, which prose on the subject
        // says half of often enough that half is not enough here.)
        const qa = score(e.questionAnswer);
        if (qa.score > o.partThreshold) {
          best = qa;
          part = 'question_answer';
          matchedText = e.questionAnswer;
        }
      }
    }
    if (best.score <= o.threshold && parts) {
      // The item's lines and sentences in another order: each piece is matched on its own, as
      // matching blocks must keep their order and so find only one ordering's worth of them.
      if (e.pieces === undefined) {
        const pieces = e.item.text.split(PIECES).map(normalizeText).filter((t) => t.length > o.minBlock);
        // Longest first, so that a sample which cannot reach the threshold is known early.
        e.pieces = pieces.length > 1 ? pieces.sort((x, y) => y.length - x.length).map(prepareB) : null;
        e.pieceAt = e.pieces?.map((p) => e.full!.text.indexOf(p.text));
      }
      if (e.pieces) {
        const needed = o.partThreshold * length;
        const bounds = e.pieces.map((p, i) => most(e.pieceAt![i]!, p.text.length));
        let left = bounds.reduce((n, x) => n + x, 0);
        let matched = 0;
        const blocks: Block[] = [];
        for (let i = 0; i < e.pieces.length; i++) {
          if (matched + left <= needed) break; // even the best the rest could match would not do
          if (bounds[i] === 0) continue;
          const piece = e.pieces[i]!;
          const r = score(piece);
          matched += r.score * piece.text.length;
          left -= bounds[i]!;
          blocks.push(...r.blocks);
        }
        const total = matched / e.full.text.length;
        if (total > o.partThreshold) {
          best = { score: total, blocks: blocks.sort((x, y) => x.a - y.a) };
          part = 'reordered';
        }
      }
    }
    if (!(best.score > o.threshold)) return undefined;
    const span = sample.span(best.blocks, matchedText.text.length);
    return {
      benchmark: e.item.benchmark,
      item_id: e.item.id,
      score: Math.round(best.score * 1e4) / 1e4,
      part,
      span,
      matched: sample.text.slice(span[0], span[1]),
    };
  }

  /**
   * Cut mode: remove every contaminated span and check again (a cut can leave a second item in
   * view), up to three rounds. Samples left too short, or still contaminated, are dropped.
   */
  cut(text: string): CutResult {
    const cuts: Match[] = [];
    let current = text;
    let first: Verdict | undefined;
    for (let round = 0; round < 3; round++) {
      const verdict = this.check(current);
      first ??= verdict;
      if (!verdict.contaminated) {
        const words = normalizeWords(current).length;
        if (words < this.options.cutMinWords) return { text: undefined, cuts, dropReason: 'too_short_after_cut', verdict: first };
        return { text: current, cuts, verdict: first };
      }
      cuts.push(...verdict.matches);
      current = removeSpans(
        current,
        verdict.matches.map((m) => m.span),
      );
    }
    return { text: undefined, cuts, dropReason: 'still_contaminated', verdict: first! };
  }
}

/** What matching an item's full text could cover of it (see matchingBlocks), reused by every score. */
let covered = new Int32Array(1024);

/**
 * Items files open for reading, one descriptor each per thread: a run meets a few thousand items,
 * and opening and closing the file for each cost two more system calls an item. (A cache entry's
 * path names its content, so a descriptor kept never reads another file's bytes.)
 */
const itemFiles = new Map<string, number>();

/** Bytes [from, to) of a file, as UTF-8 (one item). */
function readRange(file: string, from: number, to: number): string {
  let fd = itemFiles.get(file);
  if (fd === undefined) itemFiles.set(file, (fd = openSync(file, 'r')));
  const buf = Buffer.allocUnsafe(to - from);
  if (!readFully(fd, buf, 0, buf.length, from)) throw new CosmoError(`${file} is shorter than its index says; delete it to have it built again`);
  return buf.toString('utf8');
}

/**
 * The part [start, end) of a sample prepared for matching: its normalised words and text, and a
 * map back to offsets in the whole sample.
 */
class Sample {
  readonly joined: string;
  readonly codes: Uint16Array;
  /** Start of each token in `joined`. */
  private readonly at: Int32Array;
  private offsets?: { starts: ArrayLike<number>; ends: ArrayLike<number> };

  constructor(
    readonly text: string,
    private readonly start: number,
    private readonly end: number,
  ) {
    // One pass gives the words and their offsets. The rare text it cannot take is normalised
    // whole, and its offsets are worked out only if it matches something.
    const fast = normaliseSpan(text, start, end);
    if (fast) {
      ({ joined: this.joined, codes: this.codes, at: this.at } = fast);
      this.offsets = fast;
      return;
    }
    const words = normalizeWords(text.slice(start, end));
    this.joined = words.join(' ');
    this.codes = charCodes(this.joined);
    this.at = new Int32Array(words.length);
    let pos = 0;
    words.forEach((w, i) => {
      this.at[i] = pos;
      pos += w.length + 1;
    });
  }

  get words(): number {
    return this.at.length;
  }

  /** The number of characters of word i. */
  wordLength(i: number): number {
    return (i + 1 < this.at.length ? this.at[i + 1]! - 1 : this.joined.length) - this.at[i]!;
  }

  /** Offsets of the tokens in the whole sample. */
  private get tokens(): { starts: ArrayLike<number>; ends: ArrayLike<number> } {
    if (!this.offsets) {
      const t = tokenize(this.text.slice(this.start, this.end));
      this.offsets = { starts: t.starts.map((x) => x + this.start), ends: t.ends.map((x) => x + this.start) };
      // Whole-string and per-character lowercasing differ only on Greek final sigma, which changes
      // a letter, never a token boundary; a different count would mean the map is unusable.
      if (t.words.length !== this.at.length) {
        const n = this.at.length;
        this.offsets = { starts: new Array<number>(n).fill(this.start), ends: new Array<number>(n).fill(this.end) };
      }
    }
    return this.offsets;
  }

  /** Characters [start, end) of `joined` from `margin` before word `from` to `margin` after word `to - 1`. */
  window([from, to]: [number, number], margin: number): [number, number] {
    const start = this.at[from]!;
    const end = to < this.at.length ? this.at[to]! - 1 : this.joined.length;
    return [Math.max(0, start - margin), Math.min(this.joined.length, end + margin)];
  }

  /** The token that holds position x of `joined` (a space belongs to the token before it). */
  private tokenAt(x: number): number {
    let lo = 0;
    let hi = this.at.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.at[mid]! <= x) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }

  /**
   * The span of the original text that holds the item: the densest run of matching blocks (stray
   * short blocks elsewhere in a long sample do not belong to it), widened to whole words and
   * trailing punctuation.
   */
  span(blocks: readonly Block[], itemLength: number): [number, number] {
    const run = densestRun(blocks, runGap(itemLength));
    const first = run[0]!;
    const last = run[run.length - 1]!;
    const startToken = this.tokenAt(first.a);
    // A block can start on the space after a token; the span starts at the next token then.
    const s = this.joined[first.a] === ' ' ? Math.min(startToken + 1, this.at.length - 1) : startToken;
    const e = this.tokenAt(last.a + last.size - 1);
    let end = this.tokens.ends[e]!;
    while (end < this.text.length && /[^\s\p{L}\p{N}_]/u.test(this.text[end]!)) end++;
    return [this.tokens.starts[s]!, end];
  }
}

/** The text without the given spans; the pieces either side of a cut are joined by a blank line. */
export function removeSpans(text: string, spans: readonly [number, number][]): string {
  const sorted = [...spans].sort((a, b) => a[0] - b[0]);
  const pieces: string[] = [];
  let pos = 0;
  for (const [s, e] of sorted) {
    if (s > pos) pieces.push(text.slice(pos, s));
    pos = Math.max(pos, e);
  }
  pieces.push(text.slice(pos));
  return pieces
    .map((p) => p.trim())
    .filter(Boolean)
    .join('\n\n');
}

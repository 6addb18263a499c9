import type { BenchmarkItem } from './benchmarks.js';
import { NgramIndex, ngramKeys, ngramKeysMulti } from './ngram-index.js';
import { normalizeWords, tokenize, type Tokens } from './normalize.js';
import { charCodes, densestRun, overlapScore, prepareB, runGap, type Block, type PreparedB } from './sequence-matcher.js';

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
  cutMinWords: 50,
  maxItemsPerNgram: 50,
};

/** One benchmark item found in a sample. */
export interface Match {
  benchmark: string;
  item_id: string;
  /** Overlap score: matched characters over the item's length. */
  score: number;
  /** Which text of the item matched: the whole item or its question alone. */
  part: 'item' | 'question';
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
  normText: string;
  normPrompt?: string;
  full?: PreparedB;
  question?: PreparedB;
}

export interface IndexSummary {
  items: number;
  /** Items with at least n words (shorter items have no n-gram and cannot be matched, as in Cosmopedia). */
  indexed: number;
  /** Per benchmark: items and indexed items. */
  benchmarks: Record<string, { items: number; indexed: number }>;
  ngrams: number;
}

/** The n-gram index of a set of benchmarks, and the check of one sample against it. */
export class Decontaminator {
  readonly options: DecontamOptions;
  readonly summary: IndexSummary;
  private readonly index: NgramIndex;
  private readonly entries: Entry[] = [];
  /** drop/cut modes: the n-gram lengths some item is indexed by. */
  private readonly lengths: number[];

  constructor(items: readonly BenchmarkItem[], options: Partial<DecontamOptions> = {}) {
    this.options = { ...DEFAULT_OPTIONS, ...options };
    const { ngram: n, minNgram, mode } = this.options;
    this.index = new NgramIndex(items.length * 64);
    const benchmarks: IndexSummary['benchmarks'] = {};
    const lengths = new Set<number>();
    for (const item of items) {
      const b = (benchmarks[item.benchmark] ??= { items: 0, indexed: 0 });
      b.items++;
      const words = normalizeWords(item.text);
      const promptWords = item.prompt === undefined ? [] : normalizeWords(item.prompt);
      // Cosmopedia: every item's n-grams over all words; items shorter than n are skipped.
      // drop/cut: n-grams over the words of two letters or more, so option labels ("a)", "(b)",
      // "1.") inserted between the parts of an item do not break them, and shorter n-grams for
      // items with short questions.
      let keys: Float64Array;
      if (mode === 'cosmopedia') {
        if (words.length < n) continue;
        keys = ngramKeys(words, n);
      } else {
        const retrieval = retrievalWords(words);
        const questionLength = item.prompt === undefined ? retrieval.length : retrievalWords(promptWords).length;
        const k = Math.min(n, Math.max(minNgram, questionLength));
        if (retrieval.length < k) continue;
        keys = ngramKeys(retrieval, k);
        lengths.add(k);
      }
      b.indexed++;
      const id = this.entries.length;
      this.entries.push({
        item,
        normText: words.join(' '),
        normPrompt: promptWords.length > 0 ? promptWords.join(' ') : undefined,
      });
      // Items are added in order, so where items share an n-gram the later one heads its chain,
      // as a later dict update wins in Cosmopedia's script.
      for (const key of keys) this.index.add(key, id);
    }
    this.lengths = [...lengths].sort((a, b) => b - a);
    this.summary = { items: items.length, indexed: this.entries.length, benchmarks, ngrams: this.index.size };
  }

  /** Whether `text` contains benchmark items, and which. */
  check(text: string): Verdict {
    const o = this.options;
    const words = normalizeWords(text);
    // Candidate items, each with the words its shared n-grams cover: [first, end).
    const candidates = new Map<number, [number, number]>();
    if (o.mode === 'cosmopedia') {
      // The reference takes the first n-gram found in the index (it iterates a Python set, whose
      // order varies per process; text order is the deterministic equivalent) and only its item.
      const keys = ngramKeys(words, o.ngram);
      for (let p = 0; p < keys.length; p++) {
        const it = this.index.last(keys[p]!);
        if (it >= 0) {
          candidates.set(it, [0, words.length]);
          break;
        }
      }
    } else {
      const at: number[] = [];
      const retrieval: string[] = [];
      words.forEach((w, i) => {
        if (w.length > 1) {
          retrieval.push(w);
          at.push(i);
        }
      });
      const keysets = ngramKeysMulti(retrieval, this.lengths);
      this.lengths.forEach((k, li) => {
        const keys = keysets[li]!;
        for (let p = 0; p < keys.length; p++) {
          const head = this.index.head(keys[p]!);
          if (head === -1 || this.index.count(keys[p]!) > o.maxItemsPerNgram) continue;
          for (let q = head; q !== -1; q = this.index.next(q)) {
            const it = this.index.item(q);
            const from = at[p]!;
            const to = at[p + k - 1]! + 1;
            const seen = candidates.get(it);
            if (!seen) candidates.set(it, [from, to]);
            else {
              seen[0] = Math.min(seen[0], from);
              seen[1] = Math.max(seen[1], to);
            }
          }
        }
      });
    }
    if (candidates.size === 0) return { contaminated: false, matches: [], candidates: 0 };

    const sample = new Sample(text, words);
    const matches: Match[] = [];
    for (const [id, hit] of candidates) {
      const m = this.score(sample, this.entries[id]!, hit);
      if (m) matches.push(m);
    }
    matches.sort((x, y) => y.score - x.score || x.item_id.localeCompare(y.item_id));
    return { contaminated: matches.length > 0, matches, candidates: candidates.size };
  }

  /** Score one candidate item: the whole item, then (outside cosmopedia mode) its question alone. */
  private score(sample: Sample, e: Entry, hit: [number, number]): Match | undefined {
    const o = this.options;
    e.full ??= prepareB(e.normText);
    // cosmopedia mode scores the whole sample, as the reference. drop/cut modes score the part of
    // the sample within one item length of the shared n-grams: stray short blocks elsewhere in a
    // long sample cannot add up to an item there, and matching stays cheap.
    const window = o.mode === 'cosmopedia' ? undefined : sample.window(hit, e.normText.length);
    const scoring = { minBlock: o.minBlock, aCodes: sample.codes, window };
    let best = overlapScore(sample.joined, e.full, scoring);
    let part: Match['part'] = 'item';
    if (best.score <= o.threshold && o.mode !== 'cosmopedia' && o.questionMinWords > 0 && e.normPrompt) {
      if (!e.question && e.normPrompt.split(' ').length >= o.questionMinWords) e.question = prepareB(e.normPrompt);
      if (e.question) {
        const q = overlapScore(sample.joined, e.question, scoring);
        if (q.score > best.score) {
          best = q;
          part = 'question';
        }
      }
    }
    if (!(best.score > o.threshold)) return undefined;
    const span = sample.span(best.blocks, (part === 'item' ? e.normText : e.normPrompt!).length);
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

/** The words that retrieve candidates in drop/cut modes: one-character words (option labels, "a") carry no evidence. */
const retrievalWords = (words: readonly string[]) => words.filter((w) => w.length > 1);

/** A sample prepared for matching: its normalised text, and a map back to the original offsets. */
class Sample {
  readonly joined: string;
  readonly codes: Uint16Array;
  /** Start of each token in `joined`. */
  private readonly at: Int32Array;
  private offsets?: Tokens;

  constructor(
    readonly text: string,
    words: string[],
  ) {
    this.joined = words.join(' ');
    this.codes = charCodes(this.joined);
    this.at = new Int32Array(words.length);
    let pos = 0;
    words.forEach((w, i) => {
      this.at[i] = pos;
      pos += w.length + 1;
    });
  }

  /** Original offsets of the tokens, computed only for samples that match something. */
  private get tokens(): Tokens {
    if (!this.offsets) {
      this.offsets = tokenize(this.text);
      // Whole-string and per-character lowercasing differ only on Greek final sigma, which changes
      // a letter, never a token boundary; a different count would mean the map is unusable.
      if (this.offsets.words.length !== this.at.length) {
        const n = this.at.length;
        this.offsets = { words: [], starts: new Array<number>(n).fill(0), ends: new Array<number>(n).fill(this.text.length) };
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

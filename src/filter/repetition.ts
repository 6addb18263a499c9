import type { RepetitionConfig } from './config.js';

/**
 * Words: runs of letters and digits, except that Chinese and Japanese, written without spaces, count one
 * character as a word; else a whole clause is one "word" and the n-gram checks reject ordinary prose.
 */
const WORD = /[\p{sc=Han}\p{sc=Hiragana}\p{sc=Katakana}]|(?:(?![\p{sc=Han}\p{sc=Hiragana}\p{sc=Katakana}])[\p{L}\p{N}_])+/gu;

/**
 * Gopher's repetition checks, computed as datatrove's GopherRepetitionFilter does: duplicate
 * lines and paragraphs (by count and by characters), the character share of the most frequent
 * word 2-4-gram, and the character share of word 5-10-grams that repeat an earlier one.
 * Returns the first failed check as "name value > threshold", or undefined when the text passes.
 */
export function repetitionFailure(text: string, cfg: RepetitionConfig): string | undefined {
  if (!cfg.enabled || text.length === 0) return undefined;
  const chars = text.length;
  const fail = (name: string, value: number, max: number) =>
    value > max ? `${name} ${value.toFixed(3)} > ${max}` : undefined;

  const paragraphs = text.trim().split(/\n{2,}/);
  const para = duplicates(paragraphs);
  const lines = text.split(/\n+/);
  const line = duplicates(lines);
  const found =
    fail('dup_para_frac', para.count / paragraphs.length, cfg.dup_para_frac) ??
    fail('dup_para_char_frac', para.chars / chars, cfg.dup_para_char_frac) ??
    fail('dup_line_frac', line.count / lines.length, cfg.dup_line_frac) ??
    fail('dup_line_char_frac', line.chars / chars, cfg.dup_line_char_frac);
  if (found) return found;

  const words = new NgramKeys(text.match(WORD) ?? []);
  const top = new Map(sortedEntries(cfg.top_ngrams));
  const dup = new Map(sortedEntries(cfg.dup_ngrams));
  const maxN = Math.max(0, ...top.keys(), ...dup.keys());
  for (let n = 1; n <= maxN; n++) {
    words.grow(n);
    const topMax = top.get(n);
    if (topMax !== undefined) {
      const r = fail(`top_${n}_gram_frac`, words.topChars(n) / chars, topMax);
      if (r) return r;
    }
    const dupMax = dup.get(n);
    if (dupMax !== undefined) {
      const r = fail(`dup_${n}_gram_frac`, words.duplicateChars(n) / chars, dupMax);
      if (r) return r;
    }
  }
  return undefined;
}

/**
 * Word n-grams as 53-bit numeric keys, grown one word at a time (the key of an n-gram is the key of
 * its first n-1 words mixed with the next word's id), so counting them needs no string per n-gram.
 * A n-gram's characters are its words' characters without spaces, as in datatrove.
 */
class NgramKeys {
  private readonly ids: Int32Array;
  /** Character offsets: word i spans chars[i] .. chars[i+1]. */
  private readonly chars: Float64Array;
  private readonly h1: Int32Array;
  private readonly h2: Int32Array;

  constructor(words: string[]) {
    const vocab = new Map<string, number>();
    this.ids = new Int32Array(words.length);
    this.chars = new Float64Array(words.length + 1);
    words.forEach((w, i) => {
      let id = vocab.get(w);
      if (id === undefined) vocab.set(w, (id = vocab.size));
      this.ids[i] = id;
      this.chars[i + 1] = this.chars[i]! + w.length;
    });
    this.h1 = new Int32Array(words.length).fill(0x2545f491);
    this.h2 = new Int32Array(words.length).fill(0x7f4a7c15);
  }

  /** Extend every key to n words (call with n = 1, 2, 3, ... in turn). */
  grow(n: number): void {
    for (let i = 0; i + n <= this.ids.length; i++) {
      const id = this.ids[i + n - 1]!;
      this.h1[i] = Math.imul(this.h1[i]! ^ id, 0x01000193) ^ (this.h1[i]! >>> 13);
      this.h2[i] = Math.imul(this.h2[i]! ^ id, 0x5bd1e995) + n;
    }
  }

  private key(i: number): number {
    return (this.h1[i]! >>> 0) * 0x200000 + (this.h2[i]! >>> 11);
  }

  /** Characters of the most frequent n-gram times its count. */
  topChars(n: number): number {
    const counts = new Map<number, number>();
    let bestCount = 0;
    let bestChars = 0;
    for (let i = 0; i + n <= this.ids.length; i++) {
      const k = this.key(i);
      const c = (counts.get(k) ?? 0) + 1;
      counts.set(k, c);
      if (c > bestCount) {
        bestCount = c;
        bestChars = c * (this.chars[i + n]! - this.chars[i]!);
      }
    }
    return bestChars;
  }

  /** Characters of n-grams that repeat an earlier one; a repeat skips ahead n words so overlaps count once. */
  duplicateChars(n: number): number {
    const seen = new Set<number>();
    let total = 0;
    for (let i = 0; i + n <= this.ids.length; ) {
      const k = this.key(i);
      if (seen.has(k)) {
        total += this.chars[i + n]! - this.chars[i]!;
        i += n;
      } else {
        seen.add(k);
        i++;
      }
    }
    return total;
  }
}

function sortedEntries(rec: Record<string, number>): [number, number][] {
  return Object.entries(rec)
    .map(([k, v]): [number, number] => [Number(k), v])
    .sort((a, b) => a[0] - b[0]);
}

/** Elements equal to an earlier element: how many, and their characters. */
function duplicates(items: string[]): { count: number; chars: number } {
  const seen = new Set<string>();
  let count = 0;
  let chars = 0;
  for (const x of items) {
    if (seen.has(x)) {
      count++;
      chars += x.length;
    } else seen.add(x);
  }
  return { count, chars };
}

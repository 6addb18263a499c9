import type { RepetitionConfig } from './config.js';

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

  const words = text.match(/[\p{L}\p{N}_]+/gu) ?? [];
  for (const [n, max] of sortedEntries(cfg.top_ngrams)) {
    const r = fail(`top_${n}_gram_frac`, topNgramChars(words, n) / chars, max);
    if (r) return r;
  }
  for (const [n, max] of sortedEntries(cfg.dup_ngrams)) {
    const r = fail(`dup_${n}_gram_frac`, duplicateNgramChars(words, n) / chars, max);
    if (r) return r;
  }
  return undefined;
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

/** Characters of the most frequent word n-gram (its words joined without spaces) times its count. */
function topNgramChars(words: string[], n: number): number {
  const counts = new Map<string, number>();
  let bestCount = 0;
  let bestChars = 0;
  for (let i = 0; i + n <= words.length; i++) {
    const g = words.slice(i, i + n).join('');
    const c = (counts.get(g) ?? 0) + 1;
    counts.set(g, c);
    if (c > bestCount) {
      bestCount = c;
      bestChars = c * g.length;
    }
  }
  return bestChars;
}

/** Characters of word n-grams that repeat an earlier one; a repeat skips ahead n words so overlaps count once. */
function duplicateNgramChars(words: string[], n: number): number {
  const seen = new Set<string>();
  let chars = 0;
  for (let i = 0; i + n <= words.length; ) {
    const g = words.slice(i, i + n).join('');
    if (seen.has(g)) {
      chars += g.length;
      i += n;
    } else {
      seen.add(g);
      i++;
    }
  }
  return chars;
}

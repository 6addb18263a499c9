/**
 * Cosmopedia's normalisation: NFD, drop combining marks (Mn), lowercase, then `\w+` tokens.
 * Tokens keep their offsets in the original text so that cut mode can remove the exact span.
 */

export interface Tokens {
  /** Normalised tokens, in text order. */
  words: string[];
  /** Start offset of each token in the original text (UTF-16 units). */
  starts: number[];
  /** End offset (exclusive) of each token in the original text. */
  ends: number[];
}

// eslint-disable-next-line no-control-regex -- the ASCII range starts at NUL
const ASCII = /^[\x00-\x7f]*$/;
const ASCII_WORD = /[a-z0-9_]+/g;
// Python's `\w` on str: letters, numbers and underscore (marks are not word characters).
const WORD = /[\p{L}\p{N}_]+/gu;
const MARK = /\p{Mn}/gu;

/** Tokens of `text` with their original offsets. */
export function tokenize(text: string): Tokens {
  const words: string[] = [];
  const starts: number[] = [];
  const ends: number[] = [];
  if (ASCII.test(text)) {
    // Fast path: NFD and mark stripping change nothing, and lowercasing keeps every offset.
    const lower = text.toLowerCase();
    for (const m of lower.matchAll(ASCII_WORD)) {
      words.push(m[0]);
      starts.push(m.index);
      ends.push(m.index + m[0].length);
    }
    return { words, starts, ends };
  }
  // Normalise code point by code point so every normalised unit remembers where it came from.
  let norm = '';
  const from: number[] = [];
  const fromEnd: number[] = [];
  for (let i = 0; i < text.length; ) {
    const cp = text.codePointAt(i)!;
    const width = cp > 0xffff ? 2 : 1;
    const ch = text.slice(i, i + width);
    const piece = cp < 0x80 ? ch.toLowerCase() : ch.normalize('NFD').replace(MARK, '').toLowerCase();
    for (let k = 0; k < piece.length; k++) {
      from.push(i);
      fromEnd.push(i + width);
    }
    norm += piece;
    i += width;
  }
  for (const m of norm.matchAll(WORD)) {
    words.push(m[0]);
    starts.push(from[m.index]!);
    ends.push(fromEnd[m.index + m[0].length - 1]!);
  }
  return { words, starts, ends };
}

/**
 * The normalised words of a text, without offsets (the hot path: whole-string native operations).
 * Same words as `tokenize`, except that whole-string lowercasing knows Greek final sigma.
 */
export function normalizeWords(text: string): string[] {
  if (ASCII.test(text)) return text.toLowerCase().match(ASCII_WORD) ?? [];
  return text.normalize('NFD').replace(MARK, '').toLowerCase().match(WORD) ?? [];
}

/** The normalised text Cosmopedia compares: tokens joined by single spaces. */
export const normalizeText = (text: string): string => normalizeWords(text).join(' ');

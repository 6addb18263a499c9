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

// How each ASCII character normalises: its lowercase code for a word character, 0 for a separator,
// 255 for a non-ASCII character (worked out once per code point and remembered).
export const ASCII_LOWER = new Uint8Array(128);
for (let c = 0; c < 128; c++) {
  const ch = String.fromCharCode(c);
  if (/[A-Za-z0-9_]/.test(ch)) ASCII_LOWER[c] = ch.toLowerCase().charCodeAt(0);
}
const WHOLE_WORD = /^[\p{L}\p{N}_]+$/u;
const HAS_WORD = /[\p{L}\p{N}_]/u;
/** Non-ASCII code point -> its normalised text ('' for a mark, which joins rather than splits), or null for a separator. */
const wide = new Map<number, string | null>();

/**
 * How a non-ASCII code point normalises on its own: its text ('' for a mark), null for a
 * separator, or undefined where a character alone cannot say: Greek capital sigma (its lowercase
 * depends on its neighbours) and a letter that decomposes into a letter and punctuation.
 */
export function normaliseChar(cp: number): string | null | undefined {
  if (cp === 0x3a3) return undefined;
  let r = wide.get(cp);
  if (r === undefined && !wide.has(cp)) {
    const t = String.fromCodePoint(cp).normalize('NFD').replace(MARK, '').toLowerCase();
    r = t === '' || WHOLE_WORD.test(t) ? t : HAS_WORD.test(t) ? undefined : null;
    if (r !== undefined) wide.set(cp, r);
    else return undefined;
  }
  return r;
}

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

/** A text as it is matched: its normalised words joined by single spaces, and where each word is. */
export interface Normalised {
  /** The joined words as UTF-16 codes, and as a string. */
  codes: Uint16Array;
  joined: string;
  /** Where each word starts in `joined`. */
  at: Int32Array;
  /** Where each word starts and ends in the original text. */
  starts: Int32Array;
  ends: Int32Array;
}

const UTF16 = new TextDecoder('utf-16le');

/**
 * text[start, end) normalised in one pass over its characters (the table above), with offsets in
 * the whole text: the words and offsets of `tokenize`, joined as `normalizeText` joins them,
 * without a string per word (on long samples those strings cost more than the scan). Undefined
 * where a character alone cannot say how it normalises; `tokenize` is exact there.
 */
export function normaliseSpan(text: string, start = 0, end = text.length): Normalised | undefined {
  let codes = new Uint16Array(end - start + 16);
  const at: number[] = [];
  const starts: number[] = [];
  const ends: number[] = [];
  let n = 0; // codes written
  let from = -1; // where the current word starts in the text, -1 between words
  let to = 0; // the end of its last character that normalises to something
  for (let i = start; i <= end; i++) {
    const c = i < end ? text.charCodeAt(i) : 32;
    if (c < 128) {
      const lower = ASCII_LOWER[c]!;
      if (lower !== 0) {
        if (from < 0) {
          from = i;
          if (at.length) codes[n++] = 32;
          at.push(n);
        }
        codes[n++] = lower;
        to = i + 1;
        continue;
      }
    } else {
      const cp = text.codePointAt(i)!;
      const width = cp > 0xffff ? 2 : 1;
      const piece = normaliseChar(cp);
      if (piece === undefined) return undefined;
      if (piece !== null) {
        // A mark ('') joins the letters either side of it.
        if (piece !== '') {
          // Room for a space, this piece and the rest as ASCII (a space per separator at most).
          if (n + 1 + piece.length + end - i > codes.length) {
            const grown = new Uint16Array(2 * (n + 1 + piece.length + end - i));
            grown.set(codes.subarray(0, n));
            codes = grown;
          }
          if (from < 0) {
            from = i;
            if (at.length) codes[n++] = 32;
            at.push(n);
          }
          for (let j = 0; j < piece.length; j++) codes[n++] = piece.charCodeAt(j);
          to = i + width;
        }
        i += width - 1;
        continue;
      }
    }
    // A separator ends the word, if any.
    if (from >= 0) {
      starts.push(from);
      ends.push(to);
      from = -1;
    }
  }
  codes = codes.subarray(0, n);
  return { codes, joined: UTF16.decode(codes), at: Int32Array.from(at), starts: Int32Array.from(starts), ends: Int32Array.from(ends) };
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

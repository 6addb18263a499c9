/**
 * The terms BM25 indexes and queries: lower-cased words and numbers, English stop words left out,
 * plurals folded ("cells" → "cell", "theories" → "theory"). Queries and passages go through the
 * same function, so a stemming rule can only help or hurt both alike.
 */

const WORD = /[\p{L}\p{N}]+/gu;

// Function words that say nothing about a passage's subject (a short list: common content words stay).
const STOP = new Set(
  `a about above after again against all also am an and any are as at be because been before being below between both but by can could
did do does doing down during each few for from further had has have having he her here hers herself him himself his how i if in into is it
its itself just me more most my myself no nor not now of off on once only or other our ours ourselves out over own same she should so some
such than that the their theirs them themselves then there these they this those through to too under until up very was we were what when
where which while who whom why will with would you your yours yourself yourselves how may might must shall one ones many much via per etc`.split(
    /\s+/,
  ),
);

/** A word's plural folded to its singular, conservatively (after Harman's S-stemmer). */
export function stem(w: string): string {
  const n = w.length;
  if (n < 4 || w.charCodeAt(n - 1) !== 115 /* s */) return w;
  if (w.endsWith('ies') && !w.endsWith('eies') && !w.endsWith('aies')) return w.slice(0, -3) + 'y';
  if (w.endsWith('es') && !w.endsWith('aes') && !w.endsWith('ees') && !w.endsWith('oes')) {
    // "classes", "boxes", "churches", "wishes" lose "es"; "cases", "phases", "types" only the "s".
    return /(?:ss|x|z|ch|sh)es$/.test(w) ? w.slice(0, -2) : w.slice(0, -1);
  }
  if (w.endsWith('ss') || w.endsWith('us') || w.endsWith('is')) return w;
  return w.slice(0, -1);
}

/** The terms of a text, in order, repeats included; appended to `out` when given. */
export function terms(text: string, out: string[] = []): string[] {
  for (const m of text.toLowerCase().matchAll(WORD)) {
    const w = m[0];
    if (STOP.has(w) || (w.length === 1 && !(w >= '0' && w <= '9'))) continue;
    out.push(stem(w));
  }
  return out;
}

const H1 = 0xdeadbeef;
const H2 = 0x41c6ce57;

/** cyrb53's finish: the two running states into one 53-bit number. */
function finish(h1: number, h2: number): number {
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507) ^ Math.imul(h2 ^ (h2 >>> 13), 3266489909);
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507) ^ Math.imul(h1 ^ (h1 >>> 13), 3266489909);
  return 4294967296 * (2097151 & h2) + (h1 >>> 0);
}

/**
 * A term's 53-bit hash (cyrb53): the key of the on-disk dictionary. Exact in a Float64Array, so the
 * dictionary is one sorted array searched by bisection; two terms of one segment collide with a
 * probability of about terms² / 2⁵⁴ (one in 36,000 at a million terms), and then share a list.
 */
export function termKey(s: string): number {
  let h1 = H1;
  let h2 = H2;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    h1 = Math.imul(h1 ^ c, 2654435761);
    h2 = Math.imul(h2 ^ c, 1597334677);
  }
  return finish(h1, h2);
}

const STOP_KEYS = new Set([...STOP].map(termKey));
const WORD_CHAR = /^[\p{L}\p{N}]/u;
/** Whether the character (code point) at `i` is a letter or a digit. */
const wordCharAt = (text: string, i: number) => WORD_CHAR.test(text.slice(i, i + 2));

/**
 * `termKey` of every term of a text, as `terms` finds them, appended to `out`: the hot path of
 * indexing. An ASCII word is hashed as its characters are read, lower-cased on the way; only words
 * a plural rule may touch (ending in "s") or holding other characters are cut out as strings.
 */
export function termKeys(text: string, out: number[]): number[] {
  const n = text.length;
  let i = 0;
  while (i < n) {
    let c = text.charCodeAt(i);
    if (c < 128 ? !((c >= 97 && c <= 122) || (c >= 65 && c <= 90) || (c >= 48 && c <= 57)) : !wordCharAt(text, i)) {
      i += c >= 0xd800 && c < 0xdc00 ? 2 : 1;
      continue;
    }
    const start = i;
    let h1 = H1;
    let h2 = H2;
    let plain = true;
    let last = 0;
    for (; i < n; i++) {
      c = text.charCodeAt(i);
      if (c < 128) {
        if (c >= 65 && c <= 90) c += 32;
        else if (!((c >= 97 && c <= 122) || (c >= 48 && c <= 57))) break;
      } else {
        if (!wordCharAt(text, i)) break;
        plain = false;
        // A letter outside the BMP takes two code units; the string path below hashes this word.
        if (c >= 0xd800 && c < 0xdc00) i++;
        continue;
      }
      h1 = Math.imul(h1 ^ c, 2654435761);
      h2 = Math.imul(h2 ^ c, 1597334677);
      last = c;
    }
    const len = i - start;
    if (len === 1 && !(last >= 48 && last <= 57)) continue;
    if (plain && !(last === 115 && len >= 4)) {
      const key = finish(h1, h2);
      if (!STOP_KEYS.has(key)) out.push(key);
      continue;
    }
    const w = text.slice(start, i).toLowerCase();
    if (!STOP.has(w)) out.push(termKey(stem(w)));
  }
  return out;
}

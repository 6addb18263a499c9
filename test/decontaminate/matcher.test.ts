import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { normaliseSpan, normalizeText, normalizeWords, tokenize } from '../../src/decontaminate/normalize.js';
import { densestRun, matchingBlocks, overlapScore, prepareB } from '../../src/decontaminate/sequence-matcher.js';
import { NgramIndex, NgramIndexSet, ngramKeys, ngramKeysMulti, textWordHashes, wordHashes } from '../../src/decontaminate/ngram-index.js';

// The generic port of Python's difflib, as the oracle for our typed-array reimplementation.
const difflib = createRequire(import.meta.url)('difflib') as {
  SequenceMatcher: new (isjunk: null, a: string, b: string, autojunk: boolean) => { getMatchingBlocks(): [number, number, number][] };
};

function rng(seed: number) {
  let s = seed >>> 0;
  return () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
}

describe('normalisation', () => {
  it('strips accents, lowercases and splits on non-word characters like Python', () => {
    expect(normalizeWords('Le Café-Crème, très CHAUD à Montréal! x_y 42')).toEqual(['le', 'cafe', 'creme', 'tres', 'chaud', 'a', 'montreal', 'x_y', '42']);
    expect(normalizeText('Naïve   façade\n\tÉCOLE')).toBe('naive facade ecole');
    expect(normalizeWords('Москва — Ёлка; 北京 2024')).toEqual(['москва', 'елка', '北京', '2024']);
  });

  it('keeps original offsets for every token, ASCII and not', () => {
    for (const text of ['Hello, World! 12 apples', 'Ça va? Très bien — merci. Øre'.repeat(3)]) {
      const t = tokenize(text);
      expect(t.words).toEqual(normalizeWords(text));
      t.words.forEach((w, i) => expect(normalizeText(text.slice(t.starts[i], t.ends[i]))).toBe(w));
    }
  });

  it('normalises a text or a part of it in one pass over the characters: the same words, joined text and offsets', () => {
    const texts = [
      'Hello, World! 12 apples_ok',
      'Ünïcode façade — a b ç, “quoted” it’s e\u0301te\u0301 \u0301x ŒUVRE İstanbul straße ﬁne 한국어',
      'Москва — Ёлка; 北京 2024 ½ 𝑥+𝑦 emoji 🙂 done Ǆemal',
    ];
    for (const text of texts) {
      for (const [from, to] of [[0, text.length], [3, text.length - 5], [text.indexOf(' ') + 1, text.length]] as const) {
        const ref = tokenize(text.slice(from, to));
        const got = normaliseSpan(text, from, to)!;
        expect(got.joined).toBe(ref.words.join(' '));
        const joined = ref.words.join(' ');
        expect([...got.codes]).toEqual(Array.from({ length: joined.length }, (_, k) => joined.charCodeAt(k)));
        expect([...got.at]).toEqual(ref.words.map((_, i) => ref.words.slice(0, i).join(' ').length + (i ? 1 : 0)));
        expect([...got.starts]).toEqual(ref.starts.map((x) => x + from));
        expect([...got.ends]).toEqual(ref.ends.map((x) => x + from));
      }
    }
    // Capital sigma lowercases by its neighbours: one character alone cannot say, tokenize decides.
    expect(normaliseSpan('ΟΔΥΣΣΕΥΣ')).toBeUndefined();
  });
});

describe('SequenceMatcher', () => {
  it('finds the same matching blocks as difflib on random strings', () => {
    const r = rng(7);
    for (let t = 0; t < 1500; t++) {
      const alphabet = t % 2 ? 'ab c' : 'abcdefgh ';
      const gen = (n: number) => Array.from({ length: n }, () => alphabet[Math.floor(r() * alphabet.length)]).join('');
      const a = gen(Math.floor(r() * 80));
      const b = gen(Math.floor(r() * 50));
      const ref = new difflib.SequenceMatcher(null, a, b, false).getMatchingBlocks().slice(0, -1);
      expect(matchingBlocks(a, b).map((x) => [x.a, x.b, x.size])).toEqual(ref);
      // Pruned search: exactly the blocks longer than the bound.
      expect(matchingBlocks(a, b, 2).map((x) => [x.a, x.b, x.size])).toEqual(ref.filter((x) => x[2] > 2));
    }
  });

  it('keeps an item its own table from its second match on, and matches alike before and after', () => {
    const r = rng(13);
    const vocab = ['the ', 'then ', 'cat ', 'cart ', 'at ', 'a ', 'theta ', 'cattle '];
    const gen = (n: number) => Array.from({ length: n }, () => vocab[Math.floor(r() * vocab.length)]).join('');
    const items = Array.from({ length: 20 }, () => prepareB(gen(10 + Math.floor(r() * 40))));
    const samples = Array.from({ length: 3 }, () => gen(150));
    const blocks = (a: string, b: (typeof items)[number]) => matchingBlocks(a, b, 5).map((x) => [x.a, x.b, x.size]);
    const difflibBlocks = (a: string, b: string) => new difflib.SequenceMatcher(null, a, b, false).getMatchingBlocks().slice(0, -1).filter((x) => x[2] > 5);
    // Each item's first match builds its table in memory the next item's first match reuses.
    for (const b of items) {
      expect(blocks(samples[0]!, b)).toEqual(difflibBlocks(samples[0]!, b.text));
      expect(b.grams).toBeUndefined();
    }
    // From the second on, its own table, kept.
    for (const b of items) for (const a of samples) expect(blocks(a, b)).toEqual(difflibBlocks(a, b.text));
    expect(items.every((b) => b.grams !== undefined)).toBe(true);
  });

  it('finds the blocks longer than 5 exactly as difflib on long texts with many repeats', () => {
    // The bounded search steps over 6-character substrings; texts from a few words repeat them often.
    const r = rng(11);
    const vocab = ['the ', 'then ', 'cat ', 'cart ', 'at ', 'a ', 'theta ', 'cattle '];
    const gen = (n: number) => Array.from({ length: n }, () => vocab[Math.floor(r() * vocab.length)]).join('');
    for (let t = 0; t < 300; t++) {
      const a = gen(20 + Math.floor(r() * 200));
      const b = gen(5 + Math.floor(r() * 60));
      const ref = new difflib.SequenceMatcher(null, a, b, false).getMatchingBlocks().slice(0, -1);
      expect(matchingBlocks(a, prepareB(b), 5).map((x) => [x.a, x.b, x.size])).toEqual(ref.filter((x) => x[2] > 5));
    }
  });

  it('bounds what any part of b can match by what matching b covers, a bound often reached', () => {
    const r = rng(13);
    const vocab = ['the ', 'then ', 'cat ', 'cart ', 'at ', 'a ', 'theta ', 'cattle '];
    const gen = (n: number) => Array.from({ length: n }, () => vocab[Math.floor(r() * vocab.length)]).join('');
    let tight = 0;
    for (let t = 0; t < 300; t++) {
      const a = gen(20 + Math.floor(r() * 200));
      const b = gen(5 + Math.floor(r() * 60));
      const covered = new Int32Array(b.length + 1);
      const whole = matchingBlocks(a, prepareB(b), 5, covered);
      expect(covered[0]).toBe(0);
      expect(covered[b.length]!).toBeGreaterThanOrEqual(whole.reduce((n, x) => n + x.size, 0));
      for (let k = 0; k < 5; k++) {
        const o = Math.floor(r() * b.length);
        const m = 1 + Math.floor(r() * (b.length - o));
        const sizes = matchingBlocks(a, prepareB(b.slice(o, o + m)), 5).reduce((n, x) => n + x.size, 0);
        expect(sizes).toBeLessThanOrEqual(covered[o + m]! - covered[o]!);
        if (sizes === covered[o + m]! - covered[o]! && sizes > 0) tight++;
      }
    }
    expect(tight).toBeGreaterThan(50); // a bound, not a blanket
  });

  it('finds the same matching blocks as difflib on real sentences', () => {
    const a = normalizeText('In the lab, students learned that photosynthesis converts light energy into chemical energy stored in glucose, and that cells release it again.');
    const b = normalizeText('Photosynthesis converts light energy into what form of energy? chemical energy stored in glucose');
    const ref = new difflib.SequenceMatcher(null, a, b, false).getMatchingBlocks().slice(0, -1);
    expect(matchingBlocks(a, prepareB(b)).map((x) => [x.a, x.b, x.size])).toEqual(ref);
    expect(ref.length).toBeGreaterThan(1);
  });

  it("scores overlap as Cosmopedia does: chars in blocks longer than 5, over the item's length", () => {
    // Values from Python's difflib on the same normalised strings (see parity.test.ts for the method).
    expect(overlapScore('xx abcdefg yy', prepareB('abcdefg hijklm')).score).toBe(0.5);
    expect(overlapScore('xx abcde', prepareB('abcde hijklm')).score).toBe(0); // a block of 5 does not count
    expect(overlapScore('xx abcde yy', prepareB('abcde hijklm')).score).toBe(5 / 12); // 'abcde ' is 6, so it does
    expect(overlapScore('the same text', prepareB('the same text')).score).toBe(1);
    // A window matches only part of the sample; block offsets stay those of the whole text.
    const far = `abcdefg ${'z'.repeat(60)} hijklmn`;
    expect(overlapScore(far, prepareB('abcdefg hijklmn')).score).toBe(1);
    const inWindow = overlapScore(far, prepareB('abcdefg hijklmn'), { window: [60, far.length] });
    expect(inWindow.score).toBe(7 / 15);
    expect(inWindow.blocks).toEqual([{ a: 68, b: 7, size: 8 }]);
  });

  it('finds the densest run of blocks', () => {
    const blocks = [
      { a: 0, b: 0, size: 6 },
      { a: 100, b: 6, size: 10 },
      { a: 115, b: 16, size: 10 },
      { a: 300, b: 26, size: 12 },
    ];
    expect(densestRun(blocks, 40)).toEqual(blocks.slice(1, 3));
    expect(densestRun(blocks, 200)).toEqual(blocks);
    expect(densestRun([], 40)).toEqual([]);
  });
});

describe('n-gram index', () => {
  it('hashes equal n-grams equally and distinct ones apart', () => {
    const k = ngramKeys('a b c d a b c d'.split(' '), 4);
    expect(k.length).toBe(5);
    expect(k[0]).toBe(k[4]);
    expect(new Set(k).size).toBe(4);
    expect(ngramKeys(['a', 'b'], 3).length).toBe(0);
    const words = 'one two three four five six seven'.split(' ');
    const [k3, k5] = ngramKeysMulti(words, [3, 5]);
    expect([...k3!]).toEqual([...ngramKeys(words, 3)]);
    expect([...k5!]).toEqual([...ngramKeys(words, 5)]);
    expect(ngramKeys(words.slice(2), 3)[0]).toBe(k3![2]);
    expect(new Set([...k3!, ...k5!]).size).toBe(k3!.length + k5!.length); // lengths never share keys
  });

  it('hashes words straight from the text exactly as from the normalised words', () => {
    const texts = [
      'A quick (b) test: 42 apples_ok, I think! x',
      'Ünïcode façade — a b ç, “quoted” it’s e\u0301te\u0301 ŒUVRE İstanbul straße',
      'Москва — Ёлка; 北京 2024 ½ 𝑥+𝑦 emoji 🙂 done',
      'ΟΔΥΣΣΕΥΣ and ﬁne ligatures',
      '',
      '...',
    ];
    for (const text of texts) {
      for (const min of [1, 2]) {
        const words = normalizeWords(text).filter((w) => w.length >= min);
        const direct = textWordHashes(text, min, normalizeWords);
        const ref = wordHashes(words);
        expect(direct.count).toBe(words.length);
        expect([...direct.h1.subarray(0, direct.count)]).toEqual([...ref.h1]);
        expect([...direct.h2.subarray(0, direct.count)]).toEqual([...ref.h2]);
      }
    }
  });

  it('keeps every item per n-gram, the latest first, through table growth', () => {
    const idx = new NgramIndex(4);
    const keys = ngramKeys(Array.from({ length: 5000 }, (_, i) => `w${i}`), 2);
    keys.forEach((key, i) => {
      idx.add(key, i);
      if (i % 3 === 0) idx.add(key, i + 10_000);
    });
    idx.add(keys[0]!, 10_000); // same item twice on one n-gram counts once
    expect(idx.size).toBe(keys.length);
    expect(idx.items(keys[0]!)).toEqual([10_000, 0]);
    expect(idx.last(keys[1]!)).toBe(1);
    expect(idx.last(keys[3]!)).toBe(10_003);
    expect(idx.last(ngramKeys(['not', 'there'], 2)[0]!)).toBe(-1);
  });

  it('finds items of every indexed length through one gate, in text order, and stops when asked', () => {
    const words = (t: string) => wordHashes(t.split(' '));
    const set = new NgramIndexSet(3, new Map([[3, 4], [5, 4]]));
    set.add(words('red green blue'), 3, 0); // a short item: indexed by its one 3-gram
    set.add(words('one two three four five six'), 5, 1);
    set.add(words('red green blue'), 3, 2); // later item on the same n-gram: found first
    const seen: [number, number, number][] = [];
    set.find(words('x one two three four five y red green blue'), Infinity, (item, at, length) => {
      seen.push([item, at, length]);
      return false;
    });
    expect(seen).toEqual([[1, 1, 5], [2, 7, 3], [0, 7, 3]]);
    // A chain longer than maxChain is boilerplate and retrieves nothing; returning true stops.
    const capped: number[] = [];
    set.find(words('red green blue one two three four five'), 1, (item) => (capped.push(item), false));
    expect(capped).toEqual([1]);
    const first: number[] = [];
    set.find(words('red green blue one two three four five'), Infinity, (item) => (first.push(item), true));
    expect(first).toEqual([2]);
    expect(set.size).toBe(3);
  });
});

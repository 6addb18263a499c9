/**
 * MinHash signatures in 32-bit integer arithmetic. Text is normalised the way datatrove does
 * (lowercase, accents stripped, punctuation dropped, every number folded to "0") while it is
 * scanned, without building a normalised copy; words are hashed as they are read, word n-grams
 * are hashed from the word hashes, and each of the `bands * rows` permutations is
 * `a*x + b mod 2^32` with odd `a` (a bijection). The minima are taken by a WebAssembly SIMD kernel
 * (minhash.wat), one call per document, four permutations an instruction and sixteen in registers:
 * ~2 us for a document of ~250 shingles against ~20 us for the same loop in JavaScript (Math.imul,
 * four permutations at a time, itself ~4x the shingle-by-shingle loop), with the same results. The
 * JavaScript loop stays for runtimes without wasm SIMD and for permutation counts not a multiple of 4.
 */
import { MINHASH_WASM } from './minhash-wasm.js';

export interface MinHashParams {
  ngram: number;
  bands: number;
  rows: number;
  seed: number;
}

export interface DocHash {
  /** 64-bit hash of the normalised word sequence, as two 32-bit halves: equal for texts that differ only in case, accents, punctuation, spacing or numbers. */
  exactHi: number;
  exactLo: number;
  /** Normalised word count; 0 means the text has no words and gets no signature. */
  words: number;
}

const C1 = 0xcc9e2d51;
const C2 = 0x1b873593;

/** murmur3's per-block step: fold one 32-bit value into a running hash. */
function mix(h: number, k: number): number {
  k = Math.imul(k, C1);
  k = (k << 15) | (k >>> 17);
  k = Math.imul(k, C2);
  h ^= k;
  h = (h << 13) | (h >>> 19);
  return (Math.imul(h, 5) + 0xe6546b64) | 0;
}

/** murmur3's finaliser: every input bit affects every output bit. */
function fmix(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** splitmix32: the permutation coefficients are a pure function of the seed. */
function rng(seed: number): () => number {
  let s = seed | 0;
  return () => {
    s = (s + 0x9e3779b9) | 0;
    return fmix(s);
  };
}

// Character classes of the scanner, per UTF-16 code unit: 0 separates words, DIGIT folds runs of
// digits into one "0", MARK (a combining accent) is dropped inside a word; anything else is the
// lowercased, accent-free code unit itself.
const SEP = 0;
const DIGIT = 0x30;
const MARK = 0xffff;
let foldTable: Uint16Array | undefined;

function buildFoldTable(): Uint16Array {
  const t = new Uint16Array(65536);
  for (let c = 0; c < 65536; c++) {
    if (c >= 0xd800 && c <= 0xdfff) {
      t[c] = c; // astral characters: keep their code units as word characters
      continue;
    }
    const ch = String.fromCharCode(c);
    if (/\p{Nd}/u.test(ch)) t[c] = DIGIT;
    else if (/\p{M}/u.test(ch)) t[c] = MARK;
    else if (/[\p{L}\p{N}]/u.test(ch)) {
      const base = ch.normalize('NFD').replace(/\p{M}/gu, '').toLowerCase();
      t[c] = base.length === 1 ? base.charCodeAt(0) : c;
      if (t[c] === MARK || t[c] === SEP) t[c] = c;
    } else t[c] = SEP;
  }
  return t;
}

function fold(c: number): number {
  if (c < 128) {
    if (c >= 97 && c <= 122) return c;
    if (c >= 65 && c <= 90) return c + 32;
    if (c >= 48 && c <= 57) return DIGIT;
    return SEP;
  }
  foldTable ??= buildFoldTable();
  return foldTable[c]!;
}

/** The compiled kernel, once per thread; null where this runtime has no wasm SIMD. */
let kernelModule: WebAssembly.Module | null | undefined;

/**
 * One hasher's instance of the kernel. Its memory holds the multipliers, the offsets, one
 * signature and the shingles of the document at hand, in that order, and grows with the shingles.
 */
class SimdKernel {
  private readonly memory: WebAssembly.Memory;
  private readonly run: (a: number, b: number, out: number, hashes: number, xs: number, count: number) => void;
  private words: Uint32Array;

  static create(a: Uint32Array, b: Uint32Array): SimdKernel | undefined {
    if (kernelModule === undefined) {
      const bytes = Buffer.from(MINHASH_WASM, 'base64');
      kernelModule = WebAssembly.validate(bytes) ? new WebAssembly.Module(bytes) : null;
    }
    return kernelModule && a.length % 4 === 0 ? new SimdKernel(kernelModule, a, b) : undefined;
  }

  private constructor(
    module: WebAssembly.Module,
    a: Uint32Array,
    private readonly b: Uint32Array,
  ) {
    const exports = new WebAssembly.Instance(module).exports as { memory: WebAssembly.Memory; minhash: SimdKernel['run'] };
    this.memory = exports.memory;
    this.run = exports.minhash;
    this.words = new Uint32Array(this.memory.buffer);
    this.words.set(a, 0);
    this.words.set(b, a.length);
  }

  /** sig = the minima of the first `count` shingles of `xs`. */
  minhash(xs: Uint32Array, count: number, sig: Uint32Array): void {
    const H = this.b.length;
    const xsAt = 3 * H;
    if (xsAt + count > this.words.length) {
      this.memory.grow(Math.ceil(((xsAt + count) * 4 - this.memory.buffer.byteLength) / 65536));
      this.words = new Uint32Array(this.memory.buffer);
    }
    this.words.set(count === xs.length ? xs : xs.subarray(0, count), xsAt);
    this.run(0, 4 * H, 8 * H, H, 4 * xsAt, count);
    sig.set(this.words.subarray(2 * H, 3 * H));
  }
}

export class MinHasher {
  readonly hashes: number;
  private readonly a: Uint32Array;
  private readonly b: Uint32Array;
  /** The last `ngram` word hashes, as a ring. */
  private readonly ring: Uint32Array;
  /** Shingle hashes of the current document. */
  private shingles = new Uint32Array(1024);
  private count = 0;

  /** The SIMD kernel, made at the first signature (undefined: not yet; null: the JavaScript loop). */
  private kernel: SimdKernel | null | undefined;

  /** `simd: false` keeps to the JavaScript loop (tests compare the two). */
  constructor(
    readonly params: MinHashParams,
    private readonly opts: { simd?: boolean } = {},
  ) {
    this.hashes = params.bands * params.rows;
    this.a = new Uint32Array(this.hashes);
    this.b = new Uint32Array(this.hashes);
    const next = rng(params.seed);
    for (let i = 0; i < this.hashes; i++) {
      this.a[i] = (next() | 1) >>> 0;
      this.b[i] = next();
    }
    this.ring = new Uint32Array(params.ngram);
  }

  /** Exact-match hash of `text` and, when `sig` is given and the text has words, its MinHash signature. */
  hash(text: string, sig?: Uint32Array): DocHash {
    const h = this.scan(text);
    if (sig && h.words > 0) this.signature(sig);
    return h;
  }

  /**
   * Scan `text` once: returns its exact-match hash and keeps its shingle hashes for `signature()`.
   * A text shorter than one n-gram is one shingle of all its words.
   */
  scan(text: string): DocHash {
    const n = this.params.ngram;
    const ring = this.ring;
    let count = 0;
    let words = 0;
    let e1 = 0x2545f491;
    let e2 = 0x7f4a7c15;
    let w1 = 0; // two independent word hashes: 64 bits per word keep the exact hash exact in practice
    let w2 = 0;
    let inWord = false;
    let lastDigit = false;
    const len = text.length;
    for (let i = 0; i <= len; i++) {
      const f = i < len ? fold(text.charCodeAt(i)) : SEP;
      if (f !== SEP) {
        if (f === MARK || (f === DIGIT && lastDigit)) continue;
        if (!inWord) {
          inWord = true;
          w1 = 0x811c9dc5;
          w2 = 0x3c6ef372;
        }
        w1 = Math.imul(w1 ^ f, 0x01000193);
        w2 = Math.imul(w2 ^ f, 0x5bd1e995) ^ (w2 >>> 15);
        lastDigit = f === DIGIT;
        continue;
      }
      lastDigit = false;
      if (!inWord) continue;
      inWord = false;
      const wh = fmix(w1);
      e1 = mix(e1, wh);
      e2 = mix(e2, fmix(w2 ^ wh));
      ring[words % n] = wh;
      words++;
      if (words >= n) {
        if (count === this.shingles.length) this.grow();
        this.shingles[count++] = this.shingle(words, n);
      }
    }
    if (words > 0 && words < n) this.shingles[count++] = this.shingle(words, words);
    this.count = count;
    return { exactHi: fmix(mix(e1, words)), exactLo: fmix(mix(e2, words)), words };
  }

  /** Whether signatures come from the SIMD kernel (known once one is made). */
  get simd(): boolean {
    return !!this.kernel;
  }

  /** Write the MinHash signature of the last scanned text into `sig`. */
  signature(sig: Uint32Array): Uint32Array {
    this.minhash(this.count, sig);
    return sig;
  }

  /** Hash of the `k` words ending at word number `end` (exclusive), in order. */
  private shingle(end: number, k: number): number {
    const n = this.params.ngram;
    let h = 0x9747b28c;
    for (let j = end - k; j < end; j++) h = mix(h, this.ring[j % n]!);
    return fmix(h ^ k);
  }

  private grow(): void {
    const bigger = new Uint32Array(this.shingles.length * 2);
    bigger.set(this.shingles);
    this.shingles = bigger;
  }

  /** sig[i] = min over shingles x of (a[i]*x + b[i]) mod 2^32. */
  private minhash(count: number, sig: Uint32Array): void {
    if (this.kernel === undefined) this.kernel = (this.opts.simd !== false && SimdKernel.create(this.a, this.b)) || null;
    if (this.kernel) return this.kernel.minhash(this.shingles, count, sig);
    const { a, b, shingles: xs, hashes: H } = this;
    let i = 0;
    for (; i + 4 <= H; i += 4) {
      const a0 = a[i]!, a1 = a[i + 1]!, a2 = a[i + 2]!, a3 = a[i + 3]!;
      const b0 = b[i]!, b1 = b[i + 1]!, b2 = b[i + 2]!, b3 = b[i + 3]!;
      let m0 = 0xffffffff, m1 = 0xffffffff, m2 = 0xffffffff, m3 = 0xffffffff;
      for (let j = 0; j < count; j++) {
        const x = xs[j]!;
        const v0 = (Math.imul(a0, x) + b0) >>> 0;
        const v1 = (Math.imul(a1, x) + b1) >>> 0;
        const v2 = (Math.imul(a2, x) + b2) >>> 0;
        const v3 = (Math.imul(a3, x) + b3) >>> 0;
        if (v0 < m0) m0 = v0;
        if (v1 < m1) m1 = v1;
        if (v2 < m2) m2 = v2;
        if (v3 < m3) m3 = v3;
      }
      sig[i] = m0;
      sig[i + 1] = m1;
      sig[i + 2] = m2;
      sig[i + 3] = m3;
    }
    for (; i < H; i++) {
      const ai = a[i]!, bi = b[i]!;
      let m = 0xffffffff;
      for (let j = 0; j < count; j++) {
        const v = (Math.imul(ai, xs[j]!) + bi) >>> 0;
        if (v < m) m = v;
      }
      sig[i] = m;
    }
  }

  /** Hash each band's rows into a 64-bit bucket key: `keys[2*band]` and `keys[2*band+1]`. */
  bandKeys(sig: Uint32Array, keys: Uint32Array = new Uint32Array(2 * this.params.bands)): Uint32Array {
    const { bands, rows } = this.params;
    for (let band = 0; band < bands; band++) {
      let h1 = 0x1b873593 ^ band;
      let h2 = 0x68e31da4 ^ band;
      for (let r = band * rows, end = r + rows; r < end; r++) {
        h1 = mix(h1, sig[r]!);
        h2 = mix(h2, sig[r]! ^ 0x5bd1e995);
      }
      keys[2 * band] = fmix(h1);
      keys[2 * band + 1] = fmix(h2 ^ h1);
    }
    return keys;
  }
}

/** Share of signature positions two documents agree on: an unbiased estimate of their Jaccard similarity. */
export function estimatedJaccard(x: Uint32Array, y: Uint32Array): number {
  let same = 0;
  for (let i = 0; i < x.length; i++) if (x[i] === y[i]) same++;
  return same / x.length;
}

import { describe, expect, it } from 'vitest';
import { MinHasher } from '../../src/dedup/minhash.js';
import { MINHASH_WASM } from '../../src/dedup/minhash-wasm.js';
import { compileMinhashWat } from '../../scripts/minhash-wasm.js';
import { rng, seedTexts, spamAssassinBodies } from './planted.js';

describe('the SIMD MinHash kernel', () => {
  it('is minhash.wat as it stands (run `npx tsx scripts/minhash-wasm.ts` after editing it)', async () => {
    expect(MINHASH_WASM).toBe(Buffer.from(await compileMinhashWat()).toString('base64'));
  });

  it('gives the signatures of the JavaScript loop, for any number of permutations and of shingles', () => {
    const r = rng(3);
    const texts = [...seedTexts(40), ...spamAssassinBodies(40)];
    const words = texts.join(' ').split(/\s+/);
    // Past the kernel's first 64 KB page of shingles (it grows), and shorter than one n-gram.
    texts.push(Array.from({ length: 40_000 }, () => words[Math.floor(r() * words.length)]).join(' '), 'two words');
    // 112 = 7 x 16 (the default), 20 = 16 + 4 (the kernel's tail loop), 9 (not a multiple of 4: the JavaScript loop).
    for (const [bands, rows] of [
      [14, 8],
      [5, 4],
      [3, 3],
    ] as const) {
      const params = { ngram: 5, bands, rows, seed: 11 };
      const simd = new MinHasher(params);
      const js = new MinHasher(params, { simd: false });
      for (const t of texts) {
        const a = new Uint32Array(bands * rows);
        const b = new Uint32Array(bands * rows);
        simd.hash(t, a);
        js.hash(t, b);
        expect(a).toEqual(b);
      }
      expect(simd.simd).toBe((bands * rows) % 4 === 0);
      expect(js.simd).toBe(false);
    }
  });
});

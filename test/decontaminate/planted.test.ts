/**
 * Planted contamination on real data: generated-style texts (real seed prose) embedding real items
 * of all ten benchmarks verbatim, reformatted, or with their answers rephrased; and clean texts,
 * including texts on the same topics. Recall must be >= 0.99 and false positives <= 0.1%.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { loadBenchmarkDir, type BenchmarkItem } from '../../src/decontaminate/benchmarks.js';
import { Decontaminator } from '../../src/decontaminate/decontaminator.js';
import { hasSharedData, sharedPath } from '../helpers/shared-data.js';
import { cleanDocuments, plant, rng, sampleItems, seedParagraphs, topical, VARIANTS, type PlantedSample } from './planted-corpus.js';

describe.skipIf(!hasSharedData)('planted contamination (all ten benchmarks, real seed prose)', () => {
  let items: BenchmarkItem[];
  let dc: Decontaminator;
  let planted: PlantedSample[];
  let clean: PlantedSample[];

  beforeAll(async () => {
    items = (await loadBenchmarkDir(sharedPath('bench'))).items;
    dc = new Decontaminator(items);
    const paragraphs = seedParagraphs();
    const r = rng(20240607);
    planted = VARIANTS.flatMap((variant) => sampleItems(items, 40, r).map((it) => ({ text: plant(it, variant, paragraphs, r), item: it.id, variant })));
    clean = [
      ...cleanDocuments().map((text) => ({ text, variant: 'clean' as const })),
      ...sampleItems(items, 100, r).map((it) => ({ text: topical(it, paragraphs, r), variant: 'topic' as const })),
    ];
  });

  it('finds >= 99% of planted items, in every form', () => {
    const found = (s: PlantedSample) => dc.check(s.text).matches.some((m) => m.item_id === s.item);
    const misses = planted.filter((s) => !found(s));
    const recall = 1 - misses.length / planted.length;
    expect(planted).toHaveLength(3 * 10 * 40);
    expect(recall, `missed: ${misses.map((m) => `${m.variant} ${m.item}`).join(', ')}`).toBeGreaterThanOrEqual(0.99);
    for (const v of VARIANTS) {
      const of = planted.filter((s) => s.variant === v);
      expect(1 - misses.filter((s) => s.variant === v).length / of.length, v).toBeGreaterThanOrEqual(0.97);
    }
  });

  it('flags <= 0.1% of clean texts, including texts on the same topics', () => {
    const flagged = clean.filter((s) => dc.check(s.text).contaminated);
    expect(clean.length).toBeGreaterThan(4000);
    expect(clean.filter((s) => s.variant === 'topic')).toHaveLength(1000);
    expect(flagged.length / clean.length, flagged.map((s) => s.text.slice(0, 80)).join(' | ')).toBeLessThanOrEqual(0.001);
  });

  it('finds strictly more than the cosmopedia mode, and everything it finds', () => {
    const ref = new Decontaminator(items, { mode: 'cosmopedia' });
    const byRef = planted.filter((s) => ref.check(s.text).contaminated);
    const byDefault = new Set(planted.filter((s) => dc.check(s.text).contaminated));
    expect(byRef.filter((s) => !byDefault.has(s))).toEqual([]);
    expect(byDefault.size).toBeGreaterThan(byRef.length);
    expect(byRef.length).toBeGreaterThan(planted.length / 2); // the reference itself is no straw man
  });

  it('keeps at most its limit of items prepared, and finds the same with any limit', () => {
    const samples = [...planted.slice(0, 300), ...clean.filter((s) => s.variant === 'topic').slice(0, 100)];
    expect(dc.preparedItems).toBeLessThanOrEqual(dc.preparedLimit);
    expect(dc.preparedItems).toBeGreaterThan(300); // the runs above met that many items
    const small = Decontaminator.from(dc.share());
    small.preparedLimit = 3;
    for (const s of samples) {
      expect(small.check(s.text)).toEqual(dc.check(s.text));
      expect(small.preparedItems).toBeLessThanOrEqual(3);
    }
  });
});

/**
 * Parity with Cosmopedia's algorithm as Python runs it: `reference.py` (difflib's own SequenceMatcher,
 * Python's `re` and `unicodedata`) decides a few hundred generated cases, and cosmo's `cosmopedia`
 * mode must make the same decision, against the same item, on the same prebuilt item texts
 * (`decontaminate.items`: JSONL with `text` and `task_name`).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadBenchmarkDir, loadItemTexts, type BenchmarkItem } from '../../src/decontaminate/benchmarks.js';
import { Decontaminator, type DecontamMode } from '../../src/decontaminate/decontaminator.js';
import { hasSharedData, sharedPath } from '../helpers/shared-data.js';
import { plant, rng, sampleItems, seedParagraphs, topical, VARIANTS } from './planted-corpus.js';

const python = spawnSync('python3', ['--version']).status === 0;

describe.runIf(hasSharedData && python)("cosmopedia mode against Python's difflib, on prebuilt item texts", () => {
  let items: BenchmarkItem[];
  let samples: string[];

  beforeAll(async () => {
    const r = rng(31);
    const all = (await loadBenchmarkDir(sharedPath('bench'))).items;
    const chosen = sampleItems(all, 30, r);
    // Prebuilt texts, as an evaluation dataset would hold them; a few short ones that cannot be indexed.
    const rows = [...chosen.map((it) => ({ text: it.text, task_name: it.benchmark })), { text: 'too short to index', task_name: 'custom' }];
    const dir = mkdtempSync(join(tmpdir(), 'cosmo-parity-'));
    const file = join(dir, 'eval.jsonl');
    writeFileSync(file, rows.map((x) => JSON.stringify(x)).join('\n') + '\n');
    items = await loadItemTexts(file);
    const paragraphs = seedParagraphs();
    // Planted in every form, half of an item, topical texts and clean prose: decisions either way.
    samples = [
      ...VARIANTS.flatMap((v) => chosen.slice(0, 60).map((it) => plant(it, v, paragraphs, r))),
      ...chosen.slice(0, 60).map((it) => {
        const w = it.text.split(/\s+/);
        return `${paragraphs[Math.floor(r() * paragraphs.length)]} ${w.slice(0, Math.ceil(w.length / 2)).join(' ')}`;
      }),
      ...chosen.slice(60, 120).map((it) => topical(it, paragraphs, r)),
      ...Array.from({ length: 60 }, () => paragraphs[Math.floor(r() * paragraphs.length)]!),
    ];
  }, 60_000);

  it('makes the same decision as Python, sample for sample, against the same item', () => {
    const job = JSON.stringify({ items: items.map((it) => ({ text: it.text, task_name: it.benchmark })), samples, ngram: 10, threshold: 0.5 });
    const py = spawnSync('python3', [join(import.meta.dirname, 'reference.py')], { input: job, encoding: 'utf8', maxBuffer: 1 << 26 });
    expect(py.status, py.stderr).toBe(0);
    const ref = JSON.parse(py.stdout) as { item: number | null; ratio: number }[];
    expect(ref).toHaveLength(samples.length);

    const dc = new Decontaminator(items, { mode: 'cosmopedia' });
    let contaminated = 0;
    let near = 0;
    samples.forEach((text, i) => {
      const v = dc.check(text);
      const want = ref[i]!;
      expect(v.candidates, `sample ${i}`).toBe(want.item === null ? 0 : 1);
      expect(v.contaminated, `sample ${i}: Python ratio ${want.ratio}`).toBe(want.ratio > 0.5);
      if (v.contaminated) {
        contaminated++;
        expect(v.matches.map((m) => m.item_id)).toEqual([items[want.item!]!.id]);
        expect(v.matches[0]!.score).toBeCloseTo(want.ratio, 4);
      }
      if (want.ratio > 0.3 && want.ratio < 0.7) near++;
    });
    // The cases exercise both decisions, and scores near the threshold.
    expect(contaminated).toBeGreaterThan(100);
    expect(samples.length - contaminated).toBeGreaterThan(100);
    expect(near).toBeGreaterThan(10);
  });

  it('a GSM8K question leaked alone or with its final answer is caught in every mode', async () => {
    const gsm = (await loadBenchmarkDir(sharedPath('bench'), ['gsm8k'])).items;
    const paragraphs = seedParagraphs();
    const r = rng(8);
    for (const mode of ['drop', 'cut', 'cosmopedia'] as DecontamMode[]) {
      const dc = new Decontaminator(gsm, { mode });
      for (const it of sampleItems(gsm, 50, r)) {
        const prose = paragraphs[Math.floor(r() * paragraphs.length)]!;
        for (const leak of [it.text, `${it.text} The answer is ${it.answer}.`]) {
          const v = dc.check(`${prose}\n\nPractice problem: ${leak}\n\n${prose}`);
          expect(v.matches.map((m) => m.item_id), `${mode}: ${leak}`).toContain(it.id);
        }
      }
    }
  });
});

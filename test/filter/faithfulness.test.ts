/** The lexical faithfulness check on planted supported and unsupported sentences, and the filter's use of it. */
import { describe, expect, it } from 'vitest';
import { filterSchema } from '../../src/filter/config.js';
import { faithfulness } from '../../src/filter/faithfulness.js';
import { QualityFilter } from '../../src/filter/filter.js';
import { Judge } from '../../src/filter/judge.js';
import type { Sample } from '../../src/records/types.js';
import { makeSample } from '../helpers/sample.js';

const PASSAGES = [
  {
    title: 'U.S. History: Lincoln',
    text:
      'Abraham Lincoln was born on February 12, 1809, in a log cabin in Hardin County, Kentucky. He served as the 16th president of the United States ' +
      'from 1861 until his assassination in 1865. Lincoln led the nation through the Civil War and issued the Emancipation Proclamation in 1863.',
  },
  {
    title: 'Chemistry 2e: Water',
    text:
      'Water is a polar molecule: the oxygen atom pulls the shared electrons toward itself, leaving a partial positive charge on each hydrogen atom. ' +
      'Hydrogen bonds between water molecules give water its high boiling point of 100 degrees Celsius at sea level.',
  },
];

/** Sentences the passages support: restated, reordered within, or in other words around the same facts. */
const SUPPORTED = [
  'Abraham Lincoln was born in a log cabin in Hardin County, Kentucky, on February 12, 1809.',
  'He led the nation through the Civil War and issued the Emancipation Proclamation in 1863.',
  'Lincoln served as the 16th president of the United States from 1861 until his assassination in 1865.',
  'Water is a polar molecule, because the oxygen atom pulls the shared electrons toward itself.',
  'Hydrogen bonds between water molecules explain the high boiling point of water, 100 degrees Celsius at sea level.',
];

/** Sentences on the same subjects that the passages do not support: other facts, invented figures. */
const UNSUPPORTED = [
  'As a young man Lincoln worked as a rail splitter and a postmaster in New Salem, Illinois.',
  'His debates with Stephen Douglas during the 1858 Senate campaign made him famous across the country.',
  'Salt dissolves readily in water because sodium and chloride ions are surrounded by solvent molecules.',
  'Ice floats since its crystal lattice is less dense than liquid water near freezing temperatures.',
  'The Gettysburg Address, delivered in 1863, lasted barely two minutes yet became a famous speech.',
];

describe('faithfulness', () => {
  it('scores sentences the passages support high and the others low, one by one', () => {
    for (const s of SUPPORTED) expect(faithfulness(s, PASSAGES)!.support, s).toBeGreaterThanOrEqual(0.6);
    for (const s of UNSUPPORTED) expect(faithfulness(s, PASSAGES)!.support, s).toBeLessThanOrEqual(0.15);
  });

  it('measures a text by the share of it the passages support, and counts its unsupported sentences', () => {
    const faithful = faithfulness(SUPPORTED.join(' '), PASSAGES)!;
    const mixed = faithfulness([...SUPPORTED.slice(0, 3), ...UNSUPPORTED.slice(0, 3)].join(' '), PASSAGES)!;
    const drifting = faithfulness(UNSUPPORTED.join(' '), PASSAGES)!;
    expect(faithful.support).toBeGreaterThan(0.7);
    expect(mixed.support).toBeGreaterThan(drifting.support);
    expect(mixed.support).toBeLessThan(faithful.support);
    expect(drifting.support).toBeLessThan(0.1);
    expect(faithful.unsupported_sentences).toBe(0);
    expect(mixed.unsupported_sentences).toBe(3);
    expect(drifting.unsupported_sentences).toBe(5);
  });

  it('lists the numbers and dates the passages do not hold, however they are written', () => {
    const f = faithfulness('Lincoln, born in 1809, became the 16th president in 1861; about 1,000 people attended, and he died in 1866.', PASSAGES)!;
    expect(f.numbers).toBe(5);
    expect(f.unsupported_numbers.sort()).toEqual(['1000', '1866']);
    expect(faithfulness('Water boils at 100 degrees.', PASSAGES)!.unsupported_numbers).toEqual([]);
  });

  it('has nothing to measure without passages', () => {
    expect(faithfulness('Anything at all.', [])).toBeUndefined();
  });
});

describe('the filter with faithfulness', () => {
  const sample = (text: string, inPrompt: boolean): Sample =>
    makeSample(text, { token_length: 400, grounding: { query: 'q', in_prompt: inPrompt, passages: PASSAGES.map((p, i) => ({ id: `d#${i}`, score: 1, ...p })) } });
  const cfg = (f: object) => filterSchema.parse({ min_tokens: 0, repetition: { enabled: false }, language: { enabled: false }, faithfulness: f });

  it('measures by default and drops only past the thresholds set, and only samples that carried their passages', () => {
    const drifting = UNSUPPORTED.join(' ');
    const kept = new QualityFilter(cfg({})).check(sample(drifting, true));
    expect(kept.keep && kept.sample.faithfulness!.support).toBeLessThan(0.1);
    const strict = new QualityFilter(cfg({ min_support: 0.3 }));
    expect(strict.check(sample(drifting, true))).toMatchObject({ keep: false, reason: 'unfaithful', kind: 'support' });
    expect(strict.check(sample(drifting, false)).keep).toBe(true);
    expect(strict.check(sample(SUPPORTED.join(' '), true)).keep).toBe(true);
    const numbers = new QualityFilter(cfg({ max_unsupported_numbers: 0 })).check(sample('Lincoln died in 1866, aged 57.', true));
    expect(numbers).toMatchObject({ keep: false, reason: 'unfaithful', kind: 'numbers' });
    const off = new QualityFilter(cfg({ enabled: false })).check(sample(drifting, true));
    expect(off.keep && off.sample.faithfulness).toBeUndefined();
  });
});

describe('the faithfulness rubric of the judge', () => {
  it('reads the passages a sample was grounded in, skips samples without any, and judges the configured share', async () => {
    const asked: string[] = [];
    const engine = {
      complete: async (req: { messages: { content: string }[] }) => {
        asked.push(req.messages[1]!.content);
        return { text: '{"score": 4, "reason": "faithful"}' } as never;
      },
    };
    const judge = new Judge(engine, filterSchema.parse({ judge: { enabled: true, rubrics: [{ id: 'faithfulness', share: 0.5 }] } }).judge);
    const grounded = (id: string) => ({ ...makeSample(SUPPORTED.join(' ')), id, grounding: { query: 'q', in_prompt: true, passages: PASSAGES.map((p, i) => ({ id: `d#${i}`, score: 1, ...p })) } });
    expect(await judge.judge(makeSample('No passages here.'))).toEqual({ keep: true, scores: {}, failed: [] });
    expect(asked).toHaveLength(0);
    const verdicts = [];
    for (let i = 0; i < 200; i++) verdicts.push(await judge.judge(grounded(`s${i}`)));
    expect(asked[0]).toContain('[1] U.S. History: Lincoln\nAbraham Lincoln was born');
    expect(asked[0]).toContain('[2] Chemistry 2e: Water');
    // A seeded draw per sample: about half are judged, and the same ones every time.
    expect(asked.length).toBeGreaterThan(70);
    expect(asked.length).toBeLessThan(130);
    const again = (await judge.judge(grounded('s0'))) as { scores: Record<string, number> };
    expect(again.scores).toEqual((verdicts[0] as { scores: Record<string, number> }).scores);
  });
});

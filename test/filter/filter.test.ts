import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/pipeline/corpus.js';
import { filterSchema, type FilterConfig } from '../../src/filter/config.js';
import { QualityFilter, type RejectedSample } from '../../src/filter/filter.js';
import { repetitionFailure } from '../../src/filter/repetition.js';
import { collect, listShards, readAll, writeShard } from '../../src/io/shards.js';
import { runPipeline } from '../../src/pipeline/run.js';
import type { Sample } from '../../src/records/types.js';
import { silentLogger } from '../../src/util/log.js';
import { seedTexts } from '../dedup/planted.js';
import { hasSharedData } from '../helpers/shared-data.js';
import { makeSample } from '../helpers/sample.js';

const tmp = () => mkdtempSync(join(tmpdir(), 'cosmo-filter-'));

const sample = makeSample;

const cfg = (over: Record<string, unknown> = {}): FilterConfig => filterSchema.parse(over);
/** Real prose: OpenStax intros and C4 pages of 200+ words from the shared seeds. */
let cached: string[] | undefined;
const prose = () => (cached ??= seedTexts(200));

// Mail bodies are no stand-in here (quoted replies repeat lines by nature), so these need the shared seeds.
describe.runIf(hasSharedData)('repetition (Gopher), on real prose from ../shared/data', () => {
  const rep = cfg().repetition;

  it('passes real prose', () => {
    const texts = prose();
    const failed = texts.filter((t) => repetitionFailure(t, rep));
    expect(texts.length).toBeGreaterThan(100);
    expect(failed.length / texts.length).toBeLessThan(0.03);
  });

  it('catches repeated paragraphs, repeated lines and looping text', () => {
    const [a, b, c] = prose().map((t) => t.split(/\n{2,}/)[0]!);
    const paras = [a, b, a, c, a].join('\n\n');
    expect(repetitionFailure(paras, rep)).toMatch(/^dup_para_frac 0\.400 > 0\.3$/);

    const lines = ['Preheat the oven.', 'Stir well.', 'Stir well.', 'Stir well.', 'Serve.'].join('\n') + '\n' + a!;
    expect(repetitionFailure(lines, rep)).toMatch(/^dup_line_frac/);

    const sentence = a!.split(/(?<=\.)\s+/)[0]!;
    const looping = `${b!.slice(0, 400)} ${Array(8).fill(sentence).join(' ')}`;
    expect(repetitionFailure(looping, rep)).toMatch(/^(top|dup)_\d+_gram_frac/);

    const stutter = `${b!.slice(0, 300)} ${'and the the '.repeat(40)}`;
    expect(repetitionFailure(stutter, rep)).toMatch(/^top_2_gram_frac/);
  });

  it('turns each check off at 1 and all of them with enabled: false', () => {
    const [a, b] = prose();
    const paras = [a, b, a, a].join('\n\n');
    expect(repetitionFailure(paras, { ...rep, enabled: false })).toBeUndefined();
    const ones = cfg({
      repetition: { dup_para_frac: 1, dup_para_char_frac: 1, dup_line_frac: 1, dup_line_char_frac: 1, top_ngrams: { 2: 1 }, dup_ngrams: { 5: 1 } },
    }).repetition;
    expect(repetitionFailure(paras, ones)).toBeUndefined();
  });
});

describe.runIf(hasSharedData)('quality filter checks, on real prose', () => {
  const body = () => prose()[3]!;

  it('drops failed, empty, truncated and short samples, each with its reason', () => {
    const f = new QualityFilter(cfg());
    const reason = (s: Sample) => {
      const v = f.check(s);
      return v.keep ? 'kept' : v.reason;
    };
    expect(reason(sample('', { error: 'HTTP 500 from http://gpu01:8000/v1', finish_reason: 'error' }))).toBe('failed');
    expect(reason(sample('  \n ', {}))).toBe('empty');
    expect(reason(sample(body(), { finish_reason: 'length' }))).toBe('truncated');
    expect(reason(sample(body(), { token_length: 149 }))).toBe('too_short');
    expect(reason(sample(body(), { token_length: 150 }))).toBe('kept');
    expect(reason(sample([body(), body()].join('\n\n')))).toBe('repetition');

    const lenient = new QualityFilter(cfg({ min_tokens: 0, drop_truncated: false }));
    expect(lenient.check(sample(body(), { finish_reason: 'length', token_length: 3 })).keep).toBe(true);
  });

  it('strips overused openers, one after another, and keeps the rest', () => {
    const f = new QualityFilter(cfg());
    const text = body();
    const v = f.check(sample(`Sure! Here's a textbook section about cells:\n\nHave you ever wondered how cells divide? ${text}`));
    expect(v.keep).toBe(true);
    if (!v.keep) return;
    expect(v.sample.text).toBe(text.charAt(0).toUpperCase() + text.slice(1));
    expect(v.sample.filter_edits).toEqual(['boilerplate:chat_preamble', 'boilerplate:have_you_ever']);
    expect(v.sample.token_length).toBeLessThan(sample(`x ${text}`).token_length + 20);

    const story = f.check(sample(`Once upon a time, in a small village, there lived a baker. ${text}`));
    expect(story.keep && story.sample.text.startsWith('There lived a baker.')).toBe(true);
    const blog = f.check(sample(`Welcome to our blog! Today we look at tides. ${text}`));
    expect(blog.keep && blog.sample.text.startsWith('Today we look at tides.')).toBe(true);

    // Words that merely begin like an opener are left alone.
    for (const start of ['Imagination shapes how we read. ', 'Welcomed by many, the reform passed. ', 'Surely the cell ']) {
      const plain = f.check(sample(start + text));
      expect(plain.keep && plain.sample.text).toBe(start + text);
    }
  });

  it('strips the title lines, greetings and self-introductions found in Cosmopedia\'s own samples', () => {
    const f = new QualityFilter(cfg());
    const text = body();
    const cases: Array<[string, string]> = [
      ['Title: The Secret of the Blue Sky\n\n', 'title_line'],
      ['**Title:** Tides and the Moon\n', 'title_line'],
      ['# Title: Cells\n\n', 'title_line'],
      ['Hello, young explorers! ', 'greeting'],
      ['Welcome, fellow learners! ', 'greeting'],
      ['Hi there! ', 'greeting'],
      ['My name is Sarah, and I teach biology. ', 'my_name_is'],
    ];
    for (const [opener, id] of cases) {
      const v = f.check(sample(opener + text));
      expect(v.keep && v.sample.filter_edits, opener).toEqual([`boilerplate:${id}`]);
      expect(v.keep && v.sample.text).toBe(text.charAt(0).toUpperCase() + text.slice(1));
    }
    // A heading that is not a title label, and "Hello" inside a sentence, stay.
    for (const start of ['Titles of nobility were abolished. ', 'Hello is the first word many learn. ']) {
      const plain = f.check(sample(start + text));
      expect(plain.keep && plain.sample.text).toBe(start + text);
    }
  });

  it('drops openers in drop mode, and refusals in any mode', () => {
    const text = body();
    const drop = new QualityFilter(cfg({ boilerplate: { mode: 'drop' } })).check(sample(`Once upon a time, ${text}`));
    expect(drop).toMatchObject({ keep: false, reason: 'boilerplate', detail: 'once_upon_a_time: "Once upon a time,"' });
    const refusal = new QualityFilter(cfg()).check(sample(`As an AI language model, I cannot write that. ${text}`));
    expect(refusal).toMatchObject({ keep: false, reason: 'boilerplate' });
    const off = new QualityFilter(cfg({ boilerplate: { mode: 'off' } })).check(sample(`Once upon a time, ${text}`));
    expect(off.keep).toBe(true);
  });

  it('reads patterns from a YAML file and names the file or pattern on error', () => {
    const dir = tmp();
    const file = join(dir, 'openers.yaml');
    writeFileSync(file, 'version: 1\npatterns:\n  - id: in_this_chapter\n    pattern: "in this chapter,? we will[^.]*\\\\.\\\\s*"\n');
    const f = new QualityFilter(cfg({ boilerplate: { patterns_file: 'openers.yaml' } }), (p) => join(dir, p));
    const v = f.check(sample(`In this chapter we will study tides. ${body()}`));
    expect(v.keep && v.sample.filter_edits).toEqual(['boilerplate:in_this_chapter']);
    // The file replaces the built-in list.
    expect(f.check(sample(`Once upon a time, ${body()}`)).keep && true).toBe(true);

    writeFileSync(file, 'version: 1\npatterns:\n  - id: broken\n    pattern: "(unclosed"\n');
    expect(() => new QualityFilter(cfg({ boilerplate: { patterns_file: file } }))).toThrow(`${file}: boilerplate pattern "broken" is not a valid regular expression`);
    writeFileSync(file, 'version: 1\npatterns:\n  - pattern: "x"\n');
    expect(() => new QualityFilter(cfg({ boilerplate: { patterns_file: file } }))).toThrow(`${file}: patterns.0.id`);
    expect(() => new QualityFilter(cfg({ boilerplate: { patterns_file: join(dir, 'missing.yaml') } }))).toThrow(/missing\.yaml: cannot read/);
  });
});

describe.runIf(hasSharedData)('filter stage, on real prose', () => {
  it('splits samples into kept and rejects shards and counts drops per reason', async () => {
    const dir = tmp();
    const texts = prose().slice(0, 40);
    const samples = [
      ...texts.map((t) => sample(t)),
      sample('', { error: 'connection refused', finish_reason: 'error' }),
      sample(texts[0]!, { finish_reason: 'length', id: 'trunc' }),
      sample('Too short.', { token_length: 3 }),
      sample(`Once upon a time, ${texts[1]!}`, { id: 'story' }),
    ];
    await writeShard(join(dir, 'generate', '0.jsonl'), samples.slice(0, 20));
    await writeShard(join(dir, 'generate', '1.jsonl'), samples.slice(20));
    const corpus = parseConfig({ seeds: [{ kind: 'web', path: 'x.jsonl' }], output: dir, filter: { tasks: 2 } }, { file: 'corpus.yaml', baseDir: dir });
    const [result] = await runPipeline(corpus, { only: ['filter'], log: silentLogger });

    const kept = await collect(readAll<Sample & { filter_edits?: string[] }>(join(dir, 'filter')));
    const rejects = await collect(readAll<RejectedSample>(join(dir, 'filter', 'rejects')));
    expect(listShards(join(dir, 'filter'))).toHaveLength(2);
    expect(kept.length + rejects.length).toBe(samples.length);
    expect(new Set([...kept, ...rejects].map((s) => s.id))).toEqual(new Set(samples.map((s) => s.id)));
    const reasons = Object.fromEntries(rejects.map((r) => [r.reject_reason, (rejects.filter((x) => x.reject_reason === r.reject_reason)).length]));
    expect(reasons.failed).toBe(1);
    expect(reasons.truncated).toBe(1);
    expect(reasons.too_short).toBe(1);
    expect(rejects.find((r) => r.reject_reason === 'too_short')!.reject_detail).toBe('3 < 150 tokens');
    expect(kept.find((s) => s.id === 'story')!.filter_edits).toEqual(['boilerplate:once_upon_a_time']);

    const counters = result!.stats.counters;
    expect(counters['stripped.once_upon_a_time']).toBe(1);
    expect(counters.kept).toBe(kept.length);
    for (const [reason, n] of Object.entries(reasons)) expect(counters[`dropped.${reason}`]).toBe(n);
    const summary = JSON.parse(readFileSync(join(dir, 'filter', 'summary.json'), 'utf8'));
    expect(summary).toEqual({ samples: samples.length, kept: kept.length, dropped: reasons, languages_detected: { en: kept.length } });
  });

  it('names the file and line of a malformed sample', async () => {
    const dir = tmp();
    await writeShard(join(dir, 'generate', '0.jsonl'), [sample(prose()[0]!)]);
    writeFileSync(join(dir, 'generate', '0.jsonl'), readFileSync(join(dir, 'generate', '0.jsonl'), 'utf8') + 'oops\n');
    const corpus = parseConfig({ seeds: [{ kind: 'web', path: 'x.jsonl' }], output: dir }, { file: 'corpus.yaml', baseDir: dir });
    await expect(runPipeline(corpus, { only: ['filter'], log: silentLogger })).rejects.toThrow(/generate\/0\.jsonl:2: malformed JSON/);
    expect(listShards(join(dir, 'filter'))).toHaveLength(0);
  });
});

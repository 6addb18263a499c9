import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  loadBenchmarkDir,
  loadChoiceQa,
  loadGsm8k,
  loadHellaswag,
  loadMmlu,
  loadPiqa,
  loadSiqa,
  loadTextBenchmark,
  loadWinogrande,
} from '../../src/decontaminate/benchmarks.js';
import { parseCsv } from '../../src/decontaminate/csv.js';
import { hasSharedData, sharedPath } from '../helpers/shared-data.js';

const bench = (...p: string[]) => sharedPath('bench', ...p);
const tmp = () => mkdtempSync(join(tmpdir(), 'cosmo-bench-'));

describe.skipIf(!hasSharedData)('loaders on the real benchmark files (row counts from data/README.md)', () => {
  it('ARC, OpenBookQA and BoolQ: question with its options, labels dropped', async () => {
    const easy = await loadChoiceQa(bench('arc_easy_test.jsonl'), 'arc_easy');
    expect(easy).toHaveLength(2376);
    expect(easy[0]).toEqual({
      benchmark: 'arc_easy',
      id: 'arc_easy/0',
      prompt: 'Which statement best explains why photosynthesis is the foundation of most food webs?',
      text:
        'Which statement best explains why photosynthesis is the foundation of most food webs?\n' +
        'Sunlight is the source of energy for nearly all ecosystems.\nMost ecosystems are found on land instead of in water.\n' +
        'Carbon dioxide is more available than other gases.\nThe producers in all ecosystems are plants.',
      answer: 'Sunlight is the source of energy for nearly all ecosystems.',
      built: 'the question (BoolQ: passage and question), then each option on its own line',
    });
    expect(await loadChoiceQa(bench('arc_challenge_test.jsonl'), 'arc_challenge')).toHaveLength(1172);
    expect(await loadChoiceQa(bench('openbookqa_test.jsonl'), 'openbookqa')).toHaveLength(500);
    const boolq = await loadChoiceQa(bench('boolq_validation.jsonl'), 'boolq');
    expect(boolq).toHaveLength(3270);
    expect(boolq[0]!.prompt).toMatch(/^All biomass goes through .*\ndoes ethanol take more energy make that produces\?$/s);
    expect(boolq.every((i) => !i.text.startsWith('Passage:') && i.prompt!.endsWith('?'))).toBe(true);
    expect(boolq.filter((i) => /\nQuestion:/.test(i.text))).toHaveLength(1); // a passage that quotes one itself
  });

  it('WinoGrande, PIQA (with labels), SIQA and GSM8K', async () => {
    const wino = await loadWinogrande(bench('winogrande_dev.jsonl'));
    expect(wino).toHaveLength(1267);
    // The sentence with its blank, then both options, as published; the answer is the right filler.
    expect(wino[0]).toMatchObject({
      text: 'Sarah was a much better surgeon than Maria so _ always got the easier cases.\nSarah\nMaria',
      prompt: 'Sarah was a much better surgeon than Maria so _ always got the easier cases.',
      answer: 'Maria',
    });
    const piqa = await loadPiqa(bench('piqa_valid.jsonl'));
    expect(piqa).toHaveLength(1838);
    expect(piqa[0]!.prompt).toBe("How do I ready a guinea pig cage for it's new occupants?");
    expect(piqa[0]!.answer).toMatch(/ripped paper strips/); // label 0
    const siqa = await loadSiqa(bench('siqa_dev.jsonl'));
    expect(siqa).toHaveLength(1954);
    expect(siqa[0]!.text).toBe(
      "Tracy didn't go home that evening and resisted Riley's attacks. What does Tracy need to do before this?\nmake a new plan\nGo home and see Riley\nFind somewhere to go",
    );
    const gsm = await loadGsm8k(bench('gsm8k_test.jsonl'));
    expect(gsm).toHaveLength(1319);
    // The question alone: a leaked question must score against itself, not against question + solution.
    expect(gsm[0]!.text).toMatch(/^Janet’s ducks lay 16 eggs per day\..*at the farmers' market\?$/s);
    expect(gsm[0]!.answer).toBe('18');
    expect(gsm.some((i) => i.text.includes('####'))).toBe(false);
  });

  it('HellaSwag from bzip2, six lines per item', async () => {
    const hs = await loadHellaswag(bench('hellaswag_val_full.txt.bz2'));
    expect(hs).toHaveLength(10042);
    expect(hs[0]).toMatchObject({
      id: 'hellaswag/0',
      prompt: 'Roof shingle removal: A man is sitting on a roof. he',
      answer: 'starts pulling up roofing on a roof.',
    });
    expect(hs[0]!.text.split('\n')).toHaveLength(5);
  });

  it('MMLU: 57 subject CSVs, 14042 questions', async () => {
    const mmlu = await loadMmlu(bench('mmlu_test'));
    expect(mmlu).toHaveLength(14042);
    expect(new Set(mmlu.map((i) => i.id.split('/')[1])).size).toBe(57);
    const dished = mmlu.find((i) => i.id === 'mmlu/anatomy/1')!;
    expect(dished.prompt).toBe('A "dished face" profile is often associated with');
    expect(dished.answer).toBe('a recessive maxilla due to failure of elongation of the cranial base.');
  });

  it('the whole folder: every file recognised, in a fixed order', async () => {
    const all = await loadBenchmarkDir(sharedPath('bench'));
    expect(all.sources.map((s) => [s.benchmark, s.items])).toEqual([
      ['arc_easy', 2376],
      ['arc_challenge', 1172],
      ['openbookqa', 500],
      ['boolq', 3270],
      ['winogrande', 1267],
      ['piqa', 1838],
      ['siqa', 1954],
      ['hellaswag', 10042],
      ['mmlu', 14042],
      ['gsm8k', 1319],
    ]);
    expect(all.ignored).toEqual([]);
    expect(new Set(all.items.map((i) => i.id)).size).toBe(all.items.length);
    const some = await loadBenchmarkDir(sharedPath('bench'), ['gsm8k', 'openbookqa']);
    expect(some.sources.map((s) => s.benchmark)).toEqual(['openbookqa', 'gsm8k']);
    await expect(loadBenchmarkDir(sharedPath('bench'), ['mmlu_pro'])).rejects.toThrow(/unknown benchmark\(s\) mmlu_pro/);
  });
});

describe('bad benchmark rows name the file and line', () => {
  it('JSONL loaders', async () => {
    const dir = tmp();
    const f = join(dir, 'arc_easy_test.jsonl');
    writeFileSync(f, '{"query":"Question: a?","choices":["x","y"],"gold":1}\n{"query":"b?","choices":["x","y"],"gold":2}\n');
    await expect(loadChoiceQa(f, 'arc_easy')).rejects.toThrow(`${f}:2: field "gold" is 2, outside the 2 options`);
    writeFileSync(f, '{"query":"a?","choices":"x","gold":0}\n');
    await expect(loadChoiceQa(f, 'arc_easy')).rejects.toThrow(`${f}:1: field "choices" must be a list of strings`);
    writeFileSync(f, '{"query":"a?",\n');
    await expect(loadChoiceQa(f, 'arc_easy')).rejects.toThrow(`${f}:1: malformed JSON`);
    const g = join(dir, 'gsm8k.jsonl');
    writeFileSync(g, '{"question":"q"}\n');
    await expect(loadGsm8k(g)).rejects.toThrow(`${g}:1: field "answer" must be a string, got nothing`);
    const w = join(dir, 'wino.jsonl');
    writeFileSync(w, '\n{"context_options":["a","b"],"continuation":"c","gold":"1"}\n');
    await expect(loadWinogrande(w)).rejects.toThrow(`${w}:2: field "gold" must be an integer`);
    const u = join(dir, 'mine.jsonl');
    writeFileSync(u, '{"text":"fine"}\n{"body":"no text"}\n');
    await expect(loadTextBenchmark(u, 'mine')).rejects.toThrow(`${u}:2: field "text" must be a string`);
    expect(await loadTextBenchmark(u.replace('mine', 'mine2'), 'x').catch((e: Error) => e.message)).toMatch(/ENOENT|no such file/);
  });

  it('PIQA labels must match the rows', async () => {
    const dir = tmp();
    const f = join(dir, 'piqa_valid.jsonl');
    writeFileSync(f, '{"goal":"g","sol1":"a","sol2":"b"}\n{"goal":"h","sol1":"a","sol2":"b"}\n');
    writeFileSync(join(dir, 'piqa_valid-labels.lst'), '0\n');
    await expect(loadPiqa(f)).rejects.toThrow(/piqa_valid-labels\.lst: has 1 labels but .* has 2 rows/);
    writeFileSync(join(dir, 'piqa_valid-labels.lst'), '0\n2\n');
    await expect(loadPiqa(f)).rejects.toThrow(/piqa_valid-labels\.lst:2: label must be 0 or 1/);
  });

  it('HellaSwag and MMLU', async () => {
    const dir = tmp();
    const h = join(dir, 'hellaswag.txt');
    writeFileSync(h, 'ctx: a\n1\ne0\ne1\ne2\ne3\nctx: b\nx\ne0\ne1\ne2\ne3\n');
    await expect(loadHellaswag(h)).rejects.toThrow(`${h}:8: expected the gold ending index 0-3, got "x"`);
    writeFileSync(h + '.bz2', 'not bzip2 at all');
    await expect(loadHellaswag(h + '.bz2')).rejects.toThrow(/not a readable bzip2 file/);
    const m = join(dir, 'mmlu');
    mkdirSync(m);
    writeFileSync(join(m, 'law_test.csv'), 'question,choice0,choice1,choice2,choice3,answer\n"multi\nline?",a,b,c,d,B\nq2,a,b,c,d,E\n');
    await expect(loadMmlu(m)).rejects.toThrow(`${join(m, 'law_test.csv')}:4: answer must be 0-3 or A-D, got "E"`);
    writeFileSync(join(m, 'law_test.csv'), 'q1,a,b,c,d,1\nq2,a,b,c,0\n');
    await expect(loadMmlu(m)).rejects.toThrow(`${join(m, 'law_test.csv')}:2: expected 6 columns`);
    writeFileSync(join(m, 'law_test.csv'), '"multi\nline?",a,b,c,d,B\n');
    expect(await loadMmlu(m)).toEqual([
      { benchmark: 'mmlu', id: 'mmlu/law/0', prompt: 'multi\nline?', text: 'multi\nline?\na\nb\nc\nd', answer: 'b', built: 'the question, then the four choices' },
    ]);
  });

  it('CSV parsing: quotes, doubled quotes, CRLF, errors', () => {
    expect(parseCsv('a,"b ""q"", c"\r\n"x\ny",,z\n', 'f.csv')).toEqual([
      { line: 1, fields: ['a', 'b "q", c'] },
      { line: 2, fields: ['x\ny', '', 'z'] },
    ]);
    expect(() => parseCsv('a,b\nc,"open\n', 'f.csv')).toThrow('f.csv:2: unterminated quoted field');
    expect(() => parseCsv('a,b"c\n', 'f.csv')).toThrow('f.csv:1: stray quote');
  });
});

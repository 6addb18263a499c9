import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/pipeline/corpus.js';
import type { CorpusConfig } from '../../src/pipeline/corpus.js';
import { loadBenchmarkDir, type BenchmarkItem } from '../../src/decontaminate/benchmarks.js';
import type { DecontamReport } from '../../src/decontaminate/report.js';
import { collect, readAll, writeShard } from '../../src/io/shards.js';
import { planStages, runPipeline } from '../../src/pipeline/run.js';
import { silentLogger } from '../../src/util/log.js';
import { hasSharedData, sharedPath } from '../helpers/shared-data.js';
import { rng, seedParagraphs } from './planted-corpus.js';

type Row = { id: string; text: string; token_length: number; decontam?: { reason?: string; benchmark: string; item_id: string; score: number; matched: string } };

describe.skipIf(!hasSharedData)('decontaminate stage', () => {
  let dir: string;
  let arc: BenchmarkItem[];
  let gsm: BenchmarkItem[];
  let paragraphs: string[];
  const mine = 'The secret handshake of the northern lighthouse keepers has exactly seven distinct steps, and each one is taught at midnight.';

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'cosmo-decontam-'));
    ({ items: arc } = await loadBenchmarkDir(sharedPath('bench'), ['arc_easy']));
    ({ items: gsm } = await loadBenchmarkDir(sharedPath('bench'), ['gsm8k']));
    paragraphs = seedParagraphs();
    writeFileSync(join(dir, 'my_eval.jsonl'), JSON.stringify({ id: 'hs1', question: mine }) + '\n');
  });

  function corpus(name: string, decontaminate: Record<string, unknown>): CorpusConfig {
    return parseConfig(
      {
        name,
        seeds: [{ kind: 'web', path: 'unused.jsonl' }],
        filter: { enabled: false },
        dedup: { enabled: false },
        decontaminate: { benchmarks_dir: sharedPath('bench'), benchmarks: ['arc_easy', 'gsm8k'], ...decontaminate },
      },
      { file: join(dir, 'corpus.yaml'), baseDir: dir },
    );
  }

  /** Write samples where decontaminate reads them: the folder of the stage before it. */
  async function input(cfg: CorpusConfig, shards: string[][]): Promise<void> {
    const inputDir = planStages(cfg).find((s) => s.def.name === 'decontaminate')!.plan.inputDir!;
    mkdirSync(inputDir, { recursive: true });
    let n = 0;
    for (const [i, texts] of shards.entries())
      await writeShard(
        join(inputDir, `${i}.jsonl`),
        texts.map((text) => ({ id: `s${n++}`, text, token_length: 1000 })),
      );
  }

  const prose = (r: () => number, k = 2) => Array.from({ length: k }, () => paragraphs[Math.floor(r() * paragraphs.length)]!).join('\n\n');
  const run = (cfg: CorpusConfig) => runPipeline(cfg, { only: ['decontaminate'], log: silentLogger });
  const out = (cfg: CorpusConfig, ...p: string[]) => join(cfg.output_dir, 'decontaminate', ...p);

  it('drops contaminated samples over several tasks, with a per-benchmark report of unique items', async () => {
    const cfg = corpus('drop', { tasks: 2, extra: [{ path: 'my_eval.jsonl', field: 'question' }] });
    const r = rng(5);
    const clean = Array.from({ length: 40 }, () => prose(r));
    // arc_easy/7 twice, in different tasks' shards: two samples removed, one unique item.
    const dirty = [
      `${prose(r)}\n\n${arc[7]!.text}\n\n${prose(r)}`,
      `Quiz!\n${arc[7]!.text.toUpperCase()}\n${prose(r)}`,
      `${prose(r)}\n\n${arc[100]!.text}`,
      `${gsm[3]!.text} Working through it step by step gives the answer in the end.\n\n${prose(r)}`,
      `${prose(r)} As the keepers say: ${mine}`,
    ];
    await input(cfg, [
      [...clean.slice(0, 20), dirty[0]!, dirty[2]!, dirty[4]!],
      [...clean.slice(20), dirty[1]!, dirty[3]!],
    ]);
    const [result] = await run(cfg);
    expect(result!.stats.counters).toMatchObject({ checked: 45, kept: 40, removed: 5 });

    const kept = await collect(readAll<Row>(out(cfg)));
    expect(kept.map((s) => s.text).sort()).toEqual([...clean].sort());
    const removed = await collect(readAll<Row>(out(cfg, 'removed')));
    expect(removed.map((s) => s.text).sort()).toEqual([...dirty].sort());
    const byText = new Map(removed.map((s) => [s.text, s.decontam!]));
    expect(byText.get(dirty[0]!)).toMatchObject({ reason: 'contaminated', benchmark: 'arc_easy', item_id: 'arc_easy/7', score: 1, matched: arc[7]!.text });
    expect(byText.get(dirty[3]!)).toMatchObject({ benchmark: 'gsm8k', item_id: 'gsm8k/3' });
    expect(byText.get(dirty[4]!)).toMatchObject({ benchmark: 'my_eval', item_id: 'my_eval/hs1', matched: mine });

    const report = JSON.parse(readFileSync(out(cfg, 'report.json'), 'utf8')) as DecontamReport;
    expect(report.samples).toEqual({ checked: 45, kept: 40, removed: 5, cut: 0 });
    const row = (b: string) => report.benchmarks.find((x) => x.benchmark === b)!;
    expect(row('arc_easy')).toMatchObject({ items: 2376, samples_removed: 3, unique_items: 2 });
    expect(row('gsm8k')).toMatchObject({ items: 1319, indexed: 1319, samples_removed: 1, unique_items: 1 });
    expect(row('my_eval')).toMatchObject({ items: 1, samples_removed: 1, unique_items: 1 });
    expect(row('gsm8k').item_texts).toBe('the question alone (the worked solution is left out)');
    expect(row('my_eval').item_texts).toBe('field "question" of my_eval.jsonl');
    expect(readFileSync(out(cfg, 'report.md'), 'utf8')).toContain('| arc_easy | 2376 (');
    expect(readFileSync(out(cfg, 'report.md'), 'utf8')).toContain('- gsm8k: the question alone');

    // A rerun finds both tasks complete and changes nothing.
    const [again] = await run(cfg);
    expect(again!.skipped).toBe(2);
    expect(await collect(readAll<Row>(out(cfg)))).toHaveLength(40);
  });

  it('cut mode keeps the sample without the contaminated span, and drops what is left too short', async () => {
    const cfg = corpus('cut', { mode: 'cut' });
    const r = rng(9);
    const before = prose(r, 3);
    const after = prose(r, 3);
    await input(cfg, [[`${before}\n\n${arc[42]!.text}\n\n${after}`, `Answer this: ${arc[43]!.text}`, prose(r)]]);
    const [result] = await run(cfg);
    expect(result!.stats.counters).toMatchObject({ checked: 3, kept: 2, cut: 1, removed: 1, 'removed_reason.too_short_after_cut': 1 });
    const kept = await collect(readAll<Row>(out(cfg)));
    const cut = kept.find((s) => s.decontam)!;
    const original = `${before}\n\n${arc[42]!.text}\n\n${after}`;
    expect(cut.text).toBe(`${before}\n\n${after}`);
    expect(cut.token_length).toBe(Math.round((1000 * cut.text.length) / original.length));
    expect(cut.decontam).toMatchObject({ item_id: 'arc_easy/42', matched: arc[42]!.text });
    expect(cut.decontam!.reason).toBeUndefined();
    const [removed] = await collect(readAll<Row>(out(cfg, 'removed')));
    expect(removed!.decontam).toMatchObject({ reason: 'too_short_after_cut', item_id: 'arc_easy/43' });
    const report = JSON.parse(readFileSync(out(cfg, 'report.json'), 'utf8')) as DecontamReport;
    expect(report.benchmarks.find((b) => b.benchmark === 'arc_easy')).toMatchObject({ samples_cut: 1, samples_removed: 1, unique_items: 2 });
  });

  it('writes byte for byte the same output with samples checked on worker threads', async () => {
    const r = rng(13);
    const texts = Array.from({ length: 60 }, (_, i) =>
      i % 4 === 0 ? `${prose(r, 3)}\n\n${arc[200 + i]!.text}\n\n${prose(r, 3)}` : i % 7 === 0 ? `Answer this: ${arc[300 + i]!.text}` : prose(r),
    );
    const files = async (threads: number) => {
      const cfg = corpus(`threads-${threads}`, { mode: 'cut', threads });
      await input(cfg, [texts]);
      const [result] = await run(cfg);
      const read = (...p: string[]) => readFileSync(out(cfg, ...p), 'utf8');
      return { kept: read('0.jsonl'), removed: read('removed', '0.jsonl'), report: read('report.json'), counters: result!.stats.counters };
    };
    const single = await files(0);
    expect(single.counters).toMatchObject({ checked: 60, cut: 15 });
    expect(await files(2)).toEqual(single);
  });

  it('names the same bad input line on worker threads as on this one, or skips and counts it alike', async () => {
    const r = rng(17);
    const lines = [
      JSON.stringify({ id: 'a', text: prose(r) }),
      JSON.stringify({ id: 'b', text: `${prose(r)}\n\n${arc[120]!.text}` }),
      JSON.stringify({ id: 3, text: prose(r) }),
      '{"id": "d", "text": ',
      JSON.stringify({ id: 'e', text: prose(r) }),
    ];
    const attempt = async (threads: number, skipBad: boolean) => {
      const cfg = corpus(`bad-input-${threads}-${skipBad}`, { threads });
      const inputDir = planStages(cfg).find((s) => s.def.name === 'decontaminate')!.plan.inputDir!;
      mkdirSync(inputDir, { recursive: true });
      writeFileSync(join(inputDir, '0.jsonl'), lines.join('\n') + '\n');
      const file = join(inputDir, '0.jsonl');
      const [result] = await runPipeline(cfg, { only: ['decontaminate'], log: silentLogger, skipBad });
      return { file, kept: readFileSync(out(cfg, '0.jsonl'), 'utf8'), removed: readFileSync(out(cfg, 'removed', '0.jsonl'), 'utf8'), counters: result!.stats.counters };
    };
    for (const threads of [0, 2]) {
      const failed = attempt(threads, false);
      await expect(failed).rejects.toThrow(/0\.jsonl:3: not a sample record: field "id" should be a string, got number; pass --skip-bad/);
    }
    const [single, threaded] = [await attempt(0, true), await attempt(2, true)];
    expect(single.counters).toMatchObject({ checked: 3, removed: 1, bad_lines: 2 });
    expect({ ...threaded, file: '' }).toEqual({ ...single, file: '' });
  });

  it('is left out of the pipeline when no benchmarks are configured', () => {
    const cfg = parseConfig({ seeds: [{ kind: 'web', path: 'x.jsonl' }] }, { file: join(dir, 'c.yaml'), baseDir: dir });
    expect(planStages(cfg).map((s) => s.def.name)).not.toContain('decontaminate');
    expect(planStages(corpus('on', {})).map((s) => s.def.name)).toContain('decontaminate');
  });

  it('fails the task with the file and line of a bad benchmark row', async () => {
    writeFileSync(join(dir, 'broken.jsonl'), '{"text":"fine"}\n{"txt":"oops"}\n');
    const cfg = corpus('bad', { extra: ['broken.jsonl'] });
    await input(cfg, [['some text']]);
    await expect(run(cfg)).rejects.toThrow(`${join(dir, 'broken.jsonl')}:2: field "text" must be a string`);
    expect(existsSync(out(cfg, '0.jsonl'))).toBe(false);
  });
});

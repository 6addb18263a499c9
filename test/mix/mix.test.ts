/**
 * The mix stage: the corpus interleaved with real corpora (JSONL and Parquet) at configured token
 * ratios, counted with the model's tokenizer, seeded, with caps; tokenize then tokenizes the mix.
 */
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { tokenizerFromJson } from '../../src/engines/tokenizer.js';
import { ParquetFileWriter } from '../../src/io/parquet.js';
import { collect, readAll, writeShard } from '../../src/io/shards.js';
import type { MixRecord } from '../../src/mix/stage.js';
import { parseConfig } from '../../src/pipeline/corpus.js';
import { runPipeline } from '../../src/pipeline/run.js';
import { readTokenFile } from '../../src/tokenize/formats.js';
import { silentLogger } from '../../src/util/log.js';
import { cosmo } from '../helpers/cli.js';
import { makeSample } from '../helpers/sample.js';
import { hasSharedData, sharedPath } from '../helpers/shared-data.js';

const SMOLLM2 = sharedPath('tokenizers/smollm2-135m-tokenizer.json');

function lines(file: string, field: string): string[] {
  return readFileSync(sharedPath(file), 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => (JSON.parse(l) as Record<string, string>)[field]!)
    .filter(Boolean);
}

interface Summary {
  tokens: number;
  limited_by: string | null;
  sources: { name: string; target_share: number; achieved_share: number; tokens: number; documents: number; available_tokens: number }[];
}

/** A corpus of OpenStax-like samples (dedup's output) and a real web source in a JSONL file and a Parquet file. */
async function corpus(mix: Record<string, unknown>, over: Record<string, unknown> = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'cosmo-mix-'));
  const synthetic = lines('seed/openstax/openstax_toc_intros.jsonl', 'abstract').slice(0, 400);
  const web = lines('seed/web/c4_demo.jsonl', 'text');
  const samples = synthetic.map((t, i) => makeSample(t, { seed_id: `seed-${i}` }));
  for (let s = 0; s < 2; s++) await writeShard(join(dir, 'out', 'dedup', `${s}.jsonl`), samples.filter((_, i) => i % 2 === s));
  mkdirSync(join(dir, 'web'));
  writeFileSync(join(dir, 'web', 'part-0.jsonl'), web.slice(0, 150).map((t, i) => JSON.stringify({ id: `c4-${i}`, text: t })).join('\n') + '\n');
  const pq = await ParquetFileWriter.open(join(dir, 'web', 'part-1.parquet'), { id: 'VARCHAR', text: 'VARCHAR' });
  for (const [i, t] of web.slice(150).entries()) await pq.write({ id: `c4-${150 + i}`, text: t });
  await pq.close();
  const raw = {
    output: 'out',
    seeds: [{ kind: 'web', path: 'unused.jsonl' }],
    decontaminate: { enabled: false },
    mix: { enabled: true, tokenizer: SMOLLM2, sources: [{ name: 'cosmo', weight: 0.3 }, { name: 'c4', path: 'web', weight: 0.7 }], ...mix },
    ...over,
  };
  writeFileSync(join(dir, 'corpus.yaml'), JSON.stringify(raw));
  return { dir, cfg: parseConfig(raw, { file: join(dir, 'corpus.yaml'), baseDir: dir }), samples };
}

const summaryOf = (dir: string) => JSON.parse(readFileSync(join(dir, 'out/mix/summary.json'), 'utf8')) as Summary;

describe.skipIf(!hasSharedData)('mix', () => {
  it('mixes the corpus with a real JSONL + Parquet corpus at the configured token ratios, within 1%, seeded; tokenize then tokenizes the mix', async () => {
    const c = await corpus({ tasks: 2 }, { tokenize: { enabled: true, tokenizer: SMOLLM2 } });
    await runPipeline(c.cfg, { only: ['mix', 'tokenize'], log: silentLogger });
    const s = summaryOf(c.dir);
    for (const src of s.sources) expect(Math.abs(src.achieved_share - src.target_share) / src.target_share).toBeLessThan(0.01);
    // The source scarcest relative to its weight bounds the mix: all of it, or nearly, goes in.
    const scarce = [...s.sources].sort((a, b) => a.available_tokens / a.target_share - b.available_tokens / b.target_share)[0]!;
    expect(s.limited_by).toBe(scarce.name);
    expect(scarce.tokens / scarce.available_tokens).toBeGreaterThan(0.99);
    expect(s.sources.every((x) => x.tokens > 10_000)).toBe(true);

    const rows = await collect(readAll<MixRecord>(join(c.dir, 'out/mix')));
    expect(rows.length).toBe(s.sources.reduce((n, x) => n + x.documents, 0));
    expect(new Set(rows.map((r) => r.id)).size).toBe(rows.length);
    const tok = tokenizerFromJson(SMOLLM2);
    for (const r of rows.slice(0, 50)) expect(r.token_count).toBe(tok.encode(r.text).length);
    expect(rows.filter((r) => r.source === 'cosmo').every((r) => c.samples.some((x) => x.id === r.id))).toBe(true);
    expect(rows.filter((r) => r.source === 'c4').every((r) => /^c4:c4-\d+$/.test(r.id))).toBe(true);
    // Interleaved: both sources in the first tenth of a task's shard, not one after the other.
    const first = (await collect(readAll<MixRecord>(join(c.dir, 'out/mix')))).slice(0, Math.ceil(rows.length / 20));
    expect(new Set(first.map((r) => r.source))).toEqual(new Set(['cosmo', 'c4']));

    // Tokenize read the mix: its documents decode to the mixed texts.
    const docs = readdirSync(join(c.dir, 'out/tokenize/datatrove'))
      .filter((f) => f.endsWith('.ds'))
      .flatMap((f) => readTokenFile('datatrove', join(c.dir, 'out/tokenize/datatrove', f.slice(0, -3))));
    expect(docs.map((d) => tok.decode(d.subarray(0, -1))).sort()).toEqual(rows.map((r) => r.text).sort());

    // The same mix on a second run.
    const again = await corpus({ tasks: 2 });
    await runPipeline(again.cfg, { only: ['mix'], log: silentLogger });
    expect((await collect(readAll<MixRecord>(join(again.dir, 'out/mix')))).map((r) => r.id)).toEqual(rows.map((r) => r.id));
  }, 120_000);

  it('caps the mix (cosmo mix --max-tokens) and each source, keeping the ratios', async () => {
    const c = await corpus({ sources: [{ name: 'cosmo', weight: 1 }, { name: 'c4', path: 'web', weight: 1, max_tokens: 20_000 }] });
    const r = await cosmo(['mix', 'corpus.yaml', '--max-tokens', '30000'], { cwd: c.dir }).done;
    expect(r.code, r.stderr).toBe(0);
    const s = summaryOf(c.dir);
    expect(Math.abs(s.tokens - 30_000) / 30_000).toBeLessThan(0.01);
    for (const src of s.sources) expect(Math.abs(src.achieved_share - 0.5)).toBeLessThan(0.005);
    const capped = await corpus({ sources: [{ name: 'cosmo', weight: 1 }, { name: 'c4', path: 'web', weight: 1, max_tokens: 10_000 }] });
    await runPipeline(capped.cfg, { only: ['mix'], log: silentLogger });
    const t = summaryOf(capped.dir);
    expect(t.sources.find((x) => x.name === 'c4')!.tokens).toBeLessThanOrEqual(10_000 * 1.01);
    expect(Math.abs(t.tokens - 20_000) / 20_000).toBeLessThan(0.01);
  }, 120_000);

  it('names the file and line of a row without text, and refuses a mix of one source', async () => {
    const c = await corpus({});
    writeFileSync(join(c.dir, 'web', 'part-0.jsonl'), '{"text": "fine"}\n{"body": "no text field"}\n');
    await expect(runPipeline(c.cfg, { only: ['mix'], log: silentLogger })).rejects.toThrow(/web\/part-0\.jsonl:2: .*mix source c4: field "text" is not a string/);
    expect(() => parseConfig({ seeds: [{ kind: 'web', path: 'x' }], mix: { enabled: true, sources: [{ name: 'cosmo', weight: 1 }] } }, { file: 'corpus.yaml', baseDir: c.dir })).toThrow(
      /mix\.sources: list at least two sources to mix/,
    );
  });
});

/**
 * The dataset card validates: its front matter is what the Hub reads (features equal to the Parquet
 * schema DuckDB reads, splits and sizes, license, language, task, tags), and its body says how the
 * data was made, from what the real filter, dedup and decontaminate stages left, with no machine
 * path or endpoint address.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { loadBenchmarkDir } from '../../src/decontaminate/benchmarks.js';
import { queryRows, sqlString } from '../../src/io/parquet.js';
import { writeShard } from '../../src/io/shards.js';
import { parseConfig } from '../../src/pipeline/corpus.js';
import { runPipeline } from '../../src/pipeline/run.js';
import { silentLogger } from '../../src/util/log.js';
import { rng, seedParagraphs } from '../decontaminate/planted-corpus.js';
import { makeSample } from '../helpers/sample.js';
import { hasSharedData, sharedPath } from '../helpers/shared-data.js';

/** Hugging Face's feature for a DuckDB type, written here apart from the card's own mapping. */
const HF: Record<string, string> = { VARCHAR: 'string', INTEGER: 'int32', BIGINT: 'int64', DOUBLE: 'float64', BOOLEAN: 'bool' };

describe.skipIf(!hasSharedData)('dataset card', () => {
  it('has front matter the Hub reads, features equal to the Parquet schema, and says how the data was made', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cosmo-card-'));
    const r = rng(3);
    const paragraphs = seedParagraphs().filter((p) => p.split(/\s+/).length > 80);
    const texts = Array.from({ length: 60 }, () => `${paragraphs[Math.floor(r() * paragraphs.length)]!}\n\n${paragraphs[Math.floor(r() * paragraphs.length)]!}`);
    const { items } = await loadBenchmarkDir(sharedPath('bench'), ['arc_easy']);
    texts.push(`${texts[0]!} `); // a near-duplicate
    texts.push(`${paragraphs[1]!}\n\n${items[7]!.text}\n\n${paragraphs[2]!}`); // an ARC item, verbatim
    const samples = texts.map((t, i) => makeSample(t, { format: i % 3 ? 'textbook' : 'story', audience: i % 2 ? 'college' : 'young_children', engine: 'http://gpu01.internal:8000/v1' }));
    await writeShard(join(dir, 'out/card-test/generate', '0.jsonl'), samples);
    const cfg = parseConfig(
      {
        name: 'card-test',
        seeds: [{ kind: 'web', path: join(dir, 'web.jsonl'), license: 'ODC-BY-1.0' }],
        generate: { engines: [{ type: 'openai', base_url: 'http://gpu01.internal:8000/v1', model: 'm', server: 'vllm' }] },
        decontaminate: { benchmarks_dir: sharedPath('bench'), benchmarks: ['arc_easy'] },
        export: { card: { license: 'cc-by-4.0', pretty_name: 'Card test' } },
      },
      { file: join(dir, 'corpus.yaml'), baseDir: dir },
    );
    await runPipeline(cfg, { only: ['filter', 'dedup', 'decontaminate', 'export'], log: silentLogger });

    const card = readFileSync(join(dir, 'out/card-test/export/README.md'), 'utf8');
    const [, yaml, body] = /^---\n([\s\S]*?)\n---\n([\s\S]*)$/.exec(card)!;
    const front = parse(yaml!) as {
      dataset_info: { features: unknown[]; splits: unknown[]; download_size: number; dataset_size: number };
      configs: unknown[];
      tags: string[];
    } & Record<string, unknown>;
    const exportDir = join(dir, 'out/card-test/export');
    const files = readdirSync(exportDir).filter((f) => f.endsWith('.parquet'));
    const list = `[${files.map((f) => sqlString(join(exportDir, f))).join(', ')}]`;
    const schema = await queryRows(`DESCRIBE SELECT * FROM read_parquet(${list})`);
    expect(front.dataset_info.features).toEqual(
      schema.map((c) => {
        const type = String(c.column_type);
        return type.endsWith('[]') ? { name: c.column_name, sequence: HF[type.slice(0, -2)] } : { name: c.column_name, dtype: HF[type] };
      }),
    );
    const [{ n }] = (await queryRows(`SELECT count(*)::BIGINT AS n FROM read_parquet(${list})`)) as [{ n: number }];
    expect(front.dataset_info.splits).toEqual([{ name: 'train', num_examples: Number(n), num_bytes: front.dataset_info.dataset_size }]);
    expect(front.dataset_info.download_size).toBe(files.reduce((s, f) => s + statSync(join(exportDir, f)).size, 0));
    expect(front.dataset_info.dataset_size).toBeGreaterThan(front.dataset_info.download_size);
    expect(front.configs).toEqual([{ config_name: 'default', data_files: [{ split: 'train', path: '*.parquet' }] }]);
    expect(front).toMatchObject({ license: 'cc-by-4.0', language: ['en'], task_categories: ['text-generation'], size_categories: ['n<1K'], pretty_name: 'Card test' });
    expect(front.tags).toContain('synthetic');

    // How it was made: the mix from the data, seeds and their licenses, and what cleaning did.
    expect(body).toContain('- engines: an OpenAI-compatible server (vllm)');
    expect(body).toMatch(/\| textbook \| \d+ \| \d+\.\d% \|/);
    expect(body).toContain('| web.jsonl | web | ODC-BY-1.0 |');
    const filterStats = JSON.parse(readFileSync(join(dir, 'out/card-test/filter/stats.json'), 'utf8')).counters;
    expect(body).toContain(`Filter: ${filterStats.samples} samples checked, ${filterStats.kept} kept.`);
    expect(body).toMatch(/Near-duplicates \(MinHash\): 1 of 62 samples removed \(1\.6%\): exact 1\./);
    expect(body).toMatch(/\| arc_easy \| [\d,]+ \| 1 \| 1 \|/);
    // Nothing of this machine or its network.
    expect(card).not.toContain(dir);
    expect(card).not.toContain('gpu01.internal');
  }, 120_000);
});

import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readExport } from '../../src/export/stage.js';
import { writeShard } from '../../src/io/shards.js';
import { parseConfig } from '../../src/pipeline/corpus.js';
import { runPipeline } from '../../src/pipeline/run.js';
import { silentLogger } from '../../src/util/log.js';
import { makeSample } from '../helpers/sample.js';

/** A corpus whose export reads `n` samples from four dedup shards (the stage before export). */
async function corpus(n: number, exp: Record<string, unknown>, over: Record<string, unknown> = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'cosmo-export-'));
  const samples = Array.from({ length: n }, (_, i) => makeSample(`sample ${i}: ${'text of some length '.repeat(20)}`, { model: i % 3 ? 'a' : 'b', ...(i === 5 ? { error: 'HTTP 500', text: '' } : {}) }));
  for (let s = 0; s < 4; s++) await writeShard(join(dir, 'dedup', `${s}.jsonl`), samples.filter((_, i) => i % 4 === s));
  const cfg = parseConfig(
    {
      output: dir,
      seeds: [{ kind: 'web', path: 'unused.jsonl' }],
      generate: { engines: [{ type: 'openai', base_url: 'http://gpu01.internal:8000/v1', model: 'a', api_key_env: 'SOME_KEY' }] },
      filter: { enabled: false },
      export: exp,
      ...over,
    },
    { file: join(dir, 'corpus.yaml'), baseDir: dir },
  );
  return { dir, cfg, samples };
}

const exportOf = async (c: Awaited<ReturnType<typeof corpus>>) => {
  const [r] = await runPipeline(c.cfg, { only: ['export'], log: silentLogger });
  return r!;
};

describe('export', () => {
  it('streams every sample but the failed ones into files of at most shard_rows rows, over several tasks', async () => {
    // Two formats: the record-by-record path, which closes files at exactly shard_rows.
    const c = await corpus(250, { tasks: 2, shard_rows: 40, formats: ['parquet', 'jsonl.gz'] }, { executor: { workers: 2 } });
    const r = await exportOf(c);
    const files = readdirSync(join(c.dir, 'export')).filter((f) => f.endsWith('.parquet')).sort();
    // Two tasks, each ~125 rows in files of <= 40: 4 files each, named by task and index.
    expect(files.filter((f) => f.startsWith('000-')).length).toBe(4);
    expect(files.filter((f) => f.startsWith('001-')).length).toBe(4);
    const rows = await readExport(join(c.dir, 'export'));
    expect(rows.length).toBe(249);
    expect(new Set(rows.map((x) => x.id))).toEqual(new Set(c.samples.filter((s) => !s.error).map((s) => s.id)));
    expect(r.stats.counters).toMatchObject({ rows: 249, failed_skipped: 1, files: 8, 'model.a': 165, 'model.b': 84 });
    const card = readFileSync(join(c.dir, 'export/README.md'), 'utf8');
    expect(card).toMatch(/num_examples: 249/);
    expect(card).toContain('- models: a, b');
  });

  it('through DuckDB, closes files after about shard_rows rows (whole row groups of 2,048)', async () => {
    const c = await corpus(12_000, { shard_rows: 2048 });
    const r = await exportOf(c);
    const files = readdirSync(join(c.dir, 'export')).filter((f) => f.endsWith('.parquet'));
    expect(files.length).toBeGreaterThanOrEqual(5);
    expect(r.stats.counters).toMatchObject({ rows: 11_999, failed_skipped: 1, files: files.length });
    expect((await readExport(join(c.dir, 'export'))).length).toBe(11_999);
  });

  it('gives the same rows through DuckDB (whole JSONL shards) as record by record (JSONL.gz too)', async () => {
    const fast = await corpus(60, {});
    const slow = await corpus(60, { formats: ['parquet', 'jsonl.gz'] });
    await exportOf(fast);
    await exportOf(slow);
    const pick = (rows: Record<string, unknown>[]) => rows.map((x) => JSON.stringify(x)).sort();
    expect(pick(await readExport(join(fast.dir, 'export')))).toEqual(pick(await readExport(join(slow.dir, 'export'))));
    expect(readdirSync(join(slow.dir, 'export')).filter((f) => f.endsWith('.jsonl.gz'))).toEqual(['000-00000.jsonl.gz']);
  });

  it('names the file and line of a record that is not a sample', async () => {
    const c = await corpus(8, {});
    writeFileSync(join(c.dir, 'dedup', '1.jsonl'), readFileSync(join(c.dir, 'dedup', '1.jsonl'), 'utf8') + '{"id": "x", "txt": "no text"}\n');
    await expect(exportOf(c)).rejects.toThrow(/dedup\/1\.jsonl:3: not a sample record: field "text" should be a string, got undefined/);
  });

  it('writes a card without local paths, endpoint addresses or key names', async () => {
    const c = await corpus(4, {});
    await exportOf(c);
    const card = readFileSync(join(c.dir, 'export/README.md'), 'utf8');
    expect(card).not.toContain(c.dir);
    expect(card).not.toContain('gpu01.internal');
    expect(card).toContain('base_url: <endpoint>');
  });
});

/** The library is the product: a corpus built from a config object through the public entry point alone. */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as cosmo from '../src/index.js';
import { startMockOpenAI } from './helpers/mock-openai.js';

let server: Awaited<ReturnType<typeof startMockOpenAI>>;
beforeAll(async () => {
  server = await startMockOpenAI({ latencyMs: 1, completionTokens: 300, model: 'mock-model' });
});
afterAll(() => server.close());

describe('library entry point', () => {
  it('runs seeds -> prompts -> generate -> filter -> dedup -> export from a config object', async () => {
    const out = mkdtempSync(join(tmpdir(), 'cosmo-lib-'));
    const cfg = cosmo.parseConfig(
      {
        name: 'lib',
        output: out,
        seeds: [{ kind: 'web', path: resolve(import.meta.dirname, '../examples/data/web.jsonl') }],
        prompts: { count: 24, mix: [{ kind: 'web', format: ['textbook_academic', 'blogpost'] }] },
        generate: { engines: [{ type: 'openai', base_url: server.url, model: 'mock-model', concurrency: 8 }] },
        // The mock server's text is deliberately repetitive; the repetition check would (rightly) drop it all.
        filter: { min_tokens: 10, repetition: { enabled: false } },
      },
      { file: 'inline', baseDir: process.cwd() },
    );
    const results = await cosmo.runPipeline(cfg, { log: cosmo.silentLogger });
    expect(results.map((r) => r.stage)).toEqual(['seeds', 'prompts', 'generate', 'filter', 'dedup', 'export']);
    const gen = results.find((r) => r.stage === 'generate')!;
    expect(gen.stats.counters.samples).toBe(24);

    const rows = await cosmo.readExport(cosmo.stageDir(cfg, 'export'));
    const dedup = results.find((r) => r.stage === 'dedup')!.stats.counters;
    const filtered = results.find((r) => r.stage === 'filter')!.stats.counters;
    // Every sample is accounted for: exported, or dropped by filter / dedup with a reason.
    const dropped = (c: Record<string, number>, prefix: string) =>
      Object.entries(c).reduce((n, [k, v]) => (k.startsWith(prefix) ? n + v : n), 0);
    expect(rows.length + dropped(filtered, 'dropped.') + dropped(dedup, 'removed.')).toBe(24);
    expect(new Set(rows.map((r) => r.format))).toEqual(new Set(['textbook_academic', 'blogpost']));
    for (const r of rows) expect(r.model).toBe('mock-model');

    // A second run finds every task complete and redoes nothing.
    const again = await cosmo.runPipeline(cfg, { log: cosmo.silentLogger });
    expect(again.every((r) => r.skipped === r.tasks)).toBe(true);
  });
});

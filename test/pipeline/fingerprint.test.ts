import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/pipeline/corpus.js';
import { runPipeline } from '../../src/pipeline/run.js';
import { chainFingerprint } from '../../src/pipeline/fingerprint.js';
import { silentLogger } from '../../src/util/log.js';

const WEB = resolve(import.meta.dirname, '../../examples/data/web.jsonl');

function corpus(output: string, over: Record<string, unknown> = {}) {
  return parseConfig({ output, seeds: [{ kind: 'web', path: WEB }], prompts: { count: 8 }, ...over }, { file: 'inline', baseDir: process.cwd() });
}
const build = (cfg: ReturnType<typeof corpus>) => runPipeline(cfg, { only: ['seeds', 'prompts'], log: silentLogger });

describe('finished stages and a changed config', () => {
  it('refuses to reuse a stage made with other settings, naming the folder to delete', async () => {
    const out = mkdtempSync(join(tmpdir(), 'cosmo-fp-'));
    await build(corpus(out));
    await expect(build(corpus(out, { prompts: { count: 9 } }))).rejects.toThrow(
      `${join(out, 'prompts')} was made with other settings than the config now has (changed: prompts.count)`,
    );
    // A change upstream invalidates what was built from it.
    await expect(build(corpus(out, { seeds: [{ kind: 'web', path: WEB, limit: 5 }], prompts: { count: 8 } }))).rejects.toThrow(
      `${join(out, 'seeds')} was made with other settings`,
    );
  });

  it('resumes across changes that only affect how the work runs', async () => {
    const out = mkdtempSync(join(tmpdir(), 'cosmo-fp-'));
    await build(corpus(out));
    const again = await build(
      corpus(out, { executor: { workers: 2 }, generate: { timeout_s: 5, retry: { max_attempts: 2 } }, dedup: { threads: 0 }, filter: { judge: { concurrency: 2 } } }),
    );
    expect(again.every((r) => r.skipped === r.tasks)).toBe(true);
  });
});

describe('stage fingerprints', () => {
  const out = '/unused';
  const fp = (stage: string, over: Record<string, unknown>) => chainFingerprint('', stage, corpus(out, over));
  it('change with what shapes the output, not with how it runs', () => {
    expect(fp('dedup', { dedup: { threads: 0 } })).toBe(fp('dedup', { dedup: { threads: 3 } }));
    expect(fp('dedup', { dedup: { bands: 14 } })).not.toBe(fp('dedup', { dedup: { bands: 20 } }));
    expect(fp('filter', { filter: { judge: { concurrency: 1 } } })).toBe(fp('filter', { filter: { judge: { concurrency: 8 } } }));
    expect(fp('filter', { filter: { min_tokens: 100 } })).not.toBe(fp('filter', { filter: { min_tokens: 150 } }));
    const engine = (base_url: string, model: string) => ({ generate: { engines: [{ type: 'openai', base_url, model }] } });
    expect(fp('generate', engine('http://a:8000/v1', 'm'))).toBe(fp('generate', engine('http://b:9000/v1', 'm')));
    expect(fp('generate', engine('http://a:8000/v1', 'm'))).not.toBe(fp('generate', engine('http://a:8000/v1', 'other')));
  });
});

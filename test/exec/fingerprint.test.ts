import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import { runPipeline } from '../../src/pipeline/run.js';
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
      `${join(out, 'prompts')} was made with other settings than the config now has (the prompts settings or an earlier stage's changed)`,
    );
    // A change upstream invalidates what was built from it.
    await expect(build(corpus(out, { seeds: [{ kind: 'web', path: WEB, limit: 5 }], prompts: { count: 8 } }))).rejects.toThrow(
      `${join(out, 'seeds')} was made with other settings`,
    );
  });

  it('resumes across changes that only affect how the work runs', async () => {
    const out = mkdtempSync(join(tmpdir(), 'cosmo-fp-'));
    await build(corpus(out));
    const again = await build(corpus(out, { executor: { workers: 2 }, generate: { timeout_s: 5, retry: { max_attempts: 2 } } }));
    expect(again.every((r) => r.skipped === r.tasks)).toBe(true);
  });
});

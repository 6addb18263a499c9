import { mkdtempSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/pipeline/corpus.js';
import { runPipeline } from '../../src/pipeline/run.js';
import { silentLogger } from '../../src/util/log.js';
import { startMockOpenAI } from '../helpers/mock-openai.js';

/** A local port with nothing listening on it. */
async function deadPort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const { port } = srv.address() as { port: number };
  await new Promise((r) => srv.close(r));
  return port;
}

function corpus(engines: unknown[]) {
  return parseConfig(
    {
      output: mkdtempSync(join(tmpdir(), 'cosmo-reach-')),
      seeds: [{ kind: 'web', path: resolve(import.meta.dirname, '../../examples/data/web.jsonl'), limit: 4 }],
      generate: { engines, breaker: { max_outage_s: 120 } },
    },
    { file: 'inline', baseDir: process.cwd() },
  );
}

let live: Awaited<ReturnType<typeof startMockOpenAI>>;
beforeAll(async () => {
  live = await startMockOpenAI({ latencyMs: 1 });
});
afterAll(() => live.close());

describe('endpoints unreachable at start', () => {
  it('stops at once, naming every endpoint and why, when none can be reached', async () => {
    const dead = `http://127.0.0.1:${await deadPort()}/v1`;
    const cfg = corpus([{ type: 'openai', base_url: dead, model: 'm' }]);
    await expect(runPipeline(cfg, { only: ['seeds', 'prompts', 'generate'], log: silentLogger })).rejects.toThrow(
      new RegExp(`no engine can be reached:\\s+${dead.replace(/[.:/]/g, '\\$&')}: ECONNREFUSED`),
    );
  });

  it('generates with the engines that answer when only some are down', async () => {
    const dead = `http://127.0.0.1:${await deadPort()}/v1`;
    const cfg = corpus([
      { type: 'openai', base_url: dead, model: 'm' },
      { type: 'openai', base_url: live.url, model: 'm' },
    ]);
    const results = await runPipeline(cfg, { only: ['seeds', 'prompts', 'generate'], log: silentLogger });
    expect(results.find((r) => r.stage === 'generate')!.stats.counters.samples).toBe(4);
  });
});

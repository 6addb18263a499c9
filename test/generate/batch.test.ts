/**
 * The batch engine (`type: openai-batch`) against a stand-in of OpenAI's Batch API over real HTTP:
 * 10,000 prompts split into batches at the request limit, failed and expired items asked again in
 * later batches, every answer merged once; and a run killed with SIGKILL while it polls picks its
 * batches up instead of submitting them again.
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { shardPath } from '../../src/generate/stage.js';
import { runPipeline } from '../../src/pipeline/run.js';
import { silentLogger } from '../../src/util/log.js';
import { startMockBatch, type MockBatchServer } from '../helpers/mock-batch.js';
import { mockReply } from '../helpers/mock-openai.js';
import { corpusConfig, makePrompts, readSamples, tmp, writePrompts } from './helpers.js';

const servers: MockBatchServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});
const batchServer = async (opts: Parameters<typeof startMockBatch>[0]) => {
  const s = await startMockBatch(opts);
  servers.push(s);
  return s;
};
const quick = { retry: { max_attempts: 4, backoff_ms: 5, max_backoff_ms: 10 }, cache: false };

describe('batch engine', () => {
  it('generates 10,000 prompts in batches of at most 3,000, asks again for failed and expired items in later batches, and merges each answer once', async () => {
    const N = 10_000;
    // Every 97th prompt fails the first time it is sent; the first batch expires with half of its answers.
    const s = await batchServer({ maxRequests: 3_000, expireFirst: 1, completionTokens: 12, fails: (prompt, attempt) => attempt === 1 && Number(/number (\d+)/.exec(prompt)?.[1]) % 97 === 0 });
    const dir = tmp();
    const prompts = makePrompts(N);
    writePrompts(dir, prompts, 2_500);
    const cfg = corpusConfig(dir, { engines: [{ type: 'openai-batch', base_url: s.url, model: 'm', max_requests: 3_000, gather_s: 0.05, poll_s: 0.05 }], params: { max_tokens: 12 }, ...quick });
    await runPipeline(cfg, { only: ['generate'], log: silentLogger });

    const samples = readSamples(shardPath(join(dir, 'generate'), 0));
    expect(samples.map((x) => x.id)).toEqual(prompts.map((p) => p.id));
    expect(samples.every((x, i) => !x.error && x.text === mockReply(prompts[i]!.prompt, 12))).toBe(true);
    // Each prompt went out once, and each item that failed or that the expired batch left went out once more, in a later batch.
    expect(s.submissions.size).toBe(N);
    expect(s.stats.expiredItems).toBeGreaterThan(100);
    expect(s.stats.failedItems).toBeGreaterThanOrEqual(prompts.filter((_, i) => i % 97 === 0).length);
    expect(s.stats.requests).toBe(N + s.stats.expiredItems + s.stats.failedItems);
    expect(s.stats.batches).toBeGreaterThanOrEqual(5);
  }, 120_000);

  it('sends again the requests of a recorded batch the server no longer knows', async () => {
    const dir = tmp();
    const prompts = makePrompts(50);
    writePrompts(dir, prompts);
    const engine = (url: string) => ({ engines: [{ type: 'openai-batch', base_url: url, model: 'm', max_requests: 20, gather_s: 0.02, poll_s: 0.02 }], params: { max_tokens: 8 }, ...quick });
    const first = await batchServer({ completionTokens: 8 });
    await runPipeline(corpusConfig(dir, engine(first.url)), { only: ['generate'], log: silentLogger });
    expect(first.stats.batches).toBe(3);
    // The same requests later, against a server that never saw those batches (their record is kept).
    rmSync(join(dir, 'generate'), { recursive: true, force: true });
    rmSync(join(dir, '.cosmo', 'stages'), { recursive: true, force: true });
    const second = await batchServer({ completionTokens: 8 });
    await runPipeline(corpusConfig(dir, engine(second.url)), { only: ['generate'], log: silentLogger });
    expect(readSamples(shardPath(join(dir, 'generate'), 0)).filter((x) => !x.error)).toHaveLength(50);
    expect(second.submissions.size).toBe(50);
  }, 60_000);

  it('killed with SIGKILL while it polls, picks its batches up on the next run instead of submitting them again', async () => {
    const N = 1_000;
    const s = await batchServer({ runMs: 2_500, completionTokens: 8 });
    const dir = tmp();
    const prompts = makePrompts(N);
    writePrompts(dir, prompts);
    const spec = join(dir, 'spec.json');
    writeFileSync(spec, JSON.stringify({ dir, generate: { engines: [{ type: 'openai-batch', base_url: s.url, model: 'm', max_requests: 300, gather_s: 0.05, poll_s: 0.05 }], params: { max_tokens: 8 }, ...quick } }));
    const run = () => {
      const child = spawn(process.execPath, ['--import', 'tsx', join(import.meta.dirname, 'generate-child.ts'), spec], { stdio: ['ignore', 'ignore', 'pipe'] });
      let stderr = '';
      child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
      return { child, exit: new Promise<{ code: number | null; signal: string | null; stderr: string }>((r) => child.on('exit', (code, signal) => r({ code, signal, stderr }))) };
    };

    const first = run();
    // Killed once all four batches are submitted and recorded, while they are still in progress.
    const state = join(dir, '.cosmo', 'batches', 'generate-0.jsonl');
    const recorded = () => (existsSync(state) ? readFileSync(state, 'utf8').split('\n').filter(Boolean).length : 0);
    const deadline = Date.now() + 30_000;
    while ((s.stats.batches < 4 || recorded() < 4) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    expect(s.stats.batches).toBe(4);
    expect(s.stats.polls).toBeGreaterThan(0);
    first.child.kill('SIGKILL');
    expect((await first.exit).signal).toBe('SIGKILL');
    expect(existsSync(shardPath(join(dir, 'generate'), 0))).toBe(false);

    const second = await run().exit;
    expect(second.code, second.stderr).toBe(0);
    const samples = readSamples(shardPath(join(dir, 'generate'), 0));
    expect(samples.map((x) => x.id)).toEqual(prompts.map((p) => p.id));
    expect(samples.every((x, i) => !x.error && x.text === mockReply(prompts[i]!.prompt, 8))).toBe(true);
    // Nothing was submitted twice: the second run waited for the first run's four batches.
    expect(s.stats.batches).toBe(4);
    expect([...s.submissions.values()].every((n) => n === 1)).toBe(true);
    expect(s.submissions.size).toBe(N);
  }, 120_000);
});

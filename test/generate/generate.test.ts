import { existsSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { CorpusConfig } from '../../src/pipeline/corpus.js';
import { isTaskDone } from '../../src/exec/task.js';
import { ledgerPath, metricsPath, shardPath } from '../../src/generate/stage.js';
import type { GenerateMetrics } from '../../src/generate/metrics.js';
import { createLogger } from '../../src/util/log.js';
import { mockReply } from '../helpers/mock-openai.js';
import { mockServers } from '../helpers/mock-servers.js';
import { corpusConfig, generate, makePrompts, readSamples, tmp, writePrompts } from './helpers.js';

const mock = mockServers();

const endpoint = (url: string, extra: Record<string, unknown> = {}) => ({ type: 'openai', base_url: url, model: 'm', concurrency: 16, ...extra });

const outDir = (cfg: CorpusConfig) => join(cfg.output_dir, 'generate');

/** Run generate until the mock server has answered `n` requests, then interrupt it. */
/** `count` prompts through one endpoint of `concurrency`, without the request cache; the run is interrupted once `after` answers are in. */
async function interruptedRun(count: number, server: Parameters<typeof mock>[0], concurrency: number, after: number) {
  const dir = tmp();
  const prompts = makePrompts(count);
  writePrompts(dir, prompts);
  const s = await mock(server);
  const cfg = corpusConfig(dir, { engines: [endpoint(s.url, { concurrency })], cache: false });
  const ac = new AbortController();
  const timer = setInterval(() => s.stats.completed >= after && ac.abort(new Error('interrupted by test')), 2);
  await expect(generate(cfg, { signal: ac.signal })).rejects.toThrow('interrupted by test');
  clearInterval(timer);
  return { prompts, s, cfg };
}

describe('generate stage', () => {
  it('writes one sample per prompt, in input order, with provenance, stats and metrics', async () => {
    const dir = tmp();
    const prompts = makePrompts(45);
    writePrompts(dir, prompts, 15); // 3 shards
    const s = await mock({ completionTokens: 20, latencyMs: 2 });
    const cfg = corpusConfig(dir, { tasks: 2, engines: [endpoint(s.url)], params: { max_tokens: 50, temperature: 0.3 } });
    const m0 = await generate(cfg, { rank: 0, worldSize: 2 });
    const m1 = await generate(cfg, { rank: 1, worldSize: 2 });

    const s0 = readSamples(shardPath(outDir(cfg), 0));
    const s1 = readSamples(shardPath(outDir(cfg), 1));
    // task 0 owns shards 0 and 2, task 1 shard 1, each in input order
    expect(s0.map((x) => x.id)).toEqual([...prompts.slice(0, 15), ...prompts.slice(30)].map((p) => p.id));
    expect(s1.map((x) => x.id)).toEqual(prompts.slice(15, 30).map((p) => p.id));
    for (const sample of [...s0, ...s1]) {
      const p = prompts.find((q) => q.id === sample.id)!;
      expect(sample).toMatchObject({ ...p, text: mockReply(p.prompt, 20), token_length: 20, model: 'mock-model', finish_reason: 'stop', engine: s.url });
      expect(sample.usage).toEqual({ prompt_tokens: Math.ceil(p.prompt.length / 4), completion_tokens: 20 });
      expect(sample.gen_params).toEqual({ temperature: 0.3, top_p: 0.95, max_tokens: 50 });
      expect(sample.latency_ms).toBeGreaterThanOrEqual(0);
      expect(Date.parse(sample.created_at)).not.toBeNaN();
      expect(sample.error).toBeUndefined();
    }
    expect(m0.stats.counters).toMatchObject({ prompts: 30, samples: 30, failed: 0, completion_tokens: 600, resumed: 0, cached: 0 });
    expect(m1.stats.counters.samples).toBe(15);
    expect(existsSync(ledgerPath(outDir(cfg), 0))).toBe(false);
    expect(isTaskDone(outDir(cfg), 0) && isTaskDone(outDir(cfg), 1)).toBe(true);

    const metrics = JSON.parse(readFileSync(metricsPath(outDir(cfg), 0), 'utf8')) as GenerateMetrics;
    expect(metrics.status).toBe('complete');
    expect(metrics.totals).toMatchObject({ prompts: 30, samples: 30, failed: 0, completion_tokens: 600, attempts: 30, retries: 0 });
    expect(metrics.latency_ms.count).toBe(30);
    expect(metrics.latency_ms.p50).toBeLessThanOrEqual(metrics.latency_ms.p99);
    expect(metrics.timeline.at(-1)).toMatchObject({ done: 30, completion_tokens: 600 });
    expect(metrics.engines).toEqual([expect.objectContaining({ id: s.url, requests: 30, ok: 30, completion_tokens: 600 })]);
    expect(metrics.finish_reasons).toEqual({ stop: 30 });
  });

  it('takes max_tokens from the prompt, else its format, else the default', async () => {
    const dir = tmp();
    const prompts = makePrompts(4, { formats: ['textbook', 'story'] });
    prompts[2]!.max_tokens = 3;
    writePrompts(dir, prompts);
    const s = await mock({ completionTokens: 10 });
    const cfg = corpusConfig(dir, { engines: [endpoint(s.url)], params: { max_tokens: 20 }, max_tokens_by_format: { story: 5 } });
    await generate(cfg);
    const samples = readSamples(shardPath(outDir(cfg), 0));
    expect(samples.map((x) => [x.gen_params.max_tokens, x.token_length, x.finish_reason])).toEqual([
      [20, 10, 'stop'],
      [5, 5, 'length'],
      [3, 3, 'length'],
      [5, 5, 'length'],
    ]);
    expect(s.log.map((l) => l.body.max_tokens).sort()).toEqual([20, 3, 5, 5].sort());
  });

  it('records a request that fails for good as a failed sample with its error, never as an empty success', async () => {
    const dir = tmp();
    const prompts = makePrompts(10);
    prompts[4]!.prompt = 'long '.repeat(200);
    writePrompts(dir, prompts);
    const s = await mock({ contextLength: 120 });
    const cfg = corpusConfig(dir, { engines: [endpoint(s.url)], params: { max_tokens: 64 } });
    const marker = await generate(cfg);
    const samples = readSamples(shardPath(outDir(cfg), 0));
    expect(samples).toHaveLength(10);
    const bad = samples[4]!;
    expect(bad).toMatchObject({ id: prompts[4]!.id, text: '', finish_reason: 'error', error_kind: 'context_length', token_length: 0 });
    expect(bad.error).toContain('maximum context length');
    expect(samples.filter((x) => x.error)).toHaveLength(1);
    expect(marker.stats.counters).toMatchObject({ samples: 9, failed: 1 });
    expect(s.stats.requests).toBe(10); // not retried
  });

  it('resumes after an interruption, asking only for the prompts not yet in the ledger', async () => {
    const { prompts, s, cfg } = await interruptedRun(60, { latencyMs: 20 }, 4, 20);
    expect(isTaskDone(outDir(cfg), 0)).toBe(false);
    const ledger = readSamples(ledgerPath(outDir(cfg), 0));
    expect(ledger.length).toBeGreaterThanOrEqual(15);
    expect(ledger.length).toBeLessThan(60);
    expect(JSON.parse(readFileSync(metricsPath(outDir(cfg), 0), 'utf8')).status).toBe('interrupted');

    const before = s.log.length;
    const marker = await generate(cfg);
    const asked = s.log.slice(before).map((l) => l.prompt);
    const inLedger = new Set(ledger.map((x) => x.prompt));
    expect(asked.filter((p) => inLedger.has(p))).toEqual([]);
    expect(asked).toHaveLength(60 - ledger.length);
    const samples = readSamples(shardPath(outDir(cfg), 0));
    expect(samples.map((x) => x.id)).toEqual(prompts.map((p) => p.id));
    expect(marker.stats.counters).toMatchObject({ samples: 60, resumed: ledger.length });
  });

  it('puts a shard larger than its read and write buffers together in input order from a resumed ledger', async () => {
    const { prompts, cfg } = await interruptedRun(1300, { completionTokens: 800 }, 64, 500);
    await generate(cfg);
    const file = shardPath(outDir(cfg), 0);
    // Past the 4 MB the final pass reads and writes at a time.
    expect(statSync(file).size).toBeGreaterThan(1 << 22);
    const samples = readSamples(file);
    expect(samples.map((x) => x.id)).toEqual(prompts.map((p) => p.id));
    for (const [i, x] of samples.entries()) expect(x.text, `sample ${i}`).toBe(mockReply(prompts[i]!.prompt, 800));
  });

  it('answers from the request cache when the same requests are made again', async () => {
    const dir = tmp();
    const prompts = makePrompts(25);
    writePrompts(dir, prompts);
    const s = await mock();
    const cfg = corpusConfig(dir, { engines: [endpoint(s.url)] });
    await generate(cfg);
    const first = readSamples(shardPath(outDir(cfg), 0));
    rmSync(outDir(cfg), { recursive: true });
    const marker = await generate(cfg);
    expect(s.stats.requests).toBe(25);
    expect(marker.stats.counters).toMatchObject({ samples: 25, cached: 25 });
    expect(readSamples(shardPath(outDir(cfg), 0)).map((x) => x.text)).toEqual(first.map((x) => x.text));
  });

  it('stops a task whose prompts keep failing, and a rerun retries those failures', async () => {
    const dir = tmp();
    const prompts = makePrompts(40);
    writePrompts(dir, prompts);
    // Up when generation starts, gone at its first chat request.
    const dead = await mock({ dieAfter: 0 });
    const cfg = corpusConfig(dir, {
      engines: [endpoint(dead.url, { concurrency: 2 })],
      retry: { max_attempts: 2, backoff_ms: 1 },
      breaker: { failures: 100, max_outage_s: 0 },
      max_consecutive_failures: 5,
    });
    await expect(generate(cfg)).rejects.toThrow(/prompts in a row failed for good/);
    const failed = readSamples(ledgerPath(outDir(cfg), 0));
    expect(failed.length).toBeGreaterThanOrEqual(5);
    expect(failed.every((x) => x.error_kind === 'connection')).toBe(true);

    const live = await mock();
    const marker = await generate({ ...cfg, generate: { ...cfg.generate, engines: [{ type: 'openai', base_url: live.url, model: 'm', concurrency: 8 }] } });
    const samples = readSamples(shardPath(outDir(cfg), 0));
    expect(samples.map((x) => x.id)).toEqual(prompts.map((p) => p.id));
    expect(samples.every((x) => !x.error)).toBe(true);
    expect(live.stats.requests).toBe(40);
    expect(marker.stats.counters).toMatchObject({ samples: 40, failed: 0, resumed: 0 });
  });

  it('reads its endpoints from the endpoints file, and names the file when it is wrong', async () => {
    const dir = tmp();
    writePrompts(dir, makePrompts(30));
    const a = await mock({ latencyMs: 5 });
    const b = await mock({ latencyMs: 5 });
    writeFileSync(join(dir, 'endpoints.json'), JSON.stringify({ endpoints: [{ base_url: a.url, model: 'm', concurrency: 4 }, { base_url: b.url, model: 'm' }] }));
    const cfg = corpusConfig(dir, { endpoints_file: 'endpoints.json' });
    expect(cfg.generate.engines).toEqual([]);
    await generate(cfg);
    expect(a.stats.completed).toBeGreaterThan(0);
    expect(b.stats.completed).toBeGreaterThan(0);
    expect(a.stats.completed + b.stats.completed).toBe(30);

    const bad = tmp();
    writePrompts(bad, makePrompts(2));
    writeFileSync(join(bad, 'endpoints.json'), JSON.stringify({ endpoints: [{ base_url: 'not a url', model: 'm' }] }));
    await expect(generate(corpusConfig(bad, { endpoints_file: 'endpoints.json' }))).rejects.toThrow(
      `endpoints file ${join(bad, 'endpoints.json')} is invalid`,
    );
    await expect(generate(corpusConfig(bad, { endpoints_file: 'missing.json' }))).rejects.toThrow(/missing\.json does not exist/);
  });

  it('adds endpoints that appear in the endpoints file while it runs', async () => {
    const dir = tmp();
    writePrompts(dir, makePrompts(200));
    const slow = await mock({ latencyMs: 50 }); // alone: 200 x 50 ms / 2 at a time = 5 s
    const late = await mock({ latencyMs: 5 });
    const file = join(dir, 'endpoints.json');
    writeFileSync(file, JSON.stringify({ endpoints: [{ base_url: slow.url, model: 'm', concurrency: 2 }] }));
    const cfg = corpusConfig(dir, { endpoints_file: 'endpoints.json', endpoints_refresh_s: 0.05 });
    const run = generate(cfg);
    await new Promise((r) => setTimeout(r, 300));
    writeFileSync(file, JSON.stringify({ endpoints: [{ base_url: slow.url, model: 'm', concurrency: 2 }, { base_url: late.url, model: 'm', concurrency: 8 }] }));
    const marker = await run;
    expect(marker.stats.counters.samples).toBe(200);
    expect(late.stats.completed).toBeGreaterThan(0);
    expect(slow.stats.completed + late.stats.completed).toBe(200);
  });

  it('never writes or logs the API key', async () => {
    const secret = 'sk-live-9f8e7d6c5b4a-SECRET';
    process.env.COSMO_GEN_TEST_KEY = secret;
    process.env.COSMO_GEN_TEST_WRONG = `${secret}-wrong`;
    const dir = tmp();
    writePrompts(dir, makePrompts(40));
    const s = await mock({ apiKey: secret, failRate: 0.3 });
    const lines: string[] = [];
    const log = createLogger('test', { level: 'debug', write: (l) => lines.push(l) });
    const cfg = corpusConfig(dir, {
      engines: [endpoint(s.url, { api_key_env: 'COSMO_GEN_TEST_KEY' }), endpoint(s.url.replace('127.0.0.1', 'localhost'), { api_key_env: 'COSMO_GEN_TEST_WRONG' })],
      retry: { max_attempts: 3, backoff_ms: 1 },
    });
    const marker = await generate(cfg, { log });
    // the key was really used, and errors (500s, 401s) really happened
    expect(s.log.some((l) => l.headers.authorization === `Bearer ${secret}`)).toBe(true);
    expect(s.stats.byStatus[401]).toBeGreaterThan(0);
    expect(s.stats.byStatus[500]).toBeGreaterThan(0);
    expect(lines.length).toBeGreaterThan(0);
    expect(marker.stats.counters.prompts).toBe(40);

    const files: string[] = [];
    const walk = (d: string) => {
      for (const f of readdirSync(d)) {
        if (statSync(join(d, f)).isDirectory()) walk(join(d, f));
        else files.push(join(d, f));
      }
    };
    walk(dir);
    expect(files.some((f) => f.endsWith('.metrics.json'))).toBe(true);
    expect(files.some((f) => f.includes('request-cache'))).toBe(true);
    for (const f of files) expect(readFileSync(f, 'utf8'), f).not.toContain('9f8e7d6c5b4a');
    for (const l of lines) expect(l).not.toContain('9f8e7d6c5b4a');
  });
});

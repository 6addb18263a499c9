import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { metricsPath, shardPath } from '../../src/generate/stage.js';
import type { GenerateMetrics } from '../../src/generate/metrics.js';
import { mockReply, startMockOpenAI, type MockServer } from '../helpers/mock-openai.js';
import { corpusConfig, generate, makePrompts, readSamples, tmp, writePrompts } from './helpers.js';

const servers: MockServer[] = [];
afterAll(async () => {
  await Promise.all(servers.map((s) => s.close()));
});

describe('generate under faults, over real HTTP', () => {
  it('turns 10,000 prompts into 10,000 samples, each exactly once, despite 500s, hangs, 429s and a dying endpoint', async () => {
    const N = 10_000;
    const faults = { failRate: 0.2, hangRate: 0.05, rateLimitRate: 0.05, retryAfterS: 0.2, latencyMs: 1, completionTokens: 16, record: false };
    for (let i = 0; i < 3; i++) servers.push(await startMockOpenAI(faults));
    // The third endpoint dies mid-run, with requests in flight.
    servers[2]!.faults.dieAfter = 1500;

    const dir = tmp();
    const prompts = makePrompts(N);
    writePrompts(dir, prompts, 2500);
    const cfg = corpusConfig(dir, {
      engines: servers.map((s) => ({ type: 'openai', base_url: s.url, model: 'm', concurrency: 128 })),
      // Short enough to keep the test fast; a busy machine may still time out healthy requests now and
      // then (its event loop stalls), so attempts are plentiful.
      timeout_s: 1,
      retry: { max_attempts: 30, backoff_ms: 5, max_backoff_ms: 100 },
      breaker: { failures: 8, cooldown_s: 0.2 },
      cache: false,
    });
    const outputDir = join(dir, 'generate');
    const marker = await generate(cfg);

    const samples = readSamples(shardPath(outputDir, 0));
    expect(samples).toHaveLength(N);
    expect(samples.map((s) => s.id)).toEqual(prompts.map((p) => p.id));
    expect(new Set(samples.map((s) => s.id)).size).toBe(N);
    expect(samples.filter((s) => s.error)).toEqual([]);
    for (let i = 0; i < N; i += 97) expect(samples[i]!.text).toBe(mockReply(prompts[i]!.prompt, 16));
    expect(marker.stats.counters).toMatchObject({ samples: N, failed: 0 });

    // The faults really happened, and the pool saw each kind.
    const metrics = JSON.parse(readFileSync(metricsPath(outputDir, 0), 'utf8')) as GenerateMetrics;
    for (const kind of ['server', 'timeout', 'rate_limited', 'connection']) expect(metrics.errors_by_kind[kind], kind).toBeGreaterThan(0);
    expect(servers[2]!.stats.requests).toBeGreaterThan(1500);
    expect(metrics.engines[2]!.state).not.toBe('closed');
    const served = servers.reduce((n, s) => n + s.stats.completed, 0);
    expect(served).toBeGreaterThanOrEqual(N);
  }, 180_000); // ~10 s on a quiet 2-core machine; the limit leaves room for a busy one
});

/**
 * Rate limits kept before the server's 429: the buckets' arithmetic on a fake clock, the headers'
 * durations, and a pool against a real HTTP server that enforces a quota a little above the budget.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { EnginePool, type CompletionRequest } from '../../src/engines/index.js';
import { duration, rateHeaders, RateLimiter, tokenCost } from '../../src/engines/rate-limit.js';
import { silentLogger } from '../../src/util/log.js';
import { startMockOpenAI, type MockServer } from '../helpers/mock-openai.js';

const servers: MockServer[] = [];
const pools: EnginePool[] = [];
afterEach(async () => {
  await Promise.all(pools.splice(0).map((p) => p.close()));
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

const req = (prompt: string, max_tokens = 16): CompletionRequest => ({ messages: [{ role: 'user', content: prompt }], params: { temperature: 0.7, top_p: 0.9, max_tokens } });

describe('rate limiter', () => {
  it('admits a second of budget at once, then paces; gives back unused tokens; heeds a spent budget in the headers', async () => {
    let now = 1_000_000;
    const clock = () => now;
    const rpm = new RateLimiter({ requests_per_minute: 600 }, clock);
    for (let i = 0; i < 5; i++) await rpm.admit(1);
    // The sixth waits for the bucket (half a second's worth): 100 ms at 10 a second. Let the fake clock run as it sleeps.
    const sixth = rpm.admit(1);
    let settled = false;
    void sixth.then(() => (settled = true));
    await new Promise((r) => setTimeout(r, 20));
    expect(settled).toBe(false);
    now += 100;
    await sixth;
    expect(settled).toBe(true);

    const tpm = new RateLimiter({ tokens_per_minute: 6_000 }, clock); // 100 tokens a second
    await tpm.admit(400); // larger than the bucket: goes, and overdraws to -350
    const next = tpm.admit(10);
    let second = false;
    void next.then(() => (second = true));
    // Its answer used 20 of the 400: 380 come back, and the next may go at once.
    tpm.settle(400, 20);
    await new Promise((r) => setTimeout(r, 20));
    expect(second).toBe(true);

    const headers = new RateLimiter({}, clock);
    await headers.admit(1);
    headers.settle(1, 1, rateHeaders({ 'x-ratelimit-remaining-requests': '0', 'x-ratelimit-reset-requests': '200ms' }));
    let third = false;
    const paused = headers.admit(1).then(() => (third = true));
    await new Promise((r) => setTimeout(r, 20));
    expect(third).toBe(false);
    now += 200;
    await paused;
    expect(headers.waitedMs).toBe(200);
  });

  it('reads the durations servers write, and costs a request as its prompt and max_tokens', () => {
    expect(duration('6m0s')).toBe(360_000);
    expect(duration('1.5s')).toBe(1_500);
    expect(duration('20ms')).toBe(20);
    expect(duration('1h2m3s')).toBe(3_723_000);
    expect(duration('2')).toBe(2_000);
    expect(duration('soon')).toBeUndefined();
    expect(rateHeaders({ 'x-ratelimit-limit-requests': '650', 'x-ratelimit-remaining-tokens': '12' })).toEqual({ limitRequests: 650, remainingTokens: 12, remainingRequests: undefined, resetRequestsMs: undefined, resetTokensMs: undefined });
    expect(rateHeaders({ 'content-type': 'application/json' })).toBeUndefined();
    expect(tokenCost(req('x'.repeat(400), 100))).toBe(200);
  });

  it('keeps a pool within its budget against a server that enforces a little more: no 429', async () => {
    // The 600 a minute against a server enforcing 650, at ten times the rate so the test takes seconds.
    const budget = 6_000;
    const s = await startMockOpenAI({ latencyMs: 20, limits: { requestsPerMinute: 6_500 } });
    servers.push(s);
    const p = await EnginePool.create([{ type: 'openai', base_url: s.url, model: 'm', concurrency: 64, rate_limit: { requests_per_minute: budget } }], { log: silentLogger, backoffMs: 10 });
    pools.push(p);
    const n = 800;
    await Promise.all(Array.from({ length: n }, (_, i) => p.complete(req(`prompt ${i}`))));
    expect(s.stats.byStatus[429]).toBeUndefined();
    expect(s.stats.completed).toBe(n);
    // The steady rate, past the first half second's budget, at the server.
    const t = s.log.map((e) => e.t).sort((a, b) => a - b);
    const from = budget / 120 + 50;
    const perMinute = ((n - 1 - from) / (t[n - 1]! - t[from]!)) * 60_000;
    console.log(`rate limit: ${perMinute.toFixed(0)} requests/minute against a budget of ${budget} (server enforces 6,500)`);
    expect(perMinute).toBeLessThanOrEqual(budget * 1.05);
    expect(perMinute).toBeGreaterThan(budget * 0.8);
    expect(p.metrics()[0]!.rate_wait_s).toBeGreaterThan(0);
  }, 60_000);

  it('without a budget the same server answers 429s: the test above would see them', async () => {
    const s = await startMockOpenAI({ latencyMs: 20, limits: { requestsPerMinute: 6_500 } });
    servers.push(s);
    const p = await EnginePool.create([{ type: 'openai', base_url: s.url, model: 'm', concurrency: 64 }], { log: silentLogger, backoffMs: 10, maxBackoffMs: 50 });
    pools.push(p);
    await Promise.all(Array.from({ length: 300 }, (_, i) => p.complete(req(`prompt ${i}`)).catch(() => undefined)));
    expect(s.stats.byStatus[429]).toBeGreaterThan(0);
  }, 60_000);
});

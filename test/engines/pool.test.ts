import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { EngineError, EnginePool, parseRetryAfter, type CompletionRequest } from '../../src/engines/index.js';
import { RequestCache } from '../../src/engines/cache.js';
import { silentLogger } from '../../src/util/log.js';
import { mockReply, startMockOpenAI, type MockServer } from '../helpers/mock-openai.js';

const servers: MockServer[] = [];
const pools: EnginePool[] = [];
afterEach(async () => {
  await Promise.all(pools.splice(0).map((p) => p.close()));
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

async function mock(opts: Parameters<typeof startMockOpenAI>[0] = {}): Promise<MockServer> {
  const s = await startMockOpenAI(opts);
  servers.push(s);
  return s;
}

async function pool(
  urls: { url: string; concurrency?: number; api_key_env?: string }[],
  policy: Partial<Parameters<typeof EnginePool.create>[1]> = {},
): Promise<EnginePool> {
  const p = await EnginePool.create(
    urls.map((u) => ({ type: 'openai' as const, base_url: u.url, model: 'm', concurrency: u.concurrency ?? 8, api_key_env: u.api_key_env })),
    { log: silentLogger, backoffMs: 10, maxBackoffMs: 50, ...policy },
  );
  pools.push(p);
  return p;
}

const req = (prompt: string, extra: Partial<CompletionRequest> = {}): CompletionRequest => ({
  messages: [{ role: 'user', content: prompt }],
  params: { temperature: 0.7, top_p: 0.9, max_tokens: 100 },
  ...extra,
});

const until = async (cond: () => boolean, ms = 5000) => {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 5));
  }
};

describe('engine pool over real HTTP', () => {
  it('returns the answer, usage, finish reason and engine', async () => {
    const s = await mock({ completionTokens: 12 });
    const p = await pool([{ url: s.url }]);
    const c = await p.complete(req('write about tides', { params: { temperature: 0.5, top_p: 1, max_tokens: 8, seed: 7, stop: ['\n\n'] } }));
    expect(c.text).toBe(mockReply('write about tides', 8));
    expect(c.finish_reason).toBe('length');
    expect(c.usage).toEqual({ prompt_tokens: Math.ceil('write about tides'.length / 4), completion_tokens: 8 });
    expect(c.engine).toBe(s.url);
    expect(c.attempts).toBe(1);
    expect(s.log[0]!.body).toMatchObject({ model: 'm', temperature: 0.5, max_tokens: 8, seed: 7, stop: ['\n\n'] });
    // top_p 1 is the neutral value: left out (TGI refuses it).
    expect(s.log[0]!.body).not.toHaveProperty('top_p');
  });

  it('sends the JSON schema as response_format', async () => {
    const s = await mock();
    const p = await pool([{ url: s.url }]);
    const schema = { type: 'object', properties: { topic: { type: 'string' } }, required: ['topic'] };
    await p.complete(req('label this', { jsonSchema: schema }));
    expect(s.log[0]!.body.response_format).toEqual({ type: 'json_schema', json_schema: { name: 'output', schema, strict: true } });
  });

  it('routes each request to the engine with the fewest outstanding requests', async () => {
    const a = await mock({ latencyMs: 2000 });
    const b = await mock({ latencyMs: 2000 });
    const p = await pool([{ url: a.url }, { url: b.url }]);
    const calls = Array.from({ length: 5 }, (_, i) => p.complete(req(`p${i}`)).catch(() => undefined));
    await until(() => a.log.length + b.log.length === 5);
    // picks alternate a, b, a, b, a: ties go to the first engine
    expect([a.log.length, b.log.length]).toEqual([3, 2]);
    await p.close();
    await Promise.all(calls);
  });

  it('never exceeds an engine concurrency', async () => {
    const a = await mock({ latencyMs: 30 });
    const b = await mock({ latencyMs: 30 });
    const p = await pool([
      { url: a.url, concurrency: 2 },
      { url: b.url, concurrency: 5 },
    ]);
    const out = await Promise.all(Array.from({ length: 60 }, (_, i) => p.complete(req(`prompt ${i}`))));
    expect(out.map((c) => c.text)).toEqual(Array.from({ length: 60 }, (_, i) => mockReply(`prompt ${i}`, 32)));
    expect(a.stats.maxInflight).toBeLessThanOrEqual(2);
    expect(b.stats.maxInflight).toBeLessThanOrEqual(5);
    expect(a.stats.completed + b.stats.completed).toBe(60);
  });

  it('retries 500s and succeeds', async () => {
    const s = await mock({ failFirst: 2 });
    const p = await pool([{ url: s.url }]);
    const c = await p.complete(req('x'));
    expect(c.attempts).toBe(3);
    expect(p.errorsByKind).toEqual({ server: 2 });
    expect(s.stats.byStatus).toEqual({ 500: 2, 200: 1 });
  });

  it('counts the requests waiting out a backoff, for callers that keep the pool full', async () => {
    // Retry-After: 1 s holds the retry back at least that long, whatever the jitter.
    const s = await mock({ rateLimitFirst: 1, retryAfterS: 1 });
    const p = await pool([{ url: s.url }]);
    const pending = p.complete(req('x'));
    await until(() => p.retries === 1);
    expect(p.backingOff).toBe(1);
    expect((await pending).attempts).toBe(2);
    expect(p.backingOff).toBe(0);
  });

  it('honours Retry-After on 429 before asking the endpoint again', async () => {
    const s = await mock({ rateLimitFirst: 1, retryAfterS: 1 });
    const p = await pool([{ url: s.url }]);
    const c = await p.complete(req('x'));
    expect(c.attempts).toBe(2);
    expect(s.log.map((l) => l.status)).toEqual([429, 200]);
    expect(s.log[1]!.t - s.log[0]!.t).toBeGreaterThanOrEqual(990);
  });

  it('parses Retry-After as seconds or an HTTP date', () => {
    const now = Date.parse('2026-01-01T00:00:00Z');
    expect(parseRetryAfter('3', now)).toBe(3000);
    expect(parseRetryAfter('0.5', now)).toBe(500);
    expect(parseRetryAfter('Thu, 01 Jan 2026 00:00:10 GMT', now)).toBe(10_000);
    expect(parseRetryAfter('soon', now)).toBeUndefined();
    expect(parseRetryAfter(undefined, now)).toBeUndefined();
  });

  it('abandons an attempt that hangs past the timeout and retries', async () => {
    const s = await mock({ hangFirst: 1 });
    const p = await pool([{ url: s.url }], { timeoutMs: 300 });
    const c = await p.complete(req('x'));
    expect(c.attempts).toBe(2);
    expect(p.errorsByKind).toEqual({ timeout: 1 });
  });

  it('times out a hung attempt while those that started with it finish', async () => {
    const s = await mock({ hangFirst: 1 });
    const p = await pool([{ url: s.url }], { timeoutMs: 300 });
    // Started together, the five attempts share one timeout; only the hung one runs into it.
    const answers = await Promise.all(Array.from({ length: 5 }, (_, i) => p.complete(req(`q${i}`))));
    expect(answers.map((a) => a.attempts).sort()).toEqual([1, 1, 1, 1, 2]);
    expect(p.errorsByKind).toEqual({ timeout: 1 });
  });

  it('leaves no timeout running once its requests are answered', async () => {
    const s = await mock();
    const p = await pool([{ url: s.url }], { timeoutMs: 600_000 });
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    try {
      await Promise.all(Array.from({ length: 5 }, (_, i) => p.complete(req(`q${i}`))));
      // One left would hold the process open for the whole timeout.
      expect(vi.getTimerCount()).toBe(0);
    } finally {
      vi.useRealTimers();
    }
  });

  it('fails at once, without retrying, on context length, bad request and auth errors', async () => {
    const s = await mock({ contextLength: 50 });
    const p = await pool([{ url: s.url }]);
    const err = await p.complete(req('y'.repeat(400))).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(EngineError);
    expect((err as EngineError).kind).toBe('context_length');
    expect((err as EngineError).message).toContain('maximum context length');
    expect(s.stats.requests).toBe(1);

    process.env.COSMO_TEST_WRONG_KEY = 'wrong-key';
    const locked = await mock({ apiKey: 'right-key' });
    const q = await pool([{ url: locked.url, api_key_env: 'COSMO_TEST_WRONG_KEY' }]);
    const authErr = (await q.complete(req('z')).catch((e: unknown) => e)) as EngineError;
    expect(authErr.kind).toBe('auth');
    expect(authErr.message).not.toContain('wrong-key');
    expect(locked.stats.requests).toBe(1);
  });

  it('leaves out for good an engine that refuses the key, and sends its requests to the others', async () => {
    process.env.COSMO_TEST_RIGHT_KEY = 'sk-right-0123456789';
    process.env.COSMO_TEST_BAD_KEY = 'sk-bad-0123456789';
    const s = await mock({ apiKey: 'sk-right-0123456789' });
    const p = await pool([
      { url: s.url, api_key_env: 'COSMO_TEST_BAD_KEY', concurrency: 4 },
      { url: s.url.replace('127.0.0.1', 'localhost'), api_key_env: 'COSMO_TEST_RIGHT_KEY', concurrency: 4 },
    ]);
    const answers = await Promise.all(Array.from({ length: 30 }, (_, i) => p.complete(req(`q${i}`))));
    expect(answers.every((a) => a.engine.includes('localhost'))).toBe(true);
    expect(p.metrics()[0]!.state).toBe('refused');
    // Refused only by the requests it had taken before the first refusal came back, never again.
    const refused = s.stats.byStatus[401]!;
    expect(refused).toBeGreaterThan(0);
    await Promise.all(Array.from({ length: 20 }, (_, i) => p.complete(req(`again${i}`))));
    expect(s.stats.byStatus[401]).toBe(refused);
  });

  it('sends the key from api_key_env and says which variable is missing', async () => {
    process.env.COSMO_TEST_KEY = 'sk-test-123';
    const s = await mock({ apiKey: 'sk-test-123' });
    const p = await pool([{ url: s.url, api_key_env: 'COSMO_TEST_KEY' }]);
    expect((await p.complete(req('x'))).text).toBe(mockReply('x', 32));
    await expect(pool([{ url: s.url, api_key_env: 'COSMO_TEST_NOT_SET' }])).rejects.toThrow('COSMO_TEST_NOT_SET');
  });

  it('opens the circuit of a dead endpoint, routes around it, and probes it back in', async () => {
    const dead = await mock();
    const port = dead.port;
    await dead.close();
    const good = await mock();
    const p = await pool([{ url: `http://127.0.0.1:${port}/v1` }, { url: good.url }], { breakerFailures: 2, breakerCooldownMs: 400 });
    for (let i = 0; i < 10; i++) expect((await p.complete(req(`q${i}`))).engine).toBe(good.url);
    const [deadM] = p.metrics();
    expect(deadM!.state).toBe('open');
    expect(deadM!.requests).toBe(2); // two connection failures opened it; no request since
    expect(p.errorsByKind).toEqual({ connection: 2 });

    const revived = await mock({ port });
    await new Promise((r) => setTimeout(r, 450));
    await p.complete(req('probe'));
    expect(revived.stats.completed).toBe(1);
    expect(p.metrics()[0]!.state).toBe('closed');
  });

  it('fails fast with a connection error when every circuit is open', async () => {
    const dead = await mock();
    const url = dead.url;
    await dead.close();
    const p = await pool([{ url }], { breakerFailures: 1, breakerCooldownMs: 60_000, maxAttempts: 3, maxOutageMs: 0 });
    const err = (await p.complete(req('x')).catch((e: unknown) => e)) as EngineError;
    expect(err.kind).toBe('connection');
    expect(err.message).toContain('every circuit has been open');
    expect(p.metrics()[0]!.requests).toBe(1);
  });

  it('stops at once when the caller aborts', async () => {
    const s = await mock({ latencyMs: 10_000 });
    const p = await pool([{ url: s.url }]);
    const ac = new AbortController();
    const pending = p.complete(req('x', { signal: ac.signal }));
    await until(() => s.log.length === 1);
    ac.abort(new Error('stop'));
    await expect(pending).rejects.toThrow('stop');
    expect(p.attempts).toBe(1);
  });

  it('answers a repeated request from the request cache, also after reopening it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cosmo-cache-'));
    const s = await mock();
    const cache = RequestCache.open(dir, 'a');
    const p1 = EnginePool.fromEngines((await pool([{ url: s.url }])).engines(), { log: silentLogger, cache }, 'm');
    const first = await p1.complete(req('cached prompt'));
    expect(first.cached).toBe(false);
    expect((await p1.complete(req('other prompt'))).cached).toBe(false);
    cache.close();

    const again = RequestCache.open(dir, 'b');
    const p2 = EnginePool.fromEngines(p1.engines(), { log: silentLogger, cache: again }, 'm');
    const hit = await p2.complete(req('cached prompt'));
    expect(hit).toMatchObject({ cached: true, text: first.text, engine: first.engine, usage: first.usage });
    expect(s.stats.requests).toBe(2);
    // different sampling parameters or model are a different request
    await p2.complete(req('cached prompt', { params: { temperature: 0.1, top_p: 0.9, max_tokens: 100 } }));
    const p3 = EnginePool.fromEngines(p1.engines(), { log: silentLogger, cache: again }, 'other-model');
    await p3.complete(req('cached prompt'));
    expect(s.stats.requests).toBe(4);
    expect(again.hits).toBe(1);
    again.close();
  });
});

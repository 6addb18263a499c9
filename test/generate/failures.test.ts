/**
 * A run never says "done" when it is not: failures that may pass are retried by a rerun until their
 * attempts are spent, failures reach the user summarised by kind, a run that produced nothing (or
 * too little) fails, a refused key stops at once, and no key is ever stored.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { shardPath } from '../../src/generate/stage.js';
import { runPipeline } from '../../src/pipeline/run.js';
import { redact } from '../../src/util/redact.js';
import { createLogger, silentLogger } from '../../src/util/log.js';
import { mockServers } from '../helpers/mock-servers.js';
import { corpusConfig, makePrompts, readSamples, tmp, writePrompts } from './helpers.js';

const mock = mockServers();

const quick = { retry: { max_attempts: 2, backoff_ms: 1, max_backoff_ms: 2 }, breaker: { failures: 1000 }, cache: false };
const generateOnly = (cfg: ReturnType<typeof corpusConfig>, log = silentLogger) => runPipeline(cfg, { only: ['generate'], log });
const failureOf = (p: Promise<unknown>) => p.then(() => new Error('the run should have failed'), (e: unknown) => e as Error);

describe('failed prompts', () => {
  it('are asked again by a rerun, only they, until their attempts over all runs are spent', async () => {
    const s = await mock({ failRate: 1, completionTokens: 8 });
    const dir = tmp();
    writePrompts(dir, makePrompts(12));
    const cfg = corpusConfig(dir, { engines: [{ type: 'openai', base_url: s.url, model: 'm', concurrency: 4 }], max_attempts_total: 4, ...quick });

    // Run 1: every prompt fails twice (500s); none is final yet, so the run fails and says so.
    const first = await failureOf(generateOnly(cfg));
    expect(first.message).toContain('no sample was generated. 12 of 12 prompts failed');
    expect(first.message).toMatch(/server x12: .*HTTP 500/);
    expect(first.message).toContain('12 of them will be asked again when you run the same command again');
    expect(s.stats.requests).toBe(24);

    // Run 2: the server is back for half of them: only the 12 failed prompts are asked again.
    s.faults.failRate = 0;
    s.faults.failFirst = 6;
    const before = s.stats.requests;
    await generateOnly({ ...cfg, generate: { ...cfg.generate, max_failed_share: 1 } }).catch(() => undefined);
    const samples = readSamples(shardPath(join(dir, 'generate'), 0));
    expect(samples).toHaveLength(12);
    expect(samples.filter((x) => !x.error).length).toBeGreaterThanOrEqual(6);
    expect(s.stats.requests - before).toBeLessThanOrEqual(12 + 6);
    const failed = samples.filter((x) => x.error);
    // What still failed took its 4th attempt: its attempts are spent, and it is final.
    for (const f of failed) expect(f.attempts).toBe(4);

    // Run 3: nothing is asked again, and the run says why those that failed stay failed.
    const third = await runPipeline({ ...cfg, generate: { ...cfg.generate, max_failed_share: 1 } }, { only: ['generate'], log: silentLogger });
    expect(s.stats.requests - before).toBeLessThanOrEqual(18);
    expect(third[0]!.skipped).toBe(1);
    if (failed.length) expect(third[0]!.stats.notes?.['final.server']).toContain('attempts are spent (generate.max_attempts_total)');
  });

  it('fail the run when nothing was generated, naming the kind with an example: prompts too long for the context', async () => {
    const s = await mock({ contextLength: 64 });
    const dir = tmp();
    writePrompts(dir, makePrompts(5));
    const cfg = corpusConfig(dir, { engines: [{ type: 'openai', base_url: s.url, model: 'm' }], params: { max_tokens: 100 }, ...quick });
    const err = await failureOf(generateOnly(cfg));
    expect(err.message).toContain('generate: no sample was generated. 5 of 5 prompts failed');
    expect(err.message).toMatch(/context_length x5 \(final: the prompt does not fit the context\): .*maximum context length is 64 tokens/);
    expect(err.message).toContain('Each of them is final');
    // Final failures are not retried: a rerun asks nothing and fails the same way.
    const before = s.stats.requests;
    await expect(generateOnly(cfg)).rejects.toThrow('no sample was generated');
    expect(s.stats.requests).toBe(before);
  });

  it('fail the run when more than max_failed_share of the prompts failed, and only then', async () => {
    const s = await mock({ contextLength: 40 });
    const dir = tmp();
    // Short prompts fit, long ones do not.
    const prompts = makePrompts(10).map((p, i) => (i < 3 ? { ...p, prompt: p.prompt + ' and much more detail'.repeat(10) } : p));
    writePrompts(dir, prompts);
    const cfg = corpusConfig(dir, { engines: [{ type: 'openai', base_url: s.url, model: 'm' }], params: { max_tokens: 8 }, ...quick });
    await expect(generateOnly(cfg)).rejects.toThrow(/3 of 10 prompts failed[\s\S]*more than generate.max_failed_share \(0.01\)/);
    const lines: string[] = [];
    const results = await runPipeline({ ...cfg, generate: { ...cfg.generate, max_failed_share: 0.5 } }, { only: ['generate'], log: createLogger('t', { write: (l) => lines.push(l) }) });
    expect(results[0]!.stats.counters).toMatchObject({ samples: 7, failed: 3, 'failed.context_length': 3 });
    expect(lines.some((l) => l.includes('warn') && l.includes('3 of 10 prompts failed'))).toBe(true);
  });
});

describe('a refused key', () => {
  it('stops at once, naming the endpoint, and the key echoed back is never written anywhere', async () => {
    const key = 'sk-test-0123456789abcdefWRONG';
    process.env.COSMO_TEST_WRONG_KEY = key;
    const s = await mock({ apiKey: 'sk-the-right-key-0123456789' });
    const dir = tmp();
    writePrompts(dir, makePrompts(50));
    const cfg = corpusConfig(dir, { engines: [{ type: 'openai', base_url: s.url, model: 'm', api_key_env: 'COSMO_TEST_WRONG_KEY', concurrency: 2 }], ...quick });
    const lines: string[] = [];
    const err = await failureOf(generateOnly(cfg, createLogger('t', { write: (l) => lines.push(l) })));
    expect(err.message).toContain(s.url);
    expect(err.message).toContain('HTTP 401');
    expect(err.message).toContain('refuses the credentials');
    // Stopped at once: a few requests, not one per prompt.
    expect(s.stats.requests).toBeLessThanOrEqual(4);
    // The server echoed the key; it reached no message, log line or file.
    expect(s.log[0]!.status).toBe(401);
    const everything = [err.message, ...lines, ...filesUnder(dir).map((f) => readFileSync(f, 'utf8'))].join('\n');
    expect(everything).not.toContain(key);
    expect(everything).not.toContain('0123456789abcdef');
  });

  it('is redacted however a message carries it', () => {
    expect(redact('Incorrect API key provided: sk-abc123def456ghi. Find it at ...')).toBe('Incorrect API key provided: [redacted]. Find it at ...');
    expect(redact('authorization: Bearer abcdefgh12345678')).toBe('authorization: Bearer [redacted]');
    expect(redact('token hf_AbCdEfGhIjKlMnOp in the url')).toBe('token [redacted] in the url');
    expect(redact('http://user:secretpass@host:8000/v1')).toBe('http://[redacted]@host:8000/v1');
  });
});

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath, e.name));
}

import { describe, expect, it } from 'vitest';
import { formatEta, GenerateTracker, startProgress } from '../../src/generate/metrics.js';
import { PassThrough } from 'node:stream';
import { createLogger, silentLogger } from '../../src/util/log.js';

describe('generate metrics', () => {
  it('summarises latency percentiles, totals, finish reasons and failures', () => {
    const t = new GenerateTracker();
    t.total = 110;
    t.resumed = 5;
    for (let ms = 100; ms >= 1; ms--) t.recordSample({ latency_ms: ms, finish_reason: ms % 10 ? 'stop' : 'length', usage: { prompt_tokens: 2, completion_tokens: 3 } }, false);
    t.recordSample({ latency_ms: 0, finish_reason: 'stop', usage: { prompt_tokens: 2, completion_tokens: 3 } }, true);
    t.recordFailure('timeout');
    t.recordFailure('timeout');
    t.recordFailure('context_length');
    const m = t.finish(
      { stage: 'generate', rank: 0, world_size: 1, status: 'complete' },
      { errorsByKind: { timeout: 7 }, attempts: 120, retries: 9, engines: [] },
    );
    expect(m.latency_ms).toEqual({ count: 100, mean: 50.5, p50: 51, p90: 91, p95: 96, p99: 100, max: 100 });
    expect(m.totals).toEqual({
      prompts: 110,
      resumed: 5,
      done: 109,
      samples: 101,
      failed: 3,
      cached: 1,
      prompt_tokens: 202,
      completion_tokens: 303,
      attempts: 120,
      retries: 9,
    });
    expect(m.finish_reasons).toEqual({ stop: 91, length: 10 });
    expect(m.failed_by_kind).toEqual({ timeout: 2, context_length: 1 });
    expect(m.errors_by_kind).toEqual({ timeout: 7 });
    expect(m.timeline.at(-1)).toMatchObject({ done: 109, samples: 101, failed: 3, completion_tokens: 303 });
  });

  it('logs progress lines with done/total, rates, errors and ETA off a TTY', async () => {
    const lines: string[] = [];
    const log = createLogger('gen', { write: (l) => lines.push(l) });
    const t = new GenerateTracker();
    t.total = 10;
    const p = startProgress('lines', t, () => ({ errors: 4, rate_wait_s: 0 }), log, 20);
    for (let i = 0; i < 4; i++) t.recordSample({ latency_ms: 1, finish_reason: 'stop', usage: { prompt_tokens: 1, completion_tokens: 50 } }, false);
    await new Promise((r) => setTimeout(r, 70));
    p.stop();
    expect(lines.length).toBeGreaterThanOrEqual(2);
    expect(lines.at(-1)).toMatch(/progress done=4\/10 req_s=[\d.]+ tok_s=[\d.]+ errors=4 failed=0 eta=\d+s/);
  });

  it('draws a live bar with done/total, rates, errors and ETA on a TTY', async () => {
    const tty = Object.assign(new PassThrough(), { isTTY: true, columns: 200 });
    let out = '';
    tty.on('data', (c: Buffer) => (out += c.toString()));
    const t = new GenerateTracker();
    t.total = 8;
    const p = startProgress('bar', t, () => ({ errors: 3, rate_wait_s: 75 }), silentLogger, 10_000, tty);
    for (let i = 0; i < 6; i++) t.recordSample({ latency_ms: 1, finish_reason: 'stop', usage: { prompt_tokens: 1, completion_tokens: 10 } }, false);
    t.recordFailure('server');
    await new Promise((r) => setTimeout(r, 300));
    p.stop();
    expect(out).toMatch(/generate \|.*\| 7\/8 \| [\d.]+ req\/s \| \d+ tok\/s \| 3 errors, 1 failed \| 1m15s waited for rate limits \| ETA (\d+s|\?)/);
  });

  it('formats an ETA', () => {
    expect(formatEta(42)).toBe('42s');
    expect(formatEta(125)).toBe('2m05s');
    expect(formatEta(7260)).toBe('2h01m');
    expect(formatEta(Infinity)).toBe('?');
  });
});

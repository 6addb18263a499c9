import { writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEmbeddedEngine, type EmbeddedEngine } from '../../src/engines/embedded.js';
import { EngineError, type CompletionRequest } from '../../src/engines/types.js';
import type { EmbeddedEngineConfig } from '../../src/engines/config.js';
import type { GenParams } from '../../src/records/types.js';
import { CosmoError } from '../../src/util/errors.js';
import { tinyModelPath } from '../helpers/tiny-model.js';

// Real llama.cpp on the tiny random-weight model. One thread: the test machine's cores are shared,
// and llama.cpp's spinning worker threads slow to a crawl when they have to wait for a core.
const SEQUENCES = 4;
let model: string;
let engine: EmbeddedEngine;
let tokenEvents: number[] = [];

const cfg = (over: Partial<EmbeddedEngineConfig> = {}): EmbeddedEngineConfig => ({
  type: 'embedded',
  model,
  threads: 1,
  sequences: SEQUENCES,
  context_size: 512,
  gpu: false,
  ...over,
});
const greedy: GenParams = { temperature: 0, top_p: 1, max_tokens: 16 };
const ask = (content: string, params: Partial<GenParams> = {}, extra: Partial<CompletionRequest> = {}): CompletionRequest => ({
  messages: [{ role: 'user', content }],
  params: { ...greedy, ...params },
  ...extra,
});

beforeAll(async () => {
  model = await tinyModelPath();
  engine = await createEmbeddedEngine(cfg(), { onTokens: (e) => tokenEvents.push(e.slot) });
});
afterAll(async () => {
  await engine?.close();
});

describe('embedded engine', () => {
  it('generates text and reports usage; max_tokens ends the answer with finish_reason length', async () => {
    const res = await engine.complete(ask('Write a short story about a lighthouse.'));
    expect(res.finish_reason).toBe('length');
    expect(res.usage.completion_tokens).toBeGreaterThanOrEqual(16);
    expect(res.usage.completion_tokens).toBeLessThanOrEqual(17); // see the UTF-8 note below
    expect(res.text.length).toBeGreaterThan(0);
    expect(res.model).toBe('tiny.gguf');
    // The prompt is counted after the chat template: more than the bare message.
    const rendered = engine.formatPrompt([{ role: 'user', content: 'Write a short story about a lighthouse.' }]);
    expect(rendered).toContain('<|im_start|>user\nWrite a short story about a lighthouse.<|im_end|>');
    expect(rendered.endsWith('<|im_start|>assistant\n')).toBe(true);
    expect(res.usage.prompt_tokens).toBeGreaterThan(engine.countTokens('Write a short story about a lighthouse.'));
    expect(engine.concurrency).toBe(SEQUENCES);
    expect(engine.id).toBe('embedded:tiny.gguf');
    expect(engine.contextSize).toBeGreaterThanOrEqual(512);
  });

  it('stops at a stop sequence and leaves it out of the text', async () => {
    const free = await engine.complete(ask('Tell me about rivers.', { max_tokens: 24 }));
    const stop = free.text.slice(4, 7);
    expect(stop.length).toBe(3);
    const res = await engine.complete(ask('Tell me about rivers.', { max_tokens: 24, stop: [stop] }));
    expect(res.finish_reason).toBe('stop');
    expect(res.text).toBe(free.text.slice(0, free.text.indexOf(stop)));
  });

  it('decodes N concurrent requests together with N sequences, and queues the rest', async () => {
    tokenEvents = [];
    const n = SEQUENCES + 2;
    const results = await Promise.all(
      Array.from({ length: n }, (_, i) => engine.complete(ask(`Request number ${i}`, { max_tokens: 20, temperature: 0.8, seed: i }))),
    );
    for (const r of results) {
      expect(r.finish_reason).toBe('length');
      // node-llama-cpp samples one more token when the last one ends inside a UTF-8 character; usage counts it.
      expect(r.usage.completion_tokens).toBeGreaterThanOrEqual(20);
      expect(r.usage.completion_tokens).toBeLessThanOrEqual(21);
    }
    const slots = new Set(tokenEvents);
    expect(slots.size).toBe(SEQUENCES);
    // Concurrent decoding interleaves the sequences' tokens: every sequence produced its first token
    // before the first request finished (serial decoding would give AAAA BBBB ...).
    const firstOfEach = [...slots].map((s) => tokenEvents.indexOf(s));
    const firstLast = Math.min(...[...slots].map((s) => tokenEvents.lastIndexOf(s)));
    expect(Math.max(...firstOfEach)).toBeLessThan(firstLast);
  });

  it('with one sequence, requests run one after another (the contrast to the test above)', async () => {
    const events: number[] = [];
    const single = await createEmbeddedEngine(cfg({ sequences: 1 }), { onTokens: (e) => events.push(e.slot) });
    try {
      const order: number[] = [];
      await Promise.all([0, 1].map((i) => single.complete(ask(`x${i}`, { max_tokens: 8 })).then(() => order.push(i))));
      expect(order).toEqual([0, 1]);
      expect(new Set(events)).toEqual(new Set([0]));
      expect(single.concurrency).toBe(1);
    } finally {
      await single.close();
    }
  });

  it('decodes on several contexts side by side, each request on the least busy one', async () => {
    const events: number[] = [];
    // Two contexts of two sequences: slots 0-1 are the first context's, 2-3 the second's.
    const two = await createEmbeddedEngine(cfg({ contexts: 2, sequences: 2 }), { onTokens: (e) => events.push(e.slot) });
    try {
      expect(two.concurrency).toBe(4);
      // Two requests at once go to different contexts, not to two sequences of one.
      await Promise.all([0, 1].map((i) => two.complete(ask(`side ${i}`, { max_tokens: 12, temperature: 0.8, seed: i }))));
      const contexts = new Set(events.map((slot) => Math.floor(slot / 2)));
      expect(contexts).toEqual(new Set([0, 1]));
      // Four at once fill every sequence, and every answer is whole.
      events.length = 0;
      const all = await Promise.all([0, 1, 2, 3].map((i) => two.complete(ask(`all ${i}`, { max_tokens: 12, temperature: 0.8, seed: i }))));
      expect(new Set(events)).toEqual(new Set([0, 1, 2, 3]));
      for (const r of all) expect(r.usage.completion_tokens).toBeGreaterThanOrEqual(12);
    } finally {
      await two.close();
    }
  });

  it('sends a prompt to the free sequence that already holds its start (prefix cache reuse)', async () => {
    const events: number[] = [];
    const two = await createEmbeddedEngine(cfg({ sequences: 2 }), { onTokens: (e) => events.push(e.slot) });
    try {
      const slotOf = async (content: string) => {
        events.length = 0;
        await two.complete(ask(content, { max_tokens: 4 }));
        return events[0];
      };
      const a = 'Alpha alpha alpha: a long shared instruction about textbooks. '.repeat(3);
      const b = 'Beta beta beta: another long instruction about stories. '.repeat(3);
      events.length = 0;
      await Promise.all([two.complete(ask(a, { max_tokens: 4 })), two.complete(ask(b, { max_tokens: 4 }))]);
      const slots = [...new Set(events)];
      expect(slots.length).toBe(2);
      const slotA = await slotOf(a + 'Part 1');
      const slotB = await slotOf(b + 'Part 1');
      expect(slotA).not.toBe(slotB);
      expect(await slotOf(a + 'Part 2')).toBe(slotA);
      expect(await slotOf(b + 'Part 2')).toBe(slotB);
    } finally {
      await two.close();
    }
  });

  it('follows a JSON schema through a llama.cpp grammar', async () => {
    const schema = {
      type: 'object',
      properties: {
        topic: { type: 'string', enum: ['algebra', 'biology', 'history'] },
        educational: { type: 'boolean' },
      },
      required: ['topic', 'educational'],
    };
    for (const seed of [1, 2]) {
      const res = await engine.complete(ask('Label this text.', { temperature: 0.7, seed, max_tokens: 64 }, { jsonSchema: schema }));
      expect(res.finish_reason).toBe('stop');
      const value = JSON.parse(res.text) as { topic: string; educational: boolean };
      expect(['algebra', 'biology', 'history']).toContain(value.topic);
      expect(typeof value.educational).toBe('boolean');
      expect(Object.keys(value).sort()).toEqual(['educational', 'topic']);
    }
  });

  it('a prompt longer than the context is a context_length error naming both sizes', async () => {
    const long = 'lighthouse '.repeat(400);
    const err = await engine.complete(ask(long)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(EngineError);
    const e = err as EngineError;
    expect(e.kind).toBe('context_length');
    expect(e.retryable).toBe(false);
    expect(e.message).toContain(`holds ${engine.contextSize} tokens`);
    const promptTokens = Number(/prompt is (\d+) tokens/.exec(e.message)?.[1]);
    expect(promptTokens).toBeGreaterThan(engine.contextSize);
  });

  it('a full context ends the answer with finish_reason length instead of dropping the prompt', async () => {
    const small = await createEmbeddedEngine(cfg({ sequences: 1, context_size: 128 }));
    try {
      const res = await small.complete(ask('Write a very long essay.', { max_tokens: 1000 }));
      expect(res.finish_reason).toBe('length');
      expect(res.usage.completion_tokens).toBeLessThan(1000);
      expect(res.usage.prompt_tokens + res.usage.completion_tokens).toBeLessThanOrEqual(small.contextSize);
      expect(res.usage.prompt_tokens + res.usage.completion_tokens).toBeGreaterThan(small.contextSize - 4);
    } finally {
      await small.close();
    }
  });

  it('close() fails requests still waiting for a sequence instead of leaving them hanging', async () => {
    const one = await createEmbeddedEngine(cfg({ sequences: 1 }));
    const first = one.complete(ask('first', { max_tokens: 200 })).catch((e: unknown) => e);
    const queued = one.complete(ask('second', { max_tokens: 8 })).catch((e: unknown) => e);
    await new Promise((r) => setTimeout(r, 20));
    await one.close();
    const [a, b] = await Promise.all([first, queued]);
    expect(b).toBeInstanceOf(EngineError);
    expect((b as EngineError).kind).toBe('aborted');
    // The request in flight either finished before close() or was cut off as aborted; it never hangs.
    if (a instanceof EngineError) expect(a.kind).toBe('aborted');
    else expect((a as { finish_reason: string }).finish_reason).toBe('length');
  });

  it('a request whose signal has already aborted, while every sequence is busy, leaves the queued ones in line', async () => {
    const one = await createEmbeddedEngine(cfg({ sequences: 1 }));
    try {
      const first = one.complete(ask('first', { max_tokens: 40 }));
      const queued = one.complete(ask('second', { max_tokens: 5 }));
      const pre = new AbortController();
      pre.abort();
      const err = await one.complete(ask('third', {}, { signal: pre.signal })).catch((e: unknown) => e);
      expect((err as EngineError).kind).toBe('aborted');
      // Dropping the aborted one once took the last waiter out of line with it: the second request then never ran.
      const hung = new Promise((r) => setTimeout(() => r('still waiting'), 10_000));
      expect(((await Promise.race([queued, hung])) as { finish_reason?: string }).finish_reason).toBe('length');
      await first;
    } finally {
      await one.close();
    }
  });

  it('the same seed repeats the same answer at temperature > 0; another seed gives another', async () => {
    const req = (seed: number) => ask('Once more, please.', { temperature: 1, top_p: 0.95, max_tokens: 24, seed });
    const a = await engine.complete(req(11));
    const b = await engine.complete(req(11));
    const c = await engine.complete(req(12));
    expect(b.text).toBe(a.text);
    expect(c.text).not.toBe(a.text);
  });

  it('an abort signal stops a request in flight, and the engine keeps working', async () => {
    const ac = new AbortController();
    const events: number[] = [];
    const eng = await createEmbeddedEngine(cfg({ sequences: 1 }), {
      onTokens: (e) => {
        events.push(e.slot);
        if (events.length === 3) ac.abort();
      },
    });
    try {
      const err = await eng.complete(ask('Keep going', { max_tokens: 400 }, { signal: ac.signal })).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(EngineError);
      expect((err as EngineError).kind).toBe('aborted');
      expect(events.length).toBeLessThan(400);
      const pre = new AbortController();
      pre.abort();
      const err2 = await eng.complete(ask('x', {}, { signal: pre.signal })).catch((e: unknown) => e);
      expect((err2 as EngineError).kind).toBe('aborted');
      const ok = await eng.complete(ask('Still there?', { max_tokens: 5 }));
      expect(ok.finish_reason).toBe('length');
      expect(ok.usage.completion_tokens).toBeGreaterThanOrEqual(5);
    } finally {
      await eng.close();
    }
    await expect(eng.complete(ask('after close'))).rejects.toBeInstanceOf(EngineError);
  });

  it('a missing or non-GGUF model file is a CosmoError naming the path', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cosmo-bad-model-'));
    const missing = join(dir, 'missing.gguf');
    await expect(createEmbeddedEngine(cfg({ model: missing }))).rejects.toThrow(CosmoError);
    await expect(createEmbeddedEngine(cfg({ model: missing }))).rejects.toThrow(missing);
    const junk = join(dir, 'junk.gguf');
    writeFileSync(junk, 'this is not a model');
    const err = await createEmbeddedEngine(cfg({ model: junk })).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CosmoError);
    expect((err as Error).message).toContain(junk);
    expect((err as Error).message).toContain('not a GGUF file');
  });

  it('a GGUF with a valid header but truncated tensor data fails to load with a CosmoError naming the path', async () => {
    const { readFileSync } = await import('node:fs');
    const bytes = readFileSync(model);
    const cut = join(mkdtempSync(join(tmpdir(), 'cosmo-cut-model-')), 'cut.gguf');
    writeFileSync(cut, bytes.subarray(0, Math.floor(bytes.length / 2)));
    const err = await createEmbeddedEngine(cfg({ model: cut })).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CosmoError);
    expect((err as Error).message).toContain(cut);
  });
});

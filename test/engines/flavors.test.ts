/**
 * The OpenAI-compatible engine against stand-ins that enforce each server's documented contract
 * (test/helpers/mock-openai.ts, `flavor`): TGI's grammar-shaped structured output and sampling
 * limits, its 424 generation errors; vLLM's model check, its `abort` finish reason, empty answers;
 * SGLang's and llama.cpp server's response formats and limits; context-length errors as each server
 * words them; `--endpoint` without `--endpoint-model`.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { EngineError, EnginePool, OpenAIEngine } from '../../src/engines/index.js';
import { paramProblems, requestBody } from '../../src/engines/openai.js';
import type { OpenAIEngineConfig } from '../../src/engines/config.js';
import { silentLogger } from '../../src/util/log.js';
import { cosmo } from '../helpers/cli.js';
import { startMockOpenAI, type Flavor, type MockOptions, type MockServer } from '../helpers/mock-openai.js';

const closers: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of closers.splice(0)) await c();
});

async function server(opts: MockOptions): Promise<MockServer> {
  const s = await startMockOpenAI({ model: 'served-model', ...opts });
  closers.push(() => s.close());
  return s;
}

function engine(url: string, extra: Partial<OpenAIEngineConfig> = {}): OpenAIEngine {
  const e = new OpenAIEngine({ type: 'openai', base_url: url, model: 'served-model', concurrency: 4, ...extra });
  closers.push(() => e.close());
  return e;
}

const SCHEMA = { type: 'object', properties: { score: { type: 'integer' } }, required: ['score'] };
const req = (params: Partial<{ top_p: number; seed: number; stop: string[] }> = {}, jsonSchema?: Record<string, unknown>) => ({
  messages: [{ role: 'user' as const, content: 'Score this.' }],
  params: { temperature: 0, top_p: 1, max_tokens: 64, ...params },
  ...(jsonSchema ? { jsonSchema } : {}),
});

const failure = (p: Promise<unknown>) =>
  p.then(
    () => undefined,
    (e: unknown) => e as EngineError,
  );

describe('TGI', () => {
  it('is recognised by its /info, and gets structured output as a grammar (OpenAI\'s shape is a 422 there)', async () => {
    const s = await server({ flavor: 'tgi', reply: () => '{"score": 4}' });
    const auto = engine(s.url);
    expect(await auto.kind()).toBe('tgi');
    expect((await auto.complete(req({}, SCHEMA))).text).toBe('{"score": 4}');
    expect(s.log.at(-1)!.body.response_format).toEqual({ type: 'json', value: SCHEMA });
    // What every structured request to TGI did before: OpenAI's json_schema shape.
    const asOpenAI = await failure(engine(s.url, { server: 'openai' }).complete(req({}, SCHEMA)));
    expect(asOpenAI).toBeInstanceOf(EngineError);
    expect(asOpenAI!.kind).toBe('bad_request');
    expect(asOpenAI!.message).toMatch(/HTTP 422: .*missing field `value`/);
  });

  it('leaves out the neutral top_p of 1 that TGI refuses, and sends the others', async () => {
    const s = await server({ flavor: 'tgi' });
    const e = engine(s.url);
    await e.complete(req({ top_p: 1 }));
    expect(s.log.at(-1)!.body).not.toHaveProperty('top_p');
    await e.complete(req({ top_p: 0.95 }));
    expect(s.log.at(-1)!.body.top_p).toBe(0.95);
    expect(requestBody('openai', 'm', req({ top_p: 1 }))).not.toHaveProperty('top_p');
  });

  it('refuses, before sending, what TGI would refuse: negative seeds and more than 4 stop sequences', async () => {
    expect(paramProblems('tgi', { temperature: 0, top_p: 0.9, max_tokens: 1, seed: -1, stop: ['a', 'b', 'c', 'd', 'e'] })).toHaveLength(2);
    expect(paramProblems('vllm', { temperature: 0, top_p: 0.9, max_tokens: 1, seed: -1, stop: ['a', 'b', 'c', 'd', 'e'] })).toEqual([]);
    const s = await server({ flavor: 'tgi' });
    const err = await failure(engine(s.url).complete(req({ seed: -1 })));
    expect(err!.kind).toBe('bad_request');
    expect(err!.message).toMatch(/tgi server would refuse .*seed -1/);
    expect(s.stats.requests).toBe(0);
  });

  it('says so when the config is read: generate.params against a server declared as TGI', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cosmo-tgi-'));
    writeFileSync(join(dir, 'p.jsonl'), '');
    writeFileSync(
      join(dir, 'corpus.yaml'),
      'output: out\nseeds: [{ kind: web, path: p.jsonl }]\ngenerate: { params: { stop: [a, b, c, d, e] }, engines: [{ type: openai, base_url: "http://127.0.0.1:9/v1", model: m, server: tgi }] }\n',
    );
    const r = await cosmo(['generate', 'corpus.yaml'], { cwd: dir }).done;
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/generate\.params: the tgi server at http:\/\/127\.0\.0\.1:9\/v1 would refuse them: 5 stop sequences: TGI takes at most 4/);
  });

  it('retries its 424 (an error during generation) and gets the answer', async () => {
    const s = await server({ flavor: 'tgi', generationErrorsFirst: 2 });
    const pool = EnginePool.fromEngines([engine(s.url)], { log: silentLogger, backoffMs: 1, maxBackoffMs: 2 });
    const done = await pool.complete(req());
    expect(done.attempts).toBe(3);
    expect(s.stats.byStatus[424]).toBe(2);
  });
});

describe('vLLM', () => {
  it('answers another model name with 404: a final error that names the model', async () => {
    const s = await server({ flavor: 'vllm' });
    const err = await failure(engine(s.url, { model: 'default' }).complete(req()));
    expect(err!.kind).toBe('bad_request');
    expect(err!.retryable).toBe(false);
    expect(err!.message).toMatch(/HTTP 404: The model `default` does not exist/);
  });

  it('retries an aborted generation, and keeps any other finish reason as the server sent it', async () => {
    const s = await server({ flavor: 'vllm', finishWith: (n) => (n === 1 ? { finish_reason: 'abort' } : n === 2 ? { finish_reason: 'content_filter' } : undefined) });
    const pool = EnginePool.fromEngines([engine(s.url)], { log: silentLogger, backoffMs: 1, maxBackoffMs: 2 });
    const first = await pool.complete(req());
    expect(first.attempts).toBe(2);
    expect(first.finish_reason).toBe('content_filter');
    expect((await pool.complete(req())).finish_reason).toBe('stop');
  });

  it('treats an empty answer (content null) as its own error kind, which does not open the circuit breaker', async () => {
    const s = await server({ flavor: 'vllm', finishWith: (n) => (n <= 8 ? { finish_reason: 'length', content: null } : undefined) });
    const e = engine(s.url);
    const err = await failure(e.complete(req()));
    expect(err!.kind).toBe('empty');
    expect(err!.retryable).toBe(true);
    const pool = EnginePool.fromEngines([e], { log: silentLogger, backoffMs: 1, maxBackoffMs: 2, maxAttempts: 10, breakerFailures: 3 });
    const done = await pool.complete(req());
    expect(done.attempts).toBe(8);
    expect(pool.metrics()[0]!.state).toBe('closed');
  });
});

describe('context-length errors, as each server words them', () => {
  const worded = {
    openai: /maximum context length is 2 tokens/,
    vllm: /maximum context length is 2 tokens/,
    tgi: /must be <= 2/,
    sglang: /exceeds the model's maximum context length of 2 tokens/,
    llamacpp: /request \(3 tokens\) exceeds the available context size \(2 tokens\)/,
  };
  for (const [flavor, message] of Object.entries(worded) as [Flavor, RegExp][]) {
    it(`${flavor}: final, with the server's message`, async () => {
      const s = await server({ flavor, contextLength: 2 });
      const err = await failure(engine(s.url).complete({ ...req(), params: { temperature: 0, top_p: 0.9, max_tokens: 100 } }));
      expect(err!.kind).toBe('context_length');
      expect(err!.retryable).toBe(false);
      expect(err!.message).toMatch(message);
    });
  }
});

describe('SGLang and llama.cpp server', () => {
  for (const flavor of ['sglang', 'llamacpp'] as const) {
    it(`${flavor}: found to speak OpenAI's API, and given structured output in OpenAI's shape (TGI's grammar is a 400 there)`, async () => {
      const s = await server({ flavor, reply: () => '{"score": 2}' });
      const auto = engine(s.url);
      expect(await auto.kind()).toBe('openai');
      expect((await auto.complete(req({ top_p: 0.9, seed: 7 }, SCHEMA))).text).toBe('{"score": 2}');
      expect(s.log.at(-1)!.body.response_format).toEqual({ type: 'json_schema', json_schema: { name: 'output', schema: SCHEMA, strict: true } });
      const asTgi = await failure(engine(s.url, { server: 'tgi' }).complete(req({}, SCHEMA)));
      expect(asTgi!.kind).toBe('bad_request');
      expect(asTgi!.message).toMatch(flavor === 'sglang' ? /HTTP 400: .*literal_error/s : /HTTP 400: response_format type must be one of/);
    });
  }

  it('llama.cpp: a seed it would read as "random" is refused before sending, and at config time', async () => {
    const s = await server({ flavor: 'llamacpp' });
    const err = await failure(engine(s.url, { server: 'llamacpp' }).complete(req({ seed: -1 })));
    expect(err!.kind).toBe('bad_request');
    expect(err!.message).toContain('seed -1: llama.cpp server takes seeds from 0 to 4294967294');
    expect(s.stats.requests).toBe(0);
    expect(paramProblems('llamacpp', { temperature: 0, top_p: 1, max_tokens: 8, seed: 4294967294 })).toEqual([]);
    expect(paramProblems('vllm', { temperature: 0, top_p: 1, max_tokens: 8, seed: -1 })).toEqual([]);
  });
});

describe('--endpoint without --endpoint-model', () => {
  it('asks the endpoint which model it serves, and vLLM answers', async () => {
    const s = await server({ flavor: 'vllm', completionTokens: 5 });
    const dir = mkdtempSync(join(tmpdir(), 'cosmo-endpoint-'));
    writeFileSync(join(dir, 'web.jsonl'), '{"text": "Photosynthesis turns light into chemical energy in plants and algae."}\n');
    writeFileSync(join(dir, 'corpus.yaml'), 'output: out\nseeds: [{ kind: web, path: web.jsonl }]\nprompts: { count: 2 }\nfilter: { enabled: false }\ndedup: { enabled: false }\ndecontaminate: { enabled: false }\n');
    const r = await cosmo(['run', 'corpus.yaml', '--endpoint', s.url], { cwd: dir }).done;
    expect(r.code, r.stderr).toBe(0);
    expect(s.log.every((l) => l.body.model === 'served-model')).toBe(true);
    expect(s.stats.completed).toBe(2);
    const none = await cosmo(['run', 'corpus.yaml', '--endpoint', 'http://127.0.0.1:9/v1', '--output', 'out2'], { cwd: dir }).done;
    expect(none.code).toBe(1);
    expect(none.stderr).toMatch(/cannot tell which model http:\/\/127\.0\.0\.1:9\/v1\/models serves .*--endpoint-model/);
  });
});

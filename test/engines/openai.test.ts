import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer as createNetServer, type AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { EngineError, OpenAIEngine, endpointId } from '../../src/engines/index.js';
import { startMockOpenAI, mockReply, type MockServer } from '../helpers/mock-openai.js';

const closers: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of closers.splice(0)) await c();
});

const answer = (content: string | null, extra: Record<string, unknown> = {}) =>
  JSON.stringify({ model: 'served', choices: [{ message: { content }, finish_reason: 'stop' }], usage: { prompt_tokens: 3, completion_tokens: 5 }, ...extra });

async function httpServer(handler: Parameters<typeof createHttpServer>[1]): Promise<{ url: string; server: Server }> {
  const server = createHttpServer(handler);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  closers.push(() => new Promise((r) => server.close(r)), () => server.closeAllConnections());
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`, server };
}

function engine(url: string, concurrency = 4): OpenAIEngine {
  // The server kind is given: these servers answer any path alike, the probe of /info included.
  const e = new OpenAIEngine({ type: 'openai', base_url: url, model: 'm', concurrency, server: 'openai' });
  closers.push(() => e.close());
  return e;
}

const req = (prompt = 'hi') => ({ messages: [{ role: 'user' as const, content: prompt }], params: { temperature: 0, top_p: 1, max_tokens: 10 } });

describe('OpenAI-compatible engine (HTTP client)', () => {
  it('sends multi-byte prompts whole: content-length counts bytes, not characters', async () => {
    let got = '';
    const { url } = await httpServer((rq, res) => {
      const parts: Buffer[] = [];
      rq.on('data', (c: Buffer) => parts.push(c));
      rq.on('end', () => {
        got = (JSON.parse(Buffer.concat(parts).toString('utf8')) as { messages: { content: string }[] }).messages[0]!.content;
        res.end(answer('ok'));
      });
    });
    const prompt = 'naïve 字 \u{1F600} '.repeat(50);
    expect((await engine(url).complete(req(prompt))).text).toBe('ok');
    expect(got).toBe(prompt);
  });

  it('reuses keep-alive connections', async () => {
    const s: MockServer = await startMockOpenAI({ latencyMs: 1 });
    closers.push(() => s.close());
    const e = engine(s.url, 4);
    for (let round = 0; round < 25; round++) await Promise.all([0, 1, 2, 3].map((i) => e.complete(req(`p${round}-${i}`))));
    expect(s.stats.completed).toBe(100);
    expect(s.stats.connections).toBeLessThanOrEqual(4);
  });

  it('reads chunked answers and posts to the base URL path', async () => {
    let path = '';
    const { url } = await httpServer((rq, res) => {
      path = rq.url ?? '';
      const body = answer('chunked answer');
      res.writeHead(200, { 'content-type': 'application/json' }); // no content-length: chunked
      res.write(body.slice(0, 10));
      setTimeout(() => res.end(body.slice(10)), 5);
    });
    const c = await engine(url.replace('/v1', '/openai/v1')).complete(req());
    expect(path).toBe('/openai/v1/chat/completions');
    expect(c).toEqual({ text: 'chunked answer', finish_reason: 'stop', usage: { prompt_tokens: 3, completion_tokens: 5 }, model: 'served' });
  });

  it('reads an answer delimited by the connection closing', async () => {
    const server = createNetServer((sock) => {
      sock.once('data', () => sock.end(`HTTP/1.1 200 OK\r\nconnection: close\r\ncontent-type: application/json\r\n\r\n${answer('until close')}`));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    closers.push(() => new Promise((r) => server.close(r)));
    const e = engine(`http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`);
    expect((await e.complete(req())).text).toBe('until close');
    expect((await e.complete(req())).text).toBe('until close'); // the closed socket was not reused
  });

  it('survives the server closing idle keep-alive sockets', async () => {
    const { url, server } = await httpServer((_rq, res) => res.end(answer('ok')));
    server.keepAliveTimeout = 30;
    const e = engine(url);
    expect((await e.complete(req())).text).toBe('ok');
    await new Promise((r) => setTimeout(r, 100));
    expect((await e.complete(req())).text).toBe('ok');
  });

  it('sends a request again on a fresh socket when the kept-alive one it went out on was already closed', async () => {
    // A raw server that says keep-alive but closes each connection right after its answer.
    let requests = 0;
    const server = createNetServer((sock) => {
      sock.once('data', () => {
        requests++;
        const body = answer(`answer ${requests}`);
        sock.end(`HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
      });
      sock.on('error', () => {});
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    closers.push(() => new Promise((r) => server.close(r)));
    const e = engine(`http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`);
    // The second request is written as soon as the first answer is read, before the socket's end is.
    const texts = [(await e.complete(req())).text, (await e.complete(req())).text, (await e.complete(req())).text];
    expect(texts).toEqual(['answer 1', 'answer 2', 'answer 3']);
    expect(requests).toBe(3);
  });

  it('maps statuses to error kinds, with Retry-After as an HTTP date', async () => {
    const when = new Date(Date.now() + 60_000).toUTCString();
    // The status to answer with is the first segment of the base URL's path.
    const { url } = await httpServer((rq, res) => {
      const status = Number(rq.url!.split('/')[1]);
      res.writeHead(status, { 'retry-after': when, 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: { message: `status ${status}` } }));
    });
    const kinds: Record<number, string> = { 503: 'server', 502: 'server', 429: 'rate_limited', 401: 'auth', 403: 'auth', 400: 'bad_request', 404: 'bad_request', 408: 'timeout' };
    for (const [status, kind] of Object.entries(kinds)) {
      const e = new OpenAIEngine({ type: 'openai', base_url: url.replace('/v1', `/${status}/v1`), model: 'm', concurrency: 1 });
      const err = (await e.complete(req()).catch((x: unknown) => x)) as EngineError;
      await e.close();
      expect(err, status).toBeInstanceOf(EngineError);
      expect(err.kind, status).toBe(kind);
      expect(err.message).toContain(`HTTP ${status}: status ${status}`);
      if (status === '503' || status === '429') expect(err.opts.retryAfterMs).toBeGreaterThan(50_000);
    }
  });

  it('treats an empty answer as a retryable `empty` error and a malformed one as a server error, never as text', async () => {
    const bodies: [string, string][] = [
      [answer(''), 'empty'],
      [answer(null), 'empty'],
      ['{"choices": []}', 'empty'],
      ['not json', 'server'],
    ];
    let i = 0;
    const { url } = await httpServer((_rq, res) => res.end(bodies[i++]![0]));
    const e = engine(url);
    for (const [, kind] of bodies) {
      const err = (await e.complete(req()).catch((x: unknown) => x)) as EngineError;
      expect(err.kind).toBe(kind);
      expect(err.retryable).toBe(true);
    }
  });

  it('reports a refused connection as a connection error naming the endpoint', async () => {
    const s = await startMockOpenAI();
    await s.close();
    const err = (await engine(s.url).complete(req()).catch((x: unknown) => x)) as EngineError;
    expect(err.kind).toBe('connection');
    expect(err.message).toContain(s.url);
    expect(err.message).toContain('ECONNREFUSED');
  });

  it('aborts a request in flight', async () => {
    const s = await startMockOpenAI({ latencyMs: 5000 });
    closers.push(() => s.close());
    const ac = new AbortController();
    const p = engine(s.url).complete({ ...req(), signal: ac.signal });
    setTimeout(() => ac.abort(), 50);
    const err = (await p.catch((x: unknown) => x)) as EngineError;
    expect(err.kind).toBe('aborted');
  });

  it('strips credentials from the engine id', () => {
    expect(endpointId('http://user:secret@gpu01:8000/v1/?token=x')).toBe('http://gpu01:8000/v1');
  });

  it('answers with the mock reply for the prompt', async () => {
    const s = await startMockOpenAI({ completionTokens: 7 });
    closers.push(() => s.close());
    expect((await engine(s.url).complete(req('tell me about rivers'))).text).toBe(mockReply('tell me about rivers', 7));
  });
});

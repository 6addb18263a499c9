import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, utimesSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createEmbeddedEngine } from '../../src/engines/embedded.js';
import { parseHfUri, resolveModelPath, type DownloadProgress } from '../../src/engines/model-source.js';
import { CosmoError } from '../../src/util/errors.js';
import { createLogger } from '../../src/util/log.js';
import { tinyModelPath } from '../helpers/tiny-model.js';

// A local HTTP server stands in for the Hugging Face Hub (the one allowed mock): it really speaks HTTP.
const MODEL = randomBytes(3 << 20);
let tiny: Buffer;
let server: Server;
let hub: string;
const requests: { url: string; auth: string | undefined }[] = [];

function route(req: IncomingMessage, res: ServerResponse) {
  requests.push({ url: req.url ?? '', auth: req.headers.authorization });
  const url = req.url ?? '';
  const send = (body: Buffer) => {
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': body.length });
    // Several writes so that the client sees the body arrive in pieces.
    for (let i = 0; i < body.length; i += 256 << 10) res.write(body.subarray(i, i + (256 << 10)));
    res.end();
  };
  if (url === '/acme/models/resolve/main/model.gguf' || url === '/acme/models/resolve/main/sub/dir/model.gguf') return send(MODEL);
  if (url === '/acme/models/resolve/main/redirected.gguf') {
    res.writeHead(302, { location: '/cdn/blob-123' });
    return res.end();
  }
  if (url === '/cdn/blob-123') return send(MODEL);
  if (url === '/acme/tiny/resolve/main/tiny.gguf') return send(tiny);
  if (url === '/acme/models/resolve/main/broken.gguf') {
    // Promise 3 MB, send 1 MB, then drop the connection.
    res.writeHead(200, { 'content-length': MODEL.length });
    res.write(MODEL.subarray(0, 1 << 20), () => res.destroy());
    return;
  }
  if (url === '/acme/models/resolve/main/stalled.gguf') {
    res.writeHead(200, { 'content-length': MODEL.length });
    res.write(MODEL.subarray(0, 1 << 16)); // then nothing, connection left open
    return;
  }
  if (url === '/acme/models/resolve/main/silent.gguf') return; // never answers
  if (url === '/acme/gated/resolve/main/model.gguf') {
    res.writeHead(req.headers.authorization === 'Bearer hf_secret_token' ? 200 : 401);
    return res.end(req.headers.authorization === 'Bearer hf_secret_token' ? MODEL : 'unauthorized');
  }
  res.writeHead(404);
  res.end('Entry not found');
}

const savedEnv = { endpoint: process.env.COSMO_HF_ENDPOINT, token: process.env.HF_TOKEN };
const freshCache = () => mkdtempSync(join(tmpdir(), 'cosmo-cache-'));
const filesUnder = (dir: string) => readdirSync(dir, { recursive: true, withFileTypes: true }).filter((e) => e.isFile());

beforeAll(async () => {
  tiny = readFileSync(await tinyModelPath());
  server = createServer(route);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  hub = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  process.env.COSMO_HF_ENDPOINT = hub;
});
afterEach(() => {
  process.env.COSMO_HF_ENDPOINT = hub;
  if (savedEnv.token === undefined) delete process.env.HF_TOKEN;
  else process.env.HF_TOKEN = savedEnv.token;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
  if (savedEnv.endpoint === undefined) delete process.env.COSMO_HF_ENDPOINT;
  else process.env.COSMO_HF_ENDPOINT = savedEnv.endpoint;
});

describe('model source', () => {
  it('parses hf: URIs and leaves local paths alone', async () => {
    expect(parseHfUri('hf:owner/repo/dir/file.gguf')).toEqual({ owner: 'owner', repo: 'repo', file: 'dir/file.gguf' });
    expect(parseHfUri('/models/file.gguf')).toBeUndefined();
    expect(() => parseHfUri('hf:owner/file.gguf')).toThrow(CosmoError);
    expect(() => parseHfUri('hf:owner/repo/../x.gguf')).toThrow(/hf:owner\/repo\/path/);
    expect(await resolveModelPath('models/x.gguf')).toBe(join(process.cwd(), 'models/x.gguf'));
  });

  it('downloads an hf: model once into the cache, reporting progress, and reuses it', async () => {
    process.env.COSMO_HF_ENDPOINT = hub;
    const cacheDir = freshCache();
    const progress: DownloadProgress[] = [];
    const before = requests.length;
    const path = await resolveModelPath('hf:acme/models/sub/dir/model.gguf', { cacheDir, onProgress: (p) => progress.push(p), progress: 'none' });
    expect(path).toBe(join(cacheDir, 'acme', 'models', 'sub', 'dir', 'model.gguf'));
    expect(readFileSync(path).equals(MODEL)).toBe(true);
    expect(progress.length).toBeGreaterThan(1);
    expect(progress.at(-1)).toEqual({ bytes: MODEL.length, total: MODEL.length });
    expect(progress.every((p, i) => i === 0 || p.bytes >= progress[i - 1]!.bytes)).toBe(true);
    expect(requests.slice(before).map((r) => r.url)).toEqual(['/acme/models/resolve/main/sub/dir/model.gguf']);
    // Second time: straight from the cache, no request.
    const again = await resolveModelPath('hf:acme/models/sub/dir/model.gguf', { cacheDir, progress: 'none' });
    expect(again).toBe(path);
    expect(requests.length).toBe(before + 1);
    expect(filesUnder(cacheDir).map((e) => e.name)).toEqual(['model.gguf']);
  });

  it('two callers asking at once share one download; a lock left by a killed download is taken over', async () => {
    const cacheDir = freshCache();
    const before = requests.length;
    const [a, b] = await Promise.all([
      resolveModelPath('hf:acme/models/model.gguf', { cacheDir, progress: 'none' }),
      resolveModelPath('hf:acme/models/model.gguf', { cacheDir, progress: 'none' }),
    ]);
    expect(a).toBe(b);
    expect(readFileSync(a).equals(MODEL)).toBe(true);
    expect(requests.length).toBe(before + 1);

    const other = freshCache();
    const lock = join(other, 'acme', 'models', 'model.gguf.lock');
    mkdirSync(dirname(lock), { recursive: true });
    writeFileSync(lock, '');
    const old = new Date(Date.now() - 120_000);
    utimesSync(lock, old, old);
    const path = await resolveModelPath('hf:acme/models/model.gguf', { cacheDir: other, progress: 'none' });
    expect(readFileSync(path).equals(MODEL)).toBe(true);
    expect(filesUnder(other).map((e) => e.name)).toEqual(['model.gguf']);
  });

  it('follows the Hub redirect to its storage', async () => {
    const cacheDir = freshCache();
    const path = await resolveModelPath('hf:acme/models/redirected.gguf', { cacheDir, progress: 'none' });
    expect(readFileSync(path).equals(MODEL)).toBe(true);
  });

  it('a missing file is an error naming the model and the HTTP status, and caches nothing', async () => {
    const cacheDir = freshCache();
    const err = await resolveModelPath('hf:acme/models/nope.gguf', { cacheDir, progress: 'none' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CosmoError);
    expect((err as Error).message).toContain('hf:acme/models/nope.gguf');
    expect((err as Error).message).toContain('HTTP 404');
    expect(filesUnder(cacheDir)).toEqual([]);
  });

  it('a transfer cut short or stalled leaves no file behind', async () => {
    const cacheDir = freshCache();
    const err = await resolveModelPath('hf:acme/models/broken.gguf', { cacheDir, progress: 'none' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CosmoError);
    expect((err as Error).message).toMatch(/interrupted after \d+ of 3145728 bytes/);
    expect(filesUnder(cacheDir)).toEqual([]);
    const err2 = await resolveModelPath('hf:acme/models/stalled.gguf', { cacheDir, progress: 'none', stallTimeoutMs: 300 }).catch(
      (e: unknown) => e,
    );
    expect((err2 as Error).message).toMatch(/interrupted after 65536 of 3145728 bytes \(no data for/);
    expect(filesUnder(cacheDir)).toEqual([]);
  });

  it('sends HF_TOKEN as a bearer token and never logs it', async () => {
    const cacheDir = freshCache();
    const lines: string[] = [];
    const log = createLogger('test', { level: 'debug', write: (l) => lines.push(l) });
    delete process.env.HF_TOKEN;
    const denied = await resolveModelPath('hf:acme/gated/model.gguf', { cacheDir, log, progress: 'lines' }).catch((e: unknown) => e);
    expect((denied as Error).message).toContain('HTTP 401');
    expect((denied as Error).message).toContain('HF_TOKEN');
    process.env.HF_TOKEN = 'hf_secret_token';
    const path = await resolveModelPath('hf:acme/gated/model.gguf', { cacheDir, log, progress: 'lines' });
    expect(readFileSync(path).equals(MODEL)).toBe(true);
    expect(requests.at(-1)?.auth).toBe('Bearer hf_secret_token');
    expect(lines.some((l) => l.includes('model downloaded'))).toBe(true);
    expect(lines.join('\n')).not.toContain('hf_secret_token');
  });

  it('without network it stops at once and says what to do instead', async () => {
    const cacheDir = freshCache();
    for (const endpoint of ['http://127.0.0.1:1', 'http://cosmo-no-such-host.invalid']) {
      process.env.COSMO_HF_ENDPOINT = endpoint;
      const err = await resolveModelPath('hf:acme/models/model.gguf', { cacheDir, progress: 'none' }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(CosmoError);
      const msg = (err as Error).message;
      expect(msg).toContain(`cannot download hf:acme/models/model.gguf from ${endpoint}/acme/models/resolve/main/model.gguf`);
      expect(msg).toContain('no network?');
      expect(msg).toContain('--model PATH.gguf');
      expect(msg).toContain('--endpoint URL');
      expect(msg).toContain('cosmo debug tiny-model tiny.gguf && cosmo run corpus.yaml --model tiny.gguf');
    }
    // A server that accepts the connection but never answers counts as no network after the connect timeout.
    process.env.COSMO_HF_ENDPOINT = hub;
    const err = await resolveModelPath('hf:acme/models/silent.gguf', { cacheDir, progress: 'none', connectTimeoutMs: 300 }).catch(
      (e: unknown) => e,
    );
    expect((err as Error).message).toContain('no answer within');
    expect(filesUnder(cacheDir)).toEqual([]);
  });

  it('the embedded engine loads an hf: model through the cache', async () => {
    const cacheDir = freshCache();
    const engine = await createEmbeddedEngine(
      { type: 'embedded', model: 'hf:acme/tiny/tiny.gguf', threads: 1, sequences: 1, context_size: 256, gpu: false },
      { cacheDir, progress: 'none' },
    );
    try {
      expect(engine.model).toBe('hf:acme/tiny/tiny.gguf');
      const res = await engine.complete({ messages: [{ role: 'user', content: 'hi' }], params: { temperature: 0, top_p: 1, max_tokens: 4 } });
      expect(res.usage.completion_tokens).toBeGreaterThanOrEqual(4);
      expect(res.model).toBe('hf:acme/tiny/tiny.gguf');
    } finally {
      await engine.close();
    }
  });
});

/**
 * A stand-in for OpenAI's Batch API over real HTTP: `POST /v1/files` (multipart, purpose=batch),
 * `POST /v1/batches`, `GET /v1/batches/{id}`, `GET /v1/files/{id}/content`. A batch is
 * `validating`, then `in_progress` for `runMs`, then ends: `completed` with an output file (answers
 * as the mock chat server gives them) and an error file (the requests picked by `fails`, as 500s),
 * or `expired` with half of its answers (the first `expireFirst` batches). It counts what it was
 * sent, so a test can tell whether anything was submitted twice.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mockReply } from './mock-openai.js';

export interface MockBatchOptions {
  /** Milliseconds a batch is in progress before it ends. */
  runMs?: number;
  /** Completion tokens of each answer. */
  completionTokens?: number;
  /** Requests (by custom_id and prompt) that fail in the error file, each time they are sent. */
  fails?: (prompt: string, attempt: number) => boolean;
  /** The first n batches expire with half of their answers. */
  expireFirst?: number;
  /** Most requests a batch may hold; more is a 400, as the API answers. */
  maxRequests?: number;
}

export interface MockBatchServer {
  url: string;
  /** Requests sent, items answered with an error, and items an expired batch left without an answer. */
  stats: { files: number; batches: number; requests: number; polls: number; failedItems: number; expiredItems: number };
  /** How many times each custom_id was submitted. */
  submissions: Map<string, number>;
  close(): Promise<void>;
}

interface Batch {
  id: string;
  status: string;
  lines: { custom_id: string; body: { messages?: { role: string; content: string }[]; max_tokens?: number } }[];
  created: number;
  output_file_id: string | null;
  error_file_id: string | null;
  expire: boolean;
}

export async function startMockBatch(opts: MockBatchOptions = {}): Promise<MockBatchServer> {
  const runMs = opts.runMs ?? 50;
  const tokens = opts.completionTokens ?? 16;
  const files = new Map<string, string>();
  const batches = new Map<string, Batch>();
  const stats = { files: 0, batches: 0, requests: 0, polls: 0, failedItems: 0, expiredItems: 0 };
  const submissions = new Map<string, number>();
  const attempts = new Map<string, number>();

  const json = (res: ServerResponse, status: number, body: unknown) => {
    const text = JSON.stringify(body);
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
    res.end(text);
  };

  /** Ends a batch whose time is up: its output and error files. */
  const advance = (b: Batch) => {
    const age = Date.now() - b.created;
    if (b.status === 'validating' && age > 5) b.status = 'in_progress';
    if (b.status !== 'in_progress' || age < runMs) return;
    const out: string[] = [];
    const err: string[] = [];
    b.lines.forEach((l, i) => {
      if (b.expire && i % 2) return void stats.expiredItems++;
      const prompt = [...(l.body.messages ?? [])].reverse().find((m) => m.role === 'user')?.content ?? '';
      const n = (attempts.get(l.custom_id) ?? 0) + 1;
      attempts.set(l.custom_id, n);
      if (opts.fails?.(prompt, n)) {
        stats.failedItems++;
        err.push(JSON.stringify({ id: `req-${i}`, custom_id: l.custom_id, response: { status_code: 500, body: { error: { message: 'injected batch item failure', type: 'server_error' } } }, error: null }));
        return;
      }
      const completion = Math.min(tokens, l.body.max_tokens ?? tokens);
      out.push(
        JSON.stringify({
          id: `req-${i}`,
          custom_id: l.custom_id,
          response: {
            status_code: 200,
            body: { model: 'mock-batch', choices: [{ index: 0, message: { role: 'assistant', content: mockReply(prompt, completion) }, finish_reason: 'stop' }], usage: { prompt_tokens: Math.ceil(prompt.length / 4), completion_tokens: completion } },
          },
          error: null,
        }),
      );
    });
    const put = (lines: string[]) => {
      if (!lines.length) return null;
      const id = `file-${files.size + 1}`;
      files.set(id, lines.join('\n') + '\n');
      return id;
    };
    b.output_file_id = put(out);
    b.error_file_id = put(err);
    b.status = b.expire ? 'expired' : 'completed';
  };

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const raw = Buffer.concat(chunks);
    const path = (req.url ?? '').replace(/^\/v1/, '');
    if (req.method === 'POST' && path === '/files') {
      const boundary = /boundary=(\S+)/.exec(String(req.headers['content-type']))?.[1];
      if (!boundary) return json(res, 400, { error: { message: 'expected multipart/form-data' } });
      const parts = raw.toString('utf8').split(`--${boundary}`);
      const purpose = parts.find((p) => p.includes('name="purpose"'))?.split('\r\n\r\n')[1]?.replace(/\r\n$/, '');
      const file = parts.find((p) => p.includes('name="file"'));
      if (purpose !== 'batch' || !file) return json(res, 400, { error: { message: 'purpose must be batch, with a file' } });
      const content = file.slice(file.indexOf('\r\n\r\n') + 4).replace(/\r\n$/, '');
      const id = `file-${files.size + 1}`;
      files.set(id, content);
      stats.files++;
      return json(res, 200, { id, object: 'file', purpose: 'batch', bytes: Buffer.byteLength(content) });
    }
    if (req.method === 'POST' && path === '/batches') {
      const body = JSON.parse(raw.toString('utf8')) as { input_file_id?: string; endpoint?: string; completion_window?: string };
      const input = files.get(body.input_file_id ?? '');
      if (!input || body.endpoint !== '/v1/chat/completions' || body.completion_window !== '24h') return json(res, 400, { error: { message: 'bad batch request' } });
      const lines = input.split('\n').filter(Boolean).map((l) => JSON.parse(l) as Batch['lines'][number]);
      if (opts.maxRequests && lines.length > opts.maxRequests) return json(res, 400, { error: { message: `a batch holds at most ${opts.maxRequests} requests` } });
      for (const l of lines) submissions.set(l.custom_id, (submissions.get(l.custom_id) ?? 0) + 1);
      stats.batches++;
      stats.requests += lines.length;
      const b: Batch = { id: `batch_${stats.batches}`, status: 'validating', lines, created: Date.now(), output_file_id: null, error_file_id: null, expire: stats.batches <= (opts.expireFirst ?? 0) };
      batches.set(b.id, b);
      return json(res, 200, { id: b.id, object: 'batch', status: b.status });
    }
    const batch = /^\/batches\/([^/]+)$/.exec(path);
    if (req.method === 'GET' && batch) {
      const b = batches.get(batch[1]!);
      if (!b) return json(res, 404, { error: { message: 'no such batch' } });
      stats.polls++;
      advance(b);
      return json(res, 200, { id: b.id, status: b.status, output_file_id: b.output_file_id, error_file_id: b.error_file_id, request_counts: { total: b.lines.length } });
    }
    const content = /^\/files\/([^/]+)\/content$/.exec(path);
    if (req.method === 'GET' && content) {
      const text = files.get(content[1]!);
      if (text === undefined) return json(res, 404, { error: { message: 'no such file' } });
      res.writeHead(200, { 'content-type': 'application/jsonl', 'content-length': Buffer.byteLength(text) });
      return res.end(text);
    }
    json(res, 404, { error: { message: `no route ${req.method} ${req.url}` } });
  };

  const server = createServer((req, res) => void handle(req, res).catch((e: unknown) => json(res, 500, { error: { message: String(e) } })));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/v1`,
    stats,
    submissions,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

/**
 * A real OpenAI-compatible HTTP server for tests and benchmarks: `POST /v1/chat/completions`
 * (non-streaming), `GET /v1/models`, `GET /health`. Replies are derived from the prompt so tests can
 * check them; faults (500s, hangs, 429 + Retry-After, death after N requests) are injected on demand.
 *
 * Standalone (stand-in GPU server for `cosmo serve`, or a separate process for benchmarks):
 *   node --import tsx test/helpers/mock-openai.ts --port 0 --latency-ms 50 [--rpm 650] [--tpm N]
 * prints its base URL (ending in /v1) on stdout, and its answers by status on stderr when stopped.
 */
import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

export interface MockFaults {
  /** Probability that a request gets HTTP 500. */
  failRate: number;
  /** Probability that a request is never answered. */
  hangRate: number;
  /** Probability that a request gets 429 with `Retry-After`. */
  rateLimitRate: number;
  /** Seconds sent in `Retry-After`. */
  retryAfterS: number;
  /** After this many chat requests the server dies: sockets destroyed, port closed. */
  dieAfter?: number;
  /** The first n chat requests get 500 / 429 / no answer (deterministic faults). */
  failFirst: number;
  rateLimitFirst: number;
  hangFirst: number;
}

export interface MockOptions extends Partial<MockFaults> {
  port?: number;
  host?: string;
  /** Milliseconds before each answer. */
  latencyMs?: number;
  /** Model name reported in answers and /v1/models. */
  model?: string;
  /** Completion length in tokens (one word each) before `max_tokens` cuts it. */
  completionTokens?: number;
  /** When set, requests must carry `Authorization: Bearer <apiKey>` or get 401. */
  apiKey?: string;
  /** Context window in tokens: a prompt (4 chars a token) plus max_tokens beyond it gets a 400, as vLLM answers. */
  contextLength?: number;
  /** Keep a log of every chat request (turn off for long benchmarks). */
  record?: boolean;
  /** The answer's text for the n-th chat request (1-based) and its prompt, instead of mockReply. */
  reply?: (prompt: string, n: number) => string;
  /**
   * Which server's documented contract to enforce (validation and error shapes), beside OpenAI's:
   * - `tgi` (text-generation-inference's router): `GET /info` names the model; structured output
   *   only as a grammar `{type: json|json_schema|regex, value}` (else 422); `top_p` must be in (0, 1),
   *   seeds unsigned, at most 4 stop sequences (422 `Input validation error`); context errors as TGI words them.
   * - `vllm`: a request for another model than the served one gets 404 `NotFoundError`; context
   *   errors as vLLM words them.
   * - `sglang`: `GET /get_model_info` names the model path; sampling checked as SGLang's
   *   SamplingParams.verify does (top_p in (0, 1], temperature ≥ 0), structured output only in
   *   OpenAI's shapes (`text`, `json_object`, `json_schema` with `json_schema.schema`), errors as
   *   `{object: error, message, type: BadRequestError, code: 400}`; context errors as SGLang words them.
   * - `llamacpp` (llama.cpp's llama-server): `/health` answers 503 `Loading model` for `loadingMs`;
   *   `response_format` of `text`, `json_object` (optionally with `schema`) or `json_schema`, else
   *   400; seeds are uint32 (-1 means a random one); errors as `{error: {code, message, type}}`, a
   *   context overflow as `exceed_context_size_error`. The model name is not checked.
   */
  flavor?: Flavor;
  /** llamacpp: /health answers 503 for this long after the start, as llama-server does while it loads the model. */
  loadingMs?: number;
  /** Per chat request n: a finish reason to answer instead (vLLM's `abort`, `content_filter`, …), with `content: null` for `null`. */
  finishWith?: (n: number) => { finish_reason: string; content?: null } | undefined;
  /** TGI: the first this many chat requests fail during generation (424 Failed Dependency). */
  generationErrorsFirst?: number;
  /**
   * A quota enforced as hosted APIs do: token buckets refilled continuously, holding one second's
   * worth (strict: a client's burst is refused), a 429 with Retry-After past them, and OpenAI's
   * `x-ratelimit-*` headers on every answer. Tokens are counted as prompt (4 chars a token) +
   * max_tokens, and what the answer did not use is given back.
   */
  limits?: { requestsPerMinute?: number; tokensPerMinute?: number };
}

export interface MockRequestLog {
  /** ms since the server started */
  t: number;
  status: number | 'hang';
  prompt: string;
  body: Record<string, unknown>;
  headers: Record<string, string | string[] | undefined>;
}

export interface MockStats {
  requests: number;
  byStatus: Record<string, number>;
  /** Answers with status 200. */
  completed: number;
  inflight: number;
  /** Most answers pending at once. */
  maxInflight: number;
  /** TCP connections accepted (keep-alive keeps this low). */
  connections: number;
}

export interface MockServer {
  /** Base URL, ending in /v1. */
  url: string;
  port: number;
  stats: MockStats;
  log: MockRequestLog[];
  /** Change fault rates while running. */
  faults: MockFaults;
  /** Kill switch: the endpoint dies at once, as a crashed GPU server would. */
  kill(): void;
  close(): Promise<void>;
}

export type Flavor = 'openai' | 'tgi' | 'vllm' | 'sglang' | 'llamacpp';

/** vLLM's and SGLang's error body. */
const pythonError = (message: string, type: string, code: number) => ({ status: code, body: { object: 'error', message, type, param: null, code } });
/** llama.cpp server's error body. */
const llamaError = (message: string, type: string, code = 400, extra: Record<string, unknown> = {}) => ({ status: code, body: { error: { code, message, type, ...extra } } });

/** A request the flavor's server would refuse, with the status and body it answers. */
function flavorRefusal(flavor: Flavor, body: Record<string, unknown>, model: string): { status: number; body: unknown } | undefined {
  const rf = body.response_format as { type?: string; value?: unknown; json_schema?: { schema?: unknown } } | undefined;
  if (flavor === 'vllm' && body.model !== model) return pythonError(`The model \`${String(body.model)}\` does not exist.`, 'NotFoundError', 404);
  if (flavor === 'sglang') {
    const topP = (body.top_p as number | undefined) ?? 1;
    if (!(topP > 0 && topP <= 1)) return pythonError(`top_p must be in (0, 1], got ${topP}.`, 'BadRequestError', 400);
    const temperature = (body.temperature as number | undefined) ?? 1;
    if (temperature < 0) return pythonError(`temperature must be non-negative, got ${temperature}.`, 'BadRequestError', 400);
    if (rf !== undefined && !['text', 'json_object', 'json_schema', 'structural_tag'].includes(String(rf.type)))
      return pythonError(`1 validation error for ChatCompletionRequest\nresponse_format.type\n  Input should be 'text', 'json_object', 'json_schema' or 'structural_tag' [type=literal_error, input_value='${String(rf.type)}']`, 'BadRequestError', 400);
    if (rf?.type === 'json_schema' && rf.json_schema?.schema === undefined)
      return pythonError('1 validation error for ChatCompletionRequest\nresponse_format.json_schema\n  Field required [type=missing]', 'BadRequestError', 400);
    return undefined;
  }
  if (flavor === 'llamacpp') {
    if (rf !== undefined && !['text', 'json_object', 'json_schema'].includes(String(rf.type)))
      return llamaError(`response_format type must be one of "text" or "json_object", but got: ${String(rf.type)}`, 'invalid_request_error');
    const seed = body.seed as number | undefined;
    if (seed !== undefined && (seed < -1 || seed > 0xffffffff)) return llamaError(`[json.exception.type_error.302] seed ${seed} is not a uint32`, 'invalid_request_error');
    return undefined;
  }
  if (flavor !== 'tgi') return undefined;
  const invalid = (error: string) => ({ status: 422, body: { error, error_type: 'validation' } });
  // serde's tagged enum GrammarType {type, value}: OpenAI's {type: json_schema, json_schema} has no `value`.
  if (rf !== undefined && (!['json', 'json_schema', 'regex'].includes(String(rf.type)) || rf.value === undefined))
    return invalid('Failed to deserialize the JSON body into the target type: response_format: missing field `value` at line 1 column 400');
  const topP = body.top_p as number | undefined;
  if (topP !== undefined && !(topP > 0 && topP < 1)) return invalid('Input validation error: `top_p` must be > 0.0 and < 1.0');
  const seed = body.seed as number | undefined;
  if (seed !== undefined && seed < 0) return invalid(`Failed to deserialize the JSON body into the target type: seed: invalid value: integer \`${seed}\`, expected u64`);
  const stop = body.stop as string[] | undefined;
  if (stop && stop.length > 4) return invalid(`Input validation error: \`stop\` supports up to 4 stop sequences. Given: ${stop.length}`);
  return undefined;
}

/** The reply a mock server gives for a prompt: tests compare generated text with this. */
export function mockReply(prompt: string, tokens: number): string {
  const tag = createHash('sha256').update(prompt).digest('hex').slice(0, 12);
  const words = prompt.split(/\s+/).filter(Boolean).slice(0, 16);
  const out = [`reply-${tag}:`];
  for (let i = 1; i < tokens; i++) out.push(words.length ? words[i % words.length]! : `w${i}`);
  return out.join(' ');
}

const lastUserMessage = (body: Record<string, unknown>): string => {
  const msgs = Array.isArray(body.messages) ? (body.messages as { role?: string; content?: unknown }[]) : [];
  const user = [...msgs].reverse().find((m) => m.role === 'user');
  return typeof user?.content === 'string' ? user.content : '';
};

export async function startMockOpenAI(opts: MockOptions = {}): Promise<MockServer> {
  const model = opts.model ?? 'mock-model';
  const latency = opts.latencyMs ?? 0;
  const completionTokens = opts.completionTokens ?? 32;
  const record = opts.record ?? true;
  const faults: MockFaults = {
    failRate: opts.failRate ?? 0,
    hangRate: opts.hangRate ?? 0,
    rateLimitRate: opts.rateLimitRate ?? 0,
    retryAfterS: opts.retryAfterS ?? 1,
    dieAfter: opts.dieAfter,
    failFirst: opts.failFirst ?? 0,
    rateLimitFirst: opts.rateLimitFirst ?? 0,
    hangFirst: opts.hangFirst ?? 0,
  };
  const stats: MockStats = { requests: 0, byStatus: {}, completed: 0, inflight: 0, maxInflight: 0, connections: 0 };
  const quota = opts.limits && {
    requests: opts.limits.requestsPerMinute ? { perMs: opts.limits.requestsPerMinute / 60_000, cap: opts.limits.requestsPerMinute / 60, level: opts.limits.requestsPerMinute / 60, at: Date.now() } : undefined,
    tokens: opts.limits.tokensPerMinute ? { perMs: opts.limits.tokensPerMinute / 60_000, cap: opts.limits.tokensPerMinute / 60, level: opts.limits.tokensPerMinute / 60, at: Date.now() } : undefined,
  };
  /** Takes one request of `tokens` from the quota; the headers to send, and whether it was over. */
  const spend = (tokens: number): { over: boolean; headers: Record<string, string> } => {
    const now = Date.now();
    const headers: Record<string, string> = {};
    let over = false;
    for (const [, b, cost] of [['requests', quota?.requests, 1], ['tokens', quota?.tokens, tokens]] as const) {
      if (!b) continue;
      b.level = Math.min(b.cap, b.level + (now - b.at) * b.perMs);
      b.at = now;
      if (b.level < cost) over = true;
    }
    for (const [name, b, cost] of [['requests', quota?.requests, 1], ['tokens', quota?.tokens, tokens]] as const) {
      if (!b) continue;
      if (!over) b.level -= cost;
      headers[`x-ratelimit-limit-${name}`] = String(Math.round(b.perMs * 60_000));
      headers[`x-ratelimit-remaining-${name}`] = String(Math.max(0, Math.floor(b.level)));
      headers[`x-ratelimit-reset-${name}`] = `${Math.max(0, (b.cap - b.level) / b.perMs / 1000).toFixed(3)}s`;
    }
    return { over, headers };
  };
  const log: MockRequestLog[] = [];
  const started = Date.now();
  const sockets = new Set<Socket>();
  let dead = false;

  const send = (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) => {
    stats.byStatus[status] = (stats.byStatus[status] ?? 0) + 1;
    if (status === 200) stats.completed++;
    reply(res, status, body, headers);
  };
  /** Answers outside the chat route (health, models, 404) are not counted in the stats. */
  const reply = (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) => {
    const text = JSON.stringify(body);
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers });
    res.end(text);
  };

  const chat = (req: IncomingMessage, res: ServerResponse, raw: string) => {
    let body: Record<string, unknown>;
    try {
      body = JSON.parse(raw) as Record<string, unknown>;
    } catch {
      return send(res, 400, { error: { message: 'request body is not JSON', type: 'invalid_request_error' } });
    }
    stats.requests++;
    const prompt = lastUserMessage(body);
    const entry: MockRequestLog | undefined = record
      ? { t: Date.now() - started, status: 200, prompt, body, headers: req.headers }
      : undefined;
    if (entry) log.push(entry);
    if (faults.dieAfter !== undefined && stats.requests > faults.dieAfter) {
      kill();
      return;
    }
    if (opts.apiKey !== undefined && req.headers.authorization !== `Bearer ${opts.apiKey}`) {
      if (entry) entry.status = 401;
      // As OpenAI's API does, the answer echoes (the start of) the key it was sent.
      const sent = String(req.headers.authorization ?? '').replace(/^Bearer /, '');
      return send(res, 401, { error: { message: `Incorrect API key provided: ${sent}. You can find your API key at https://example.invalid/keys.`, type: 'invalid_request_error' } });
    }
    if (typeof body.model !== 'string' || !Array.isArray(body.messages)) {
      if (entry) entry.status = 400;
      return send(res, 400, { error: { message: 'model and messages are required', type: 'invalid_request_error' } });
    }
    const refused = flavorRefusal(opts.flavor ?? 'openai', body, model);
    if (refused) {
      if (entry) entry.status = refused.status;
      return send(res, refused.status, refused.body);
    }
    const n = stats.requests;
    if (opts.flavor === 'tgi' && n <= (opts.generationErrorsFirst ?? 0)) {
      if (entry) entry.status = 424;
      return send(res, 424, { error: 'Request failed during generation: Server error: CUDA error: an illegal memory access was encountered', error_type: 'generation' });
    }
    const maxTokens = typeof body.max_tokens === 'number' ? body.max_tokens : Infinity;
    const promptTokens = Math.ceil(prompt.length / 4);
    // llama-server checks the prompt alone against its slot's context (the answer stops where it ends); the others, prompt + max_tokens.
    const needed = opts.flavor === 'llamacpp' ? promptTokens + 1 : promptTokens + maxTokens;
    if (opts.contextLength !== undefined && needed > opts.contextLength) {
      if (entry) entry.status = 400;
      if (opts.flavor === 'tgi')
        return send(res, 422, { error: `Input validation error: \`inputs\` tokens + \`max_new_tokens\` must be <= ${opts.contextLength}. Given: ${promptTokens} \`inputs\` tokens and ${maxTokens} \`max_new_tokens\``, error_type: 'validation' });
      if (opts.flavor === 'vllm')
        return send(res, 400, { object: 'error', message: `This model's maximum context length is ${opts.contextLength} tokens. However, you requested ${promptTokens + maxTokens} tokens (${promptTokens} in the messages, ${maxTokens} in the completion). Please reduce the length of the messages or completion.`, type: 'BadRequestError', param: null, code: 400 });
      if (opts.flavor === 'sglang') {
        const e = pythonError(`Requested token count exceeds the model's maximum context length of ${opts.contextLength} tokens. You requested a total of ${promptTokens + maxTokens} tokens: ${promptTokens} tokens from the input messages and ${maxTokens} tokens for the completion. Please reduce the number of tokens in the input messages or the completion to fit within the limit.`, 'BadRequestError', 400);
        return send(res, e.status, e.body);
      }
      if (opts.flavor === 'llamacpp') {
        const e = llamaError(`request (${promptTokens} tokens) exceeds the available context size (${opts.contextLength} tokens), try increasing it`, 'exceed_context_size_error', 400, { n_prompt_tokens: promptTokens, n_ctx: opts.contextLength });
        return send(res, e.status, e.body);
      }
      return send(res, 400, {
        error: {
          message: `This model's maximum context length is ${opts.contextLength} tokens. However, you requested ${promptTokens + maxTokens} tokens.`,
          type: 'BadRequestError',
        },
      });
    }
    const r = n <= faults.hangFirst ? -1 : n <= faults.hangFirst + faults.failFirst ? -2 : n <= faults.hangFirst + faults.failFirst + faults.rateLimitFirst ? -3 : Math.random();
    if (r === -1 || (r >= 0 && r < faults.hangRate)) {
      if (entry) entry.status = 'hang';
      stats.byStatus.hang = (stats.byStatus.hang ?? 0) + 1;
      return; // never answered; the socket closes when the client gives up
    }
    if (r === -2 || (r >= 0 && r < faults.hangRate + faults.failRate)) {
      if (entry) entry.status = 500;
      return send(res, 500, { error: { message: 'injected internal error', type: 'server_error' } });
    }
    if (r === -3 || (r >= 0 && r < faults.hangRate + faults.failRate + faults.rateLimitRate)) {
      if (entry) entry.status = 429;
      return send(res, 429, { error: { message: 'rate limited', type: 'rate_limit_error' } }, { 'retry-after': String(faults.retryAfterS) });
    }
    const limited = quota ? spend(promptTokens + (Number.isFinite(maxTokens) ? maxTokens : completionTokens)) : undefined;
    if (limited?.over) {
      if (entry) entry.status = 429;
      return send(res, 429, { error: { message: 'Rate limit reached', type: 'requests', code: 'rate_limit_exceeded' } }, { 'retry-after': '1', ...limited.headers });
    }
    const tokens = Math.min(completionTokens, maxTokens);
    const forced = opts.finishWith?.(n);
    // The quota counted max_tokens; the answer gives back what it did not use.
    if (quota?.tokens && Number.isFinite(maxTokens)) quota.tokens.level = Math.min(quota.tokens.cap, quota.tokens.level + maxTokens - tokens);
    const answer = () => {
      stats.inflight--;
      if (dead || res.destroyed) return;
      send(res, 200, {
        id: `chatcmpl-${stats.requests}`,
        object: 'chat.completion',
        created: Math.floor(Date.now() / 1000),
        model,
        choices: [
          {
            index: 0,
            message: { role: 'assistant', content: forced?.content === null ? null : opts.reply ? opts.reply(prompt, n) : mockReply(prompt, tokens) },
            finish_reason: forced?.finish_reason ?? (completionTokens > maxTokens ? 'length' : 'stop'),
          },
        ],
        usage: { prompt_tokens: promptTokens, completion_tokens: tokens, total_tokens: promptTokens + tokens },
      }, limited?.headers);
    };
    stats.inflight++;
    stats.maxInflight = Math.max(stats.maxInflight, stats.inflight);
    if (latency > 0) setTimeout(answer, latency);
    else setImmediate(answer);
  };

  const server = createServer((req, res) => {
    if (req.method === 'GET' && (req.url === '/health' || req.url === '/v1/health')) {
      if (opts.flavor === 'llamacpp' && Date.now() - started < (opts.loadingMs ?? 0)) return reply(res, 503, { error: { code: 503, message: 'Loading model', type: 'unavailable_error' } });
      return reply(res, 200, { status: 'ok' });
    }
    if (req.method === 'GET' && req.url === '/get_model_info' && opts.flavor === 'sglang') return reply(res, 200, { model_path: model, tokenizer_path: model, is_generation: true });
    if (req.method === 'GET' && req.url === '/info' && opts.flavor === 'tgi')
      return reply(res, 200, { model_id: model, model_sha: null, max_concurrent_requests: 128, max_input_tokens: 4095, max_total_tokens: 4096, version: '3.0.0' });
    if (req.method === 'GET' && req.url === '/v1/models')
      return reply(res, 200, { object: 'list', data: [{ id: model, object: 'model', owned_by: 'cosmo-mock' }] });
    if (req.method === 'POST' && req.url === '/v1/embeddings') {
      // 8-d vectors derived from each input's words, so that equal texts get equal vectors.
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        stats.requests++;
        if (faults.failFirst >= stats.requests) return reply(res, 503, { error: { message: 'warming up', type: 'server_error' } });
        const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { input: string[] };
        const vector = (t: string) => Array.from({ length: 8 }, (_, d) => t.split(/\s+/).reduce((s, w) => s + (createHash('md5').update(`${d}${w}`).digest()[0]! - 128), 0));
        reply(res, 200, { object: 'list', model, data: body.input.map((t, index) => ({ object: 'embedding', index, embedding: vector(t) })) });
      });
      return;
    }
    if (req.method === 'POST' && req.url === '/v1/chat/completions') {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => chat(req, res, Buffer.concat(chunks).toString('utf8')));
      return;
    }
    reply(res, 404, { error: { message: `no route ${req.method} ${req.url}`, type: 'not_found' } });
  });
  server.keepAliveTimeout = 60_000;
  server.headersTimeout = 65_000;
  server.on('connection', (s) => {
    stats.connections++;
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });

  const closed = new Promise<void>((resolve) => server.once('close', () => resolve()));
  function kill(): void {
    if (dead) return;
    dead = true;
    server.close();
    for (const s of sockets) s.destroy();
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, opts.host ?? '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://${opts.host ?? '127.0.0.1'}:${port}/v1`,
    port,
    stats,
    log,
    faults,
    kill,
    close: () => {
      kill();
      return closed;
    },
  };
}

// Standalone: print the URL and serve until SIGTERM/SIGINT.
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const { values } = parseArgs({
    options: {
      port: { type: 'string', default: '0' },
      host: { type: 'string', default: '127.0.0.1' },
      'latency-ms': { type: 'string', default: '0' },
      model: { type: 'string', default: 'mock-model' },
      'completion-tokens': { type: 'string', default: '32' },
      'fail-rate': { type: 'string', default: '0' },
      'hang-rate': { type: 'string', default: '0' },
      'rate-limit-rate': { type: 'string', default: '0' },
      'retry-after-s': { type: 'string', default: '1' },
      'api-key': { type: 'string' },
      'context-length': { type: 'string' },
      flavor: { type: 'string', default: 'openai' },
      rpm: { type: 'string' },
      tpm: { type: 'string' },
    },
  });
  const server = await startMockOpenAI({
    port: Number(values.port),
    host: values.host,
    latencyMs: Number(values['latency-ms']),
    model: values.model,
    completionTokens: Number(values['completion-tokens']),
    failRate: Number(values['fail-rate']),
    hangRate: Number(values['hang-rate']),
    rateLimitRate: Number(values['rate-limit-rate']),
    flavor: values.flavor as Flavor,
    retryAfterS: Number(values['retry-after-s']),
    apiKey: values['api-key'],
    contextLength: values['context-length'] === undefined ? undefined : Number(values['context-length']),
    limits: values.rpm || values.tpm ? { requestsPerMinute: values.rpm ? Number(values.rpm) : undefined, tokensPerMinute: values.tpm ? Number(values.tpm) : undefined } : undefined,
    record: false,
  });
  process.stdout.write(`${server.url}\n`);
  // Its answers by status on stderr when stopped: what a benchmark counts (429s, completions).
  const stop = () => void server.close().then(() => {
    process.stderr.write(`${JSON.stringify(server.stats)}\n`);
    process.exit(0);
  });
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

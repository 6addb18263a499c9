/**
 * An OpenAI-compatible endpoint (vLLM, TGI, SGLang, llama.cpp server, Ollama, hosted APIs) as an
 * Engine. It speaks HTTP through the lean keep-alive client in http.ts, not the `openai` SDK: at
 * thousands of requests per second the SDK's (and even undici's) per-request CPU is what would
 * limit a GPU server. One attempt per call; the pool does retries.
 */
import { HttpPool, type HttpResponse } from './http.js';
import { priceOf, type Price } from './prices.js';
import { rateHeaders, RateLimiter, tokenCost } from './rate-limit.js';
import type { OpenAIEngineConfig, ServerKind } from './config.js';
import type { GenParams } from '../records/types.js';
import { CosmoError } from '../util/errors.js';
import { registerSecret } from '../util/redact.js';
import { EngineError, type Completion, type CompletionRequest, type Engine } from './types.js';

/** Engine id: the base URL without credentials, so ids can be logged and stored. */
export function endpointId(baseUrl: string): string {
  const u = new URL(baseUrl);
  u.username = '';
  u.password = '';
  u.search = '';
  return u.toString().replace(/\/$/, '');
}

/**
 * The `authorization` header for the key in the environment variable `keyEnv` (none without one).
 * The key is registered as a secret, so that no log line, shard or error ever shows it.
 */
export function authHeader(id: string, keyEnv: string | undefined, env: NodeJS.ProcessEnv): Record<string, string> {
  if (keyEnv === undefined) return {};
  const key = env[keyEnv];
  // Name the variable, never the value.
  if (!key) throw new CosmoError(`endpoint ${id}: environment variable ${keyEnv} (api_key_env) is not set`);
  registerSecret(key);
  return { authorization: `Bearer ${key}` };
}

/** Seconds or an HTTP date, as `Retry-After` may hold, in milliseconds from now. */
export function parseRetryAfter(value: string | string[] | undefined, now = Date.now()): number | undefined {
  const v = Array.isArray(value) ? value[0] : value;
  if (!v) return undefined;
  if (/^\s*\d+(\.\d+)?\s*$/.test(v)) return Math.round(Number(v) * 1000);
  const at = Date.parse(v);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

interface ChatResponse {
  model?: string;
  choices?: { message?: { content?: string | null }; text?: string; finish_reason?: string | null }[];
  usage?: { prompt_tokens?: number; completion_tokens?: number };
  error?: { message?: string } | string;
  message?: string;
}

const errorText = (body: string): string => {
  try {
    const parsed = JSON.parse(body) as ChatResponse;
    const e = parsed.error;
    if (typeof e === 'string') return e;
    if (e?.message) return e.message;
    // vLLM's errors: {object: "error", message, type, code}.
    if (typeof parsed.message === 'string') return parsed.message;
  } catch {
    // not JSON: fall through to the raw text
  }
  return body.slice(0, 300);
};

/**
 * A prompt too long for the model, as each server says it: OpenAI and vLLM ("maximum context
 * length", vLLM also "longer than the maximum model length"), TGI ("inputs tokens + max_new_tokens
 * must be <= …", "Input validation error: `inputs` must have less than … tokens"), SGLang and
 * llama.cpp server ("exceeds the maximum context", "context size").
 */
const CONTEXT_LENGTH =
  /context length|maximum context|too many tokens|context window|prompt is too long|longer than the maximum model length|max_new_tokens` must be <=|inputs tokens \+ max_new_tokens must be|must have less than \d+ tokens|exceeds? the (?:maximum )?context|context size/i;

/** Map an HTTP error status to an EngineError the pool can act on. */
export function httpError(id: string, status: number, headers: Record<string, string>, body: string): EngineError {
  const reason = errorText(body);
  const msg = `${id}: HTTP ${status}: ${reason}`;
  const retryAfterMs = parseRetryAfter(headers['retry-after']);
  if (status === 429) return new EngineError(msg, 'rate_limited', { status, retryAfterMs });
  if (status === 401 || status === 403) return new EngineError(msg, 'auth', { status });
  if (status === 408) return new EngineError(msg, 'timeout', { status });
  // Context length first: some servers say it with a 5xx.
  if (CONTEXT_LENGTH.test(reason)) return new EngineError(msg, 'context_length', { status });
  if (status >= 500) return new EngineError(msg, 'server', { status, retryAfterMs });
  // TGI's 424 Failed Dependency: the generation itself failed on the shard; another try may succeed.
  if (status === 424) return new EngineError(msg, 'server', { status, retryAfterMs });
  return new EngineError(msg, 'bad_request', { status });
}

/**
 * Why sampling parameters would be refused (or silently changed) by a server kind, or []. TGI
 * validates top_p in (0, 1), seeds as unsigned and at most 4 stop sequences (a top_p of 1 is left
 * out of every request, so it never counts); llama.cpp server reads the seed as a uint32 where
 * 0xFFFFFFFF (and so -1) means "a new random seed each time". vLLM and SGLang check top_p in (0, 1]
 * and temperature ≥ 0, which generate.params already requires. Checked before a run where the kind
 * is configured, and at the first request where it is found out.
 */
export function paramProblems(kind: ServerKind, p: GenParams): string[] {
  const out: string[] = [];
  if (kind === 'tgi') {
    if (p.top_p <= 0) out.push(`top_p ${p.top_p}: TGI needs 0 < top_p < 1 (1 is left out: it is the neutral value)`);
    if (p.seed !== undefined && p.seed < 0) out.push(`seed ${p.seed}: TGI takes seeds of 0 or more`);
    if ((p.stop?.length ?? 0) > 4) out.push(`${p.stop!.length} stop sequences: TGI takes at most 4`);
  }
  if (kind === 'llamacpp' && p.seed !== undefined && !(p.seed >= 0 && p.seed < 0xffffffff))
    out.push(`seed ${p.seed}: llama.cpp server takes seeds from 0 to 4294967294 (-1 and 4294967295 mean a new random seed for every request)`);
  return out;
}

/** The request body for a server kind: neutral values left out, structured output in the server's own shape. */
export function requestBody(kind: ServerKind, model: string, req: CompletionRequest): Record<string, unknown> {
  const p = req.params;
  const body: Record<string, unknown> = { model, messages: req.messages, temperature: p.temperature, max_tokens: p.max_tokens };
  if (p.top_p < 1) body.top_p = p.top_p;
  if (p.seed !== undefined) body.seed = p.seed;
  if (p.stop?.length) body.stop = p.stop;
  if (req.jsonSchema)
    body.response_format =
      kind === 'tgi'
        ? // TGI's router takes a grammar (`{type: json, value: schema}`, since 1.4.3), and answers OpenAI's shape with 422.
          { type: 'json', value: req.jsonSchema }
        : { type: 'json_schema', json_schema: { name: 'output', schema: req.jsonSchema, strict: true } };
  return body;
}

/** Finish reasons that say the server gave up on the request (vLLM's `abort` and `error`): worth another try. */
const FAILED_FINISH = new Set(['abort', 'error']);

export class OpenAIEngine implements Engine {
  readonly id: string;
  readonly concurrency: number;
  readonly model: string;
  private readonly path: string;
  private readonly http: HttpPool;
  private readonly headers: Record<string, string>;

  /** The server kind: configured, or found out by one request to the server, shared by every call. */
  private kindFound: Promise<ServerKind> | undefined;
  /** The same, once known: a request then need not wait on a settled promise. */
  private kindKnown: ServerKind | undefined;
  private readonly root: string;

  /** The endpoint's quota, when one is configured; `x-ratelimit-*` headers are heeded either way. */
  private readonly limiter: RateLimiter;

  readonly price: Price | undefined;

  constructor(cfg: OpenAIEngineConfig, env: NodeJS.ProcessEnv = process.env) {
    this.id = endpointId(cfg.base_url);
    this.price = priceOf(cfg.model, cfg.price);
    this.limiter = new RateLimiter(cfg.rate_limit ?? {});
    this.model = cfg.model;
    this.concurrency = cfg.concurrency;
    if (cfg.server && cfg.server !== 'auto') this.kindFound = Promise.resolve((this.kindKnown = cfg.server));
    const url = new URL(cfg.base_url);
    this.path = url.pathname.replace(/\/?$/, '/') + 'chat/completions';
    this.http = new HttpPool(url);
    this.root = url.pathname.replace(/\/?(v1\/?)?$/, '/');
    this.headers = { 'content-type': 'application/json' };
    Object.assign(this.headers, authHeader(this.id, cfg.api_key_env, env));
  }

  /**
   * Not an async function: a request in flight then holds one promise reaction here rather than a
   * suspended frame (generator, registers, await closures), ~0.3 KB less for every young-generation
   * collection to copy at 1,000 in flight.
   */
  complete(req: CompletionRequest): Promise<Completion> {
    const signal = req.signal;
    if (signal?.aborted) return Promise.reject(abortError(this.id, signal));
    const kind = this.kindKnown;
    if (kind === undefined) return this.kind().then(() => this.complete(req));
    const problems = paramProblems(kind, req.params);
    if (problems.length) return Promise.reject(new EngineError(`${this.id}: a ${kind} server would refuse these sampling settings: ${problems.join('; ')}`, 'bad_request'));
    const body = requestBody(kind, this.model, req);
    return this.http.request('POST', this.path, this.headers, () => JSON.stringify(body), signal).then(
      (res) => this.answer(req, res),
      (err: unknown) => {
        throw signal?.aborted ? abortError(this.id, signal) : new EngineError(`${this.id}: ${(err as Error).message}`, 'connection');
      },
    );
  }

  private answer(req: CompletionRequest, res: HttpResponse): Completion {
    const text = res.body.toString('utf8');
    const limits = rateHeaders(res.headers);
    if (res.status !== 200) {
      this.limiter.settle(tokenCost(req), undefined, limits);
      throw httpError(this.id, res.status, res.headers, text);
    }
    const done = parseChatAnswer(this.id, this.model, text);
    this.limiter.settle(tokenCost(req), done.usage.prompt_tokens + done.usage.completion_tokens, limits);
    return done;
  }

  admit(req: CompletionRequest): Promise<void> | undefined {
    const cost = tokenCost(req);
    return this.limiter.tryAdmit(cost) ? undefined : this.limiter.admit(cost, req.signal);
  }

  get rateWaitMs(): number {
    return this.limiter.waitedMs;
  }

  /**
   * The server kind, asked once: TGI answers `GET /info` with its `model_id` (vLLM, SGLang and
   * llama.cpp server have no such route, or answer it otherwise); any other answer, or none, means a
   * server that follows OpenAI's API.
   */
  kind(): Promise<ServerKind> {
    this.kindFound ??= this.http
      .request('GET', `${this.root}info`, this.headers, Buffer.alloc(0), AbortSignal.timeout(10_000))
      .then((res) => {
        if (res.status !== 200) return 'openai' as const;
        const info = JSON.parse(res.body.toString('utf8')) as { model_id?: unknown };
        return typeof info.model_id === 'string' ? ('tgi' as const) : ('openai' as const);
      })
      .catch(() => 'openai' as const)
      .then((kind) => (this.kindKnown = kind));
    return this.kindFound;
  }

  async close(): Promise<void> {
    this.http.close();
  }
}

/** A chat completion's answer, or the EngineError it amounts to. */
export function parseChatAnswer(id: string, model: string, text: string): Completion {
  let json: ChatResponse;
  try {
    json = JSON.parse(text) as ChatResponse;
  } catch {
    throw new EngineError(`${id}: answer is not JSON: ${text.slice(0, 200)}`, 'server');
  }
  const choice = json.choices?.[0];
  const finish = choice?.finish_reason ?? undefined;
  if (finish && FAILED_FINISH.has(finish)) throw new EngineError(`${id}: the server gave up on the request (finish_reason=${finish})`, 'server');
  const content = choice?.message?.content ?? choice?.text;
  // An empty answer is a failure, never a sample (llm-swarm stored empty completions). A reasoning
  // model out of tokens answers `content: null`: the request's fault, not the server's health.
  if (typeof content !== 'string' || content.length === 0)
    throw new EngineError(`${id}: answer has no text (finish_reason=${finish ?? 'none'})`, 'empty');
  return {
    text: content,
    finish_reason: finish ?? 'stop',
    usage: { prompt_tokens: json.usage?.prompt_tokens ?? 0, completion_tokens: json.usage?.completion_tokens ?? 0 },
    model: json.model ?? model,
  };
}

function abortError(id: string, signal: AbortSignal): EngineError {
  const reason = signal.reason as unknown;
  if (reason instanceof EngineError) return reason;
  return new EngineError(`${id}: request aborted${reason instanceof Error ? `: ${reason.message}` : ''}`, 'aborted');
}

export function createOpenAIEngine(cfg: OpenAIEngineConfig): OpenAIEngine {
  return new OpenAIEngine(cfg);
}

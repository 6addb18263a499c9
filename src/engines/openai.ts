/**
 * An OpenAI-compatible endpoint (vLLM, TGI, SGLang, llama.cpp server, Ollama, hosted APIs) as an
 * Engine. It speaks HTTP through the lean keep-alive client in http.ts, not the `openai` SDK: at
 * thousands of requests per second the SDK's (and even undici's) per-request CPU is what would
 * limit a GPU server. One attempt per call; the pool does retries.
 */
import { HttpPool } from './http.js';
import type { OpenAIEngineConfig } from './config.js';
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
}

const errorText = (body: string): string => {
  try {
    const parsed = JSON.parse(body) as ChatResponse;
    const e = parsed.error;
    if (typeof e === 'string') return e;
    if (e?.message) return e.message;
  } catch {
    // not JSON: fall through to the raw text
  }
  return body.slice(0, 300);
};

/** Map an HTTP error status to an EngineError the pool can act on. */
function httpError(id: string, status: number, headers: Record<string, string>, body: string): EngineError {
  const reason = errorText(body);
  const msg = `${id}: HTTP ${status}: ${reason}`;
  const retryAfterMs = parseRetryAfter(headers['retry-after']);
  if (status === 429) return new EngineError(msg, 'rate_limited', { status, retryAfterMs });
  if (status === 401 || status === 403) return new EngineError(msg, 'auth', { status });
  if (status === 408) return new EngineError(msg, 'timeout', { status });
  if (status >= 500) return new EngineError(msg, 'server', { status, retryAfterMs });
  if (/context length|maximum context|too many tokens|context window|prompt is too long/i.test(reason))
    return new EngineError(msg, 'context_length', { status });
  return new EngineError(msg, 'bad_request', { status });
}

export class OpenAIEngine implements Engine {
  readonly id: string;
  readonly concurrency: number;
  readonly model: string;
  private readonly path: string;
  private readonly http: HttpPool;
  private readonly headers: Record<string, string>;

  constructor(cfg: OpenAIEngineConfig, env: NodeJS.ProcessEnv = process.env) {
    this.id = endpointId(cfg.base_url);
    this.model = cfg.model;
    this.concurrency = cfg.concurrency;
    const url = new URL(cfg.base_url);
    this.path = url.pathname.replace(/\/?$/, '/') + 'chat/completions';
    this.http = new HttpPool(url);
    this.headers = { 'content-type': 'application/json' };
    if (cfg.api_key_env !== undefined) {
      const key = env[cfg.api_key_env];
      // Name the variable, never the value.
      if (!key) throw new CosmoError(`endpoint ${this.id}: environment variable ${cfg.api_key_env} (api_key_env) is not set`);
      registerSecret(key);
      this.headers.authorization = `Bearer ${key}`;
    }
  }

  async complete(req: CompletionRequest): Promise<Completion> {
    const p = req.params;
    const body: Record<string, unknown> = {
      model: this.model,
      messages: req.messages,
      temperature: p.temperature,
      top_p: p.top_p,
      max_tokens: p.max_tokens,
    };
    if (p.seed !== undefined) body.seed = p.seed;
    if (p.stop?.length) body.stop = p.stop;
    if (req.jsonSchema) body.response_format = { type: 'json_schema', json_schema: { name: 'output', schema: req.jsonSchema, strict: true } };
    const signal = req.signal;
    if (signal?.aborted) throw abortError(this.id, signal);
    let res;
    try {
      res = await this.http.request('POST', this.path, this.headers, Buffer.from(JSON.stringify(body), 'utf8'), signal);
    } catch (err) {
      if (signal?.aborted) throw abortError(this.id, signal);
      throw new EngineError(`${this.id}: ${(err as Error).message}`, 'connection');
    }
    const text = res.body.toString('utf8');
    if (res.status !== 200) throw httpError(this.id, res.status, res.headers, text);
    return this.parse(text);
  }

  private parse(text: string): Completion {
    let json: ChatResponse;
    try {
      json = JSON.parse(text) as ChatResponse;
    } catch {
      throw new EngineError(`${this.id}: answer is not JSON: ${text.slice(0, 200)}`, 'server');
    }
    const choice = json.choices?.[0];
    const content = choice?.message?.content ?? choice?.text;
    // An empty answer is a failure, never a sample (llm-swarm stored empty completions).
    if (typeof content !== 'string' || content.length === 0)
      throw new EngineError(`${this.id}: answer has no text (finish_reason=${choice?.finish_reason ?? 'none'})`, 'server');
    return {
      text: content,
      finish_reason: choice?.finish_reason === 'length' ? 'length' : 'stop',
      usage: { prompt_tokens: json.usage?.prompt_tokens ?? 0, completion_tokens: json.usage?.completion_tokens ?? 0 },
      model: json.model ?? this.model,
    };
  }

  async close(): Promise<void> {
    this.http.close();
  }
}

function abortError(id: string, signal: AbortSignal): EngineError {
  const reason = signal.reason as unknown;
  if (reason instanceof EngineError) return reason;
  return new EngineError(`${id}: request aborted${reason instanceof Error ? `: ${reason.message}` : ''}`, 'aborted');
}

export function createOpenAIEngine(cfg: OpenAIEngineConfig): OpenAIEngine {
  return new OpenAIEngine(cfg);
}

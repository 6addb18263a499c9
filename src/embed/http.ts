import { HttpPool } from '../engines/http.js';
import { endpointId } from '../engines/openai.js';
import { CosmoError, errorMessage } from '../util/errors.js';
import { registerSecret } from '../util/redact.js';
import { sleep } from '../util/sleep.js';
import { normalizeRows } from './linalg.js';
import type { Embedder } from './types.js';

export interface HttpEmbedderOptions {
  baseUrl: string;
  model: string;
  apiKeyEnv?: string;
  /** Texts per request. */
  batch: number;
  /** Requests in flight at once. */
  concurrency: number;
  /** Attempts per request, with exponential backoff between them. */
  attempts: number;
}

/**
 * Any OpenAI-compatible `/v1/embeddings` endpoint (TEI, vLLM, Ollama, hosted APIs), over the same
 * keep-alive HTTP client as the generation engine, with retries and backoff on timeouts, 429s and
 * 5xx answers; a 4xx other than 429 fails at once, naming the endpoint.
 */
export class HttpEmbedder implements Embedder {
  readonly name: string;
  dim = 0;
  private readonly http: HttpPool;
  private readonly path: string;
  private readonly headers: Record<string, string> = { 'content-type': 'application/json' };
  private readonly id: string;

  constructor(private readonly o: HttpEmbedderOptions) {
    this.id = endpointId(o.baseUrl);
    this.name = `openai:${o.model}`;
    const url = new URL(o.baseUrl);
    this.path = url.pathname.replace(/\/?$/, '/') + 'embeddings';
    this.http = new HttpPool(url);
    if (o.apiKeyEnv) {
      const key = process.env[o.apiKeyEnv];
      if (!key) throw new CosmoError(`embeddings endpoint ${this.id}: environment variable ${o.apiKeyEnv} (api_key_env) is not set`);
      registerSecret(key);
      this.headers.authorization = `Bearer ${key}`;
    }
  }

  async embed(texts: string[], signal?: AbortSignal): Promise<Float32Array> {
    const batches: number[] = [];
    for (let at = 0; at < texts.length; at += this.o.batch) batches.push(at);
    const parts = new Map<number, number[][]>();
    const queue = [...batches];
    await Promise.all(
      Array.from({ length: Math.max(1, Math.min(this.o.concurrency, queue.length)) }, async () => {
        for (let at = queue.shift(); at !== undefined; at = queue.shift()) parts.set(at, await this.request(texts.slice(at, at + this.o.batch), signal));
      }),
    );
    const first = parts.get(0)?.[0];
    this.dim = first?.length ?? this.dim;
    const out = new Float32Array(texts.length * this.dim);
    for (const at of batches) parts.get(at)!.forEach((v, k) => out.set(v, (at + k) * this.dim));
    normalizeRows(out, this.dim);
    return out;
  }

  private async request(input: string[], signal?: AbortSignal): Promise<number[][]> {
    const body = Buffer.from(JSON.stringify({ model: this.o.model, input }), 'utf8');
    let last = '';
    for (let attempt = 1; attempt <= this.o.attempts; attempt++) {
      if (attempt > 1) await sleep(Math.min(30_000, 500 * 2 ** (attempt - 2)) * (0.5 + Math.random() / 2), signal);
      let res;
      try {
        res = await this.http.request('POST', this.path, this.headers, body, signal);
      } catch (err) {
        signal?.throwIfAborted();
        last = errorMessage(err);
        continue;
      }
      const text = res.body.toString('utf8');
      if (res.status === 200) {
        const data = (JSON.parse(text) as { data?: { index?: number; embedding: number[] }[] }).data;
        if (!Array.isArray(data) || data.length !== input.length) throw new CosmoError(`${this.id}: embeddings answer has ${data?.length ?? 'no'} vectors for ${input.length} texts`);
        return [...data].sort((a, b) => (a.index ?? 0) - (b.index ?? 0)).map((d) => d.embedding);
      }
      last = `HTTP ${res.status}: ${text.slice(0, 300)}`;
      if (res.status !== 429 && res.status !== 408 && res.status < 500) break;
    }
    throw new CosmoError(`embeddings endpoint ${this.id}: ${last}`);
  }

  async close(): Promise<void> {
    this.http.close();
  }
}

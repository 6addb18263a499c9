/**
 * OpenAI's Batch API as an Engine (`type: openai-batch`): requests are gathered into JSONL files,
 * uploaded (`POST /v1/files`), submitted as batches (`POST /v1/batches`), polled, and answered from
 * the batch's output and error files. Hosted APIs charge about half for it; vLLM and others have
 * batch runners speaking the same API.
 *
 * It looks like any engine to the pool and the generate stage: `complete()` resolves when the
 * request's answer comes back, so answers reach the same ledger, exactly once, and a failed item is
 * retried by the pool (it then goes into a later batch). What makes it resumable: every batch is
 * recorded (its id and the keys of its requests) in a state file *before* it is waited on. After a
 * kill, the next run's request with the same key (a hash of its body) waits for that batch instead
 * of submitting it again, so nothing is paid for twice.
 */
import { createHash } from 'node:crypto';
import type { OpenAIBatchEngineConfig } from './config.js';
import { HttpPool } from './http.js';
import { authHeader, httpError, parseChatAnswer, requestBody } from './openai.js';
import { priceOf, type Price } from './prices.js';
import { AppendLog } from '../io/append-log.js';
import { errorMessage } from '../util/errors.js';
import type { Logger } from '../util/log.js';
import { onAbort } from '../util/abort.js';
import { sleep } from '../util/sleep.js';
import { EngineError, type Completion, type CompletionRequest, type Engine } from './types.js';

/** A line of the state file: a batch submitted, with the keys of its requests. */
interface BatchRecord {
  batch: string;
  input_file: string;
  keys: string[];
  at: string;
}

interface Waiter {
  resolve(c: Completion): void;
  reject(e: EngineError): void;
}

/** Statuses after which a batch changes no more. */
const ENDED = new Set(['completed', 'failed', 'expired', 'cancelled']);

export interface BatchEngineOptions {
  log: Logger;
  /** Where batches are recorded (a JSONL file per task); without it, a killed run cannot pick its batches up. */
  statePath?: string;
  env?: NodeJS.ProcessEnv;
}

export class OpenAIBatchEngine implements Engine {
  readonly id: string;
  readonly concurrency: number;
  readonly price: Price | undefined;
  /** A batch may take up to its completion window: the pool's per-attempt timeout is this, not its own. */
  readonly attemptTimeoutMs: number;
  private readonly http: HttpPool;
  private readonly root: string;
  private readonly headers: Record<string, string> = {};
  private readonly log: Logger;
  private readonly state: AppendLog<BatchRecord> | undefined;
  /** Requests gathered for the next batch. */
  private buffer: { key: string; line: string }[] = [];
  private bufferBytes = 0;
  private flushTimer: NodeJS.Timeout | undefined;
  /** Callers waiting for each request key's answer. */
  private readonly waiters = new Map<string, Waiter[]>();
  /** The batch each submitted key is in, until its answer is handed out. */
  private readonly batchOf = new Map<string, string>();
  /** Answers (or final errors) that came back before anyone asked for them (a resumed run asks later). */
  private readonly unclaimed = new Map<string, Completion | EngineError>();
  private readonly polls = new Map<string, Promise<void>>();
  private closed = false;
  /** Ends the polls' sleeps when the engine closes, so a stopped run does not wait out a poll interval. */
  private readonly stopping = new AbortController();
  /** Batches created and files uploaded by this engine (the test counts them, the log reports them). */
  submitted = 0;

  constructor(
    private readonly cfg: OpenAIBatchEngineConfig,
    opts: BatchEngineOptions,
  ) {
    const env = opts.env ?? process.env;
    const url = new URL(cfg.base_url);
    this.id = `batch:${url.origin}${url.pathname.replace(/\/$/, '')}`;
    this.concurrency = cfg.max_requests * 2;
    this.price = priceOf(cfg.model, cfg.price, true);
    this.attemptTimeoutMs = (cfg.completion_window_h + 2) * 3_600_000;
    this.http = new HttpPool(url);
    this.root = url.pathname.replace(/\/?$/, '/');
    this.log = opts.log;
    Object.assign(this.headers, authHeader(this.id, cfg.api_key_env, env));
    if (opts.statePath) {
      const { log, existing } = AppendLog.open<BatchRecord>(opts.statePath, { syncEveryMs: 0 });
      this.state = log;
      for (const b of existing) for (const k of b.keys) this.batchOf.set(k, b.batch);
      if (existing.length) this.log.info('batches of an earlier run: their requests wait for them instead of being sent again', { batches: existing.length, engine: this.id });
    }
  }

  complete(req: CompletionRequest): Promise<Completion> {
    if (this.closed) return Promise.reject(new EngineError(`${this.id}: engine is closed`, 'aborted'));
    const body = requestBody('openai', this.cfg.model, req);
    const key = createHash('sha256').update(JSON.stringify(body)).digest('hex');
    return new Promise<Completion>((resolve, reject) => {
      const ready = this.unclaimed.get(key);
      if (ready) {
        this.unclaimed.delete(key);
        return ready instanceof EngineError ? reject(ready) : resolve(ready);
      }
      // Attempts that start together share a signal (engines/pool.ts): one listener serves them all,
      // and each lets go of it once answered.
      const waiter: Waiter = {
        resolve: (c) => {
          off();
          resolve(c);
        },
        reject: (err) => {
          off();
          reject(err);
        },
      };
      const off = onAbort(req.signal, () => this.drop(key, waiter, req.signal!));
      const list = this.waiters.get(key) ?? [];
      list.push(waiter);
      this.waiters.set(key, list);
      const batch = this.batchOf.get(key);
      if (batch) return void this.poll(batch);
      // Already gathered for the next batch (the same request asked twice): one line serves both.
      if (list.length > 1) return;
      const line = JSON.stringify({ custom_id: key, method: 'POST', url: '/v1/chat/completions', body });
      this.buffer.push({ key, line });
      this.bufferBytes += Buffer.byteLength(line) + 1;
      if (this.buffer.length >= this.cfg.max_requests || this.bufferBytes >= this.cfg.max_mb * 1e6) void this.flush();
      else this.flushTimer ??= setTimeout(() => void this.flush(), this.cfg.gather_s * 1000);
    });
  }

  /** A caller gave up: it is answered at once; the request stays in its batch if it was sent. */
  private drop(key: string, waiter: Waiter, signal: AbortSignal): void {
    const list = this.waiters.get(key);
    const i = list?.indexOf(waiter) ?? -1;
    if (i < 0) return;
    list!.splice(i, 1);
    if (list!.length === 0) {
      this.waiters.delete(key);
      const at = this.buffer.findIndex((b) => b.key === key);
      if (at >= 0) this.bufferBytes -= Buffer.byteLength(this.buffer.splice(at, 1)[0]!.line) + 1;
    }
    waiter.reject(new EngineError(`${this.id}: request aborted${signal.reason instanceof Error ? `: ${signal.reason.message}` : ''}`, 'aborted'));
  }

  /** Sends the gathered requests as one batch: the file, the batch, its record, then the wait. */
  private async flush(): Promise<void> {
    clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
    // As many lines as fit both limits (at least one: a single request larger than max_mb is the server's to refuse).
    let take = 0;
    for (let bytes = 0; take < this.buffer.length && take < this.cfg.max_requests; take++) {
      bytes += Buffer.byteLength(this.buffer[take]!.line) + 1;
      if (take > 0 && bytes > this.cfg.max_mb * 1e6) break;
    }
    const part = this.buffer.splice(0, take);
    this.bufferBytes = this.buffer.reduce((n, b) => n + Buffer.byteLength(b.line) + 1, 0);
    if (this.buffer.length) this.flushTimer = setTimeout(() => void this.flush(), 0);
    if (part.length === 0) return;
    try {
      const file = await this.upload(part.map((b) => b.line).join('\n') + '\n');
      const batch = (await this.call('POST', 'batches', { input_file_id: file, endpoint: '/v1/chat/completions', completion_window: `${this.cfg.completion_window_h}h` })) as { id?: string };
      if (typeof batch.id !== 'string') throw new EngineError(`${this.id}: the batch was created without an id`, 'server');
      this.submitted++;
      // Recorded before it is waited on: a killed run's successor waits for it instead of paying again.
      this.state?.append({ batch: batch.id, input_file: file, keys: part.map((b) => b.key), at: new Date().toISOString() });
      for (const b of part) this.batchOf.set(b.key, batch.id);
      this.log.info('batch submitted', { engine: this.id, batch: batch.id, requests: part.length });
      void this.poll(batch.id);
    } catch (err) {
      const e = err instanceof EngineError ? err : new EngineError(`${this.id}: ${errorMessage(err)}`, 'connection');
      for (const b of part) this.settle(b.key, e, false);
    }
  }

  /** Waits for a batch to end, then hands out its answers; one poll per batch. */
  private poll(batch: string): Promise<void> {
    let p = this.polls.get(batch);
    if (!p) {
      p = this.follow(batch).finally(() => this.polls.delete(batch));
      this.polls.set(batch, p);
    }
    return p;
  }

  private async follow(batch: string): Promise<void> {
    let info: { status?: string; output_file_id?: string | null; error_file_id?: string | null; errors?: unknown };
    try {
      for (;;) {
        info = (await this.call('GET', `batches/${batch}`)) as typeof info;
        if (ENDED.has(String(info.status))) break;
        if (this.closed) return;
        await sleep(this.cfg.poll_s * 1000, this.stopping.signal);
        if (this.closed) return;
      }
      const answered = new Set<string>();
      for (const fileId of [info.output_file_id, info.error_file_id]) {
        if (!fileId) continue;
        const text = (await this.fetch(`files/${fileId}/content`)).toString('utf8');
        for (const line of text.split('\n')) {
          if (!line.trim()) continue;
          const item = JSON.parse(line) as { custom_id?: string; response?: { status_code?: number; body?: unknown } | null; error?: { code?: string; message?: string } | null };
          if (!item.custom_id) continue;
          answered.add(item.custom_id);
          this.settle(item.custom_id, this.answerOf(item), true);
        }
      }
      // Requests of the batch with no line in either file (an expired or cancelled batch): asked again.
      const why = new EngineError(`${this.id}: batch ${batch} ended ${info.status} without an answer for this request`, 'batch_item');
      for (const [key, b] of this.batchOf) if (b === batch && !answered.has(key)) this.settle(key, why, true);
    } catch (err) {
      if (this.closed) return;
      const e = err instanceof EngineError ? err : new EngineError(`${this.id}: batch ${batch}: ${errorMessage(err)}`, 'connection');
      // A batch (or its files) the server no longer knows, say one recorded long ago: its requests go into a new batch.
      const gone = e.opts.status === 404;
      const why = gone ? new EngineError(`${this.id}: batch ${batch} is unknown to the server (${e.message}); its requests are sent again`, 'batch_item') : e;
      // Otherwise (the server is down) the waiters fail now and are retried, and the batch stays theirs.
      for (const [key, b] of this.batchOf) if (b === batch) this.settle(key, why, gone);
    }
  }

  private answerOf(item: { response?: { status_code?: number; body?: unknown } | null; error?: { code?: string; message?: string } | null }): Completion | EngineError {
    const r = item.response;
    if (r && r.status_code === 200) {
      try {
        return parseChatAnswer(this.id, this.cfg.model, JSON.stringify(r.body));
      } catch (err) {
        return err instanceof EngineError ? err : new EngineError(errorMessage(err), 'server');
      }
    }
    if (r?.status_code) {
      const e = httpError(this.id, r.status_code, {}, JSON.stringify(r.body ?? {}));
      // A request the server refuses stays refused; any other failure inside a batch is asked again in the next.
      return e.retryable ? new EngineError(e.message, 'batch_item', { status: r.status_code }) : e;
    }
    return new EngineError(`${this.id}: ${item.error?.code ?? 'error'}: ${item.error?.message ?? 'no answer'}`, 'batch_item');
  }

  /**
   * Hands a key's answer to its waiters. `ended`: the batch is over for this key (its answer is
   * final, and a retry goes into a new batch); otherwise the key stays with its batch.
   */
  private settle(key: string, result: Completion | EngineError, ended: boolean): void {
    if (ended) this.batchOf.delete(key);
    const list = this.waiters.get(key);
    this.waiters.delete(key);
    if (!list?.length) {
      // Nobody asked yet (a resumed run reaches this prompt later): kept until asked.
      if (ended) this.unclaimed.set(key, result);
      return;
    }
    for (const w of list) {
      if (result instanceof EngineError) w.reject(result);
      else w.resolve(result);
    }
  }

  /** Uploads a batch's input file (multipart, purpose=batch); its id. */
  private async upload(jsonl: string): Promise<string> {
    const boundary = `cosmo${createHash('sha256').update(jsonl).digest('hex').slice(0, 24)}`;
    const body = Buffer.concat([
      Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="purpose"\r\n\r\nbatch\r\n`),
      Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="batch.jsonl"\r\nContent-Type: application/jsonl\r\n\r\n`),
      Buffer.from(jsonl),
      Buffer.from(`\r\n--${boundary}--\r\n`),
    ]);
    const res = await this.http.request('POST', `${this.root}files`, { ...this.headers, 'content-type': `multipart/form-data; boundary=${boundary}` }, body);
    const text = res.body.toString('utf8');
    if (res.status !== 200) throw httpError(this.id, res.status, res.headers, text);
    const id = (JSON.parse(text) as { id?: unknown }).id;
    if (typeof id !== 'string') throw new EngineError(`${this.id}: the file was uploaded without an id`, 'server');
    return id;
  }

  private async call(method: string, path: string, json?: unknown): Promise<unknown> {
    const res = await this.http.request(method, `${this.root}${path}`, { ...this.headers, 'content-type': 'application/json' }, json === undefined ? '' : JSON.stringify(json));
    const text = res.body.toString('utf8');
    if (res.status !== 200) throw httpError(this.id, res.status, res.headers, text);
    return JSON.parse(text);
  }

  private async fetch(path: string): Promise<Buffer> {
    const res = await this.http.request('GET', `${this.root}${path}`, this.headers, Buffer.alloc(0));
    if (res.status !== 200) throw httpError(this.id, res.status, res.headers, res.body.toString('utf8'));
    return res.body;
  }

  async close(): Promise<void> {
    this.closed = true;
    this.stopping.abort();
    clearTimeout(this.flushTimer);
    this.state?.close();
    this.http.close();
  }
}

/**
 * A pool of engines that behaves like one reliable engine: least-outstanding-requests routing within
 * each engine's concurrency, retries with exponential backoff and full jitter, `Retry-After`, a
 * per-attempt timeout, and a circuit breaker per engine. A request that still fails is thrown as an
 * EngineError, so the caller records it as a failure rather than an empty text.
 */
import { setMaxListeners } from 'node:events';
import { canonicalJson, sha256Hex } from '../records/id.js';
import type { EngineConfig } from './config.js';
import { onAbort } from '../util/abort.js';
import { sleep } from '../util/sleep.js';
import { errorMessage } from '../util/errors.js';
import type { Logger } from '../util/log.js';
import { createEngine } from './create.js';
import type { Price } from './prices.js';
import { EngineError, type Completion, type CompletionRequest, type Engine, type EngineErrorKind } from './types.js';

export interface PoolPolicy {
  /** Attempts per request, the first included. */
  maxAttempts: number;
  /** Per-attempt timeout. */
  timeoutMs: number;
  /** Backoff before retry n is a random delay in [0, min(maxBackoffMs, backoffMs * 2^(n-1))]. */
  backoffMs: number;
  maxBackoffMs: number;
  /** Consecutive failures that open an engine's circuit. */
  breakerFailures: number;
  /** How long an open circuit waits before one probe request may try the engine again. */
  breakerCooldownMs: number;
  /**
   * While every circuit is open, requests wait for an engine to come back, for at most this long;
   * after that they fail fast (and so, in the end, for good) instead of hanging.
   */
  maxOutageMs: number;
}

export const DEFAULT_POLICY: PoolPolicy = {
  maxAttempts: 6,
  timeoutMs: 600_000,
  backoffMs: 1000,
  maxBackoffMs: 60_000,
  breakerFailures: 5,
  breakerCooldownMs: 15_000,
  maxOutageMs: 300_000,
};

/** A store of finished completions by request key, so nobody pays twice for the same request. */
export interface CompletionCache {
  get(key: string): PooledCompletion | undefined;
  put(key: string, value: PooledCompletion): void;
}

export interface PoolOptions extends Partial<PoolPolicy> {
  log: Logger;
  cache?: CompletionCache;
  /** Where the embedded engine keeps downloaded models. */
  cacheDir?: string;
  /** Where a batch engine records its batches (a JSONL file), so that a killed run picks them up. */
  batchState?: string;
}

export interface PooledCompletion extends Completion {
  /** Id of the engine that answered. */
  engine: string;
  /** Duration of the successful attempt, in ms. */
  latency_ms: number;
  /** Attempts it took (1 = first try); 0 when it came from the cache. */
  attempts: number;
  cached: boolean;
}

/** `refused`: the engine refuses our credentials (HTTP 401/403); it stays out of the pool for good. */
type BreakerState = 'closed' | 'open' | 'half_open' | 'refused';

export interface EngineMetrics {
  id: string;
  concurrency: number;
  state: BreakerState;
  outstanding: number;
  requests: number;
  ok: number;
  errors: number;
  completion_tokens: number;
  /** Seconds requests waited for the engine's rate budget (requests and tokens per minute), summed. */
  rate_wait_s?: number;
  /** An embedded engine's calibration, when its threads or sequences were `auto`. */
  calibration?: Engine['calibration'];
}

class Slot {
  outstanding = 0;
  consecutiveFailures = 0;
  state: BreakerState = 'closed';
  /** Circuit open until (ms epoch). */
  openUntil = 0;
  cooldownMs: number;
  requests = 0;
  ok = 0;
  errors = 0;
  completionTokens = 0;
  /** The group the attempts starting now join (see AttemptGroup). */
  group: AttemptGroup | undefined;
  constructor(
    readonly engine: Engine,
    cooldownMs: number,
  ) {
    this.cooldownMs = cooldownMs;
  }
  /** Whether a request may start now. A half-open engine takes a single probe. */
  usable(now: number): boolean {
    if (this.state === 'refused' || this.outstanding >= this.engine.concurrency) return false;
    if (this.state === 'closed') return true;
    if (this.state === 'half_open') return this.outstanding === 0;
    return now >= this.openUntil;
  }
  /** Earliest time this engine might take a request again (ignoring its concurrency). */
  readyAt(): number {
    if (this.state === 'refused') return Infinity;
    return this.state === 'open' ? this.openUntil : 0;
  }
}

interface Waiter {
  resolve(slot: Slot): void;
  reject(err: unknown): void;
  /** Stop listening to the caller's signal. */
  off?: () => void;
}

/** How long a group of attempts takes in new members: the most an attempt's timeout may run late. */
const GROUP_WINDOW_MS = 10;

/**
 * Attempts on one engine, for one caller signal, that start within GROUP_WINDOW_MS of each other:
 * they share the signal the engine gets, which aborts when the caller's does, or with a timeout once
 * the group's last member may have run for the engine's timeout. An AbortController, its signal
 * and a timer for every attempt allocate ~2 KB that lives as long as the request: at 1,000 requests
 * in flight, every young-generation collection copied and promoted that. A group ends, its timer
 * cleared, when its last member leaves.
 */
class AttemptGroup {
  private readonly controller = new AbortController();
  private readonly members = new Set<(reason: unknown) => void>();
  private readonly timer: NodeJS.Timeout;
  private readonly off: () => void;
  private readonly until = performance.now() + GROUP_WINDOW_MS;
  private ended = false;

  constructor(
    readonly caller: AbortSignal | undefined,
    engineId: string,
    timeoutMs: number,
  ) {
    // Every member's engine call listens to it.
    setMaxListeners(0, this.controller.signal);
    const timeout = () => this.abort(new EngineError(`${engineId}: no answer within ${timeoutMs} ms`, 'timeout'));
    this.timer = setTimeout(timeout, timeoutMs + GROUP_WINDOW_MS);
    this.off = onAbort(caller, () => this.abort(caller!.reason));
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  /** Whether an attempt starting now, for `caller`, may join. */
  open(caller: AbortSignal | undefined): boolean {
    return !this.ended && caller === this.caller && performance.now() < this.until;
  }

  /** `stop` is called with the reason if the group aborts before the member leaves. */
  join(stop: (reason: unknown) => void): void {
    this.members.add(stop);
  }

  leave(stop: (reason: unknown) => void): void {
    this.members.delete(stop);
    if (this.members.size === 0) this.end();
  }

  private abort(reason: unknown): void {
    this.controller.abort(reason);
    for (const stop of [...this.members]) stop(reason);
    this.end();
  }

  private end(): void {
    this.ended = true;
    this.members.clear();
    clearTimeout(this.timer);
    this.off();
  }
}

/** Kinds that say the engine itself is unwell (count towards its circuit breaker). */
const UNHEALTHY: ReadonlySet<EngineErrorKind> = new Set(['timeout', 'connection', 'server', 'unknown']);

export class EnginePool {
  private readonly slots: Slot[];
  private readonly waiters: Waiter[] = [];
  private wakeTimer: NodeJS.Timeout | undefined;
  private readonly policy: PoolPolicy;
  private readonly log: Logger;
  private readonly cache: CompletionCache | undefined;
  private closed = false;
  /** Failed attempts by kind, retried or not. */
  readonly errorsByKind: Record<string, number> = {};
  attempts = 0;
  retries = 0;
  /** Requests waiting out the backoff before a retry: a caller keeps that many more in flight. */
  backingOff = 0;

  /**
   * @param modelKey names the model(s) behind the pool in request-cache keys, so a different model never
   * answers from another's cache.
   */
  constructor(
    engines: Engine[],
    opts: PoolOptions,
    readonly modelKey: string = engines.map((e) => e.id).join('|'),
  ) {
    if (engines.length === 0) throw new Error('EnginePool needs at least one engine');
    this.policy = { ...DEFAULT_POLICY, ...definedOnly(opts) };
    this.log = opts.log;
    this.cache = opts.cache;
    this.slots = engines.map((e) => new Slot(e, this.policy.breakerCooldownMs));
  }

  /** Pool engines that already exist. */
  static fromEngines(engines: Engine[], opts: PoolOptions, modelKey?: string): EnginePool {
    return new EnginePool(engines, opts, modelKey);
  }

  /** Create every engine of `cfgs` and pool them. */
  static async create(cfgs: EngineConfig[], opts: PoolOptions): Promise<EnginePool> {
    const engines: Engine[] = [];
    try {
      for (const cfg of cfgs) engines.push(await createEngine(cfg, { log: opts.log, cacheDir: opts.cacheDir, batchState: opts.batchState }));
    } catch (err) {
      await Promise.all(engines.map((e) => e.close()));
      throw err;
    }
    const models = [...new Set(cfgs.map((c) => c.model))].sort();
    return new EnginePool(engines, opts, models.join('|'));
  }

  /** Add an engine while the pool runs (e.g. a server `cosmo serve` started later); it takes requests at once. */
  add(engine: Engine): void {
    if (this.closed) throw new Error('engine pool is closed');
    this.slots.push(new Slot(engine, this.policy.breakerCooldownMs));
    this.log.info('engine added', { engine: engine.id, concurrency: engine.concurrency });
    if (this.waiters.length) this.dispatch();
  }

  /** Requests the pool takes at once: the sum of its engines' concurrency. */
  get concurrency(): number {
    let n = 0;
    for (const s of this.slots) n += s.engine.concurrency;
    return n;
  }

  engines(): Engine[] {
    return this.slots.map((s) => s.engine);
  }

  /** The price of the engine with this id (none: free, or not in the pool). */
  priceOf(engineId: string): Price | undefined {
    return this.slots.find((s) => s.engine.id === engineId)?.engine.price;
  }

  get engineIds(): string[] {
    return this.slots.map((s) => s.engine.id);
  }

  /** The request-cache key: model, sampling parameters, rendered messages and schema. */
  requestKey(req: CompletionRequest): string {
    const p = req.params;
    // A fixed field order instead of canonical JSON of the whole request: this runs for every request.
    const fields = [
      this.modelKey,
      p.temperature,
      p.top_p,
      p.max_tokens,
      p.seed ?? null,
      p.stop ?? null,
      req.messages.map((m) => [m.role, m.content]),
      req.jsonSchema ? canonicalJson(req.jsonSchema) : null,
    ];
    return sha256Hex(JSON.stringify(fields));
  }

  async complete(req: CompletionRequest): Promise<PooledCompletion> {
    const key = this.cache ? this.requestKey(req) : '';
    const hit = req.fresh ? undefined : this.cache?.get(key);
    if (hit) return { ...hit, cached: true, attempts: 0 };
    let last: EngineError | undefined;
    for (let attempt = 1; attempt <= this.policy.maxAttempts; attempt++) {
      if (last) {
        // Full jitter, but never sooner than the server's Retry-After.
        this.retries++;
        const cap = Math.min(this.policy.maxBackoffMs, this.policy.backoffMs * 2 ** (attempt - 2));
        this.backingOff++;
        try {
          await sleep(Math.max(Math.random() * cap, last.opts.retryAfterMs ?? 0), req.signal);
        } finally {
          this.backingOff--;
        }
      }
      try {
        const result = await this.attempt(req, attempt);
        this.cache?.put(key, result);
        return result;
      } catch (err) {
        if (req.signal?.aborted) throw req.signal.reason ?? err;
        last = err instanceof EngineError ? err : new EngineError(errorMessage(err), 'unknown');
        this.errorsByKind[last.kind] = (this.errorsByKind[last.kind] ?? 0) + 1;
        // An engine that refuses the key is out of the pool; the request may go to another one.
        const elsewhere = last.kind === 'auth' && !this.allRefused();
        if (!last.retryable && !elsewhere) throw new EngineError(last.message, last.kind, { ...last.opts, attempts: attempt });
        this.log.debug('request failed, retrying', { attempt, kind: last.kind, error: last.message });
      }
    }
    throw new EngineError(`failed after ${this.policy.maxAttempts} attempts: ${last!.message}`, last!.kind, {
      ...last!.opts,
      attempts: this.policy.maxAttempts,
      retryable: last!.retryable,
    });
  }

  private async attempt(req: CompletionRequest, attempt: number): Promise<PooledCompletion> {
    // A free slot is taken at once; only a full pool makes the request wait in line.
    const free = this.waiters.length === 0 && !this.closed && !req.signal?.aborted ? this.pick() : undefined;
    const slot = free ?? (await this.acquire(req.signal));
    const admitted = slot.engine.admit?.(req);
    if (admitted) {
      try {
        await admitted;
      } catch (err) {
        this.release(slot);
        throw err;
      }
    }
    const started = performance.now();
    slot.requests++;
    this.attempts++;
    // The timeout and the caller's signal abort the engine's call and stop the wait for it at once.
    if (!slot.group?.open(req.signal)) slot.group = new AttemptGroup(req.signal, slot.engine.id, slot.engine.attemptTimeoutMs ?? this.policy.timeoutMs);
    const group = slot.group;
    let stopWaiting!: (reason: unknown) => void;
    try {
      const c = await new Promise<Completion>((resolve, reject) => {
        group.join((stopWaiting = reject));
        // The slot stays busy until the engine really lets go, even if we stop waiting for it.
        // Field by field: `{ ...req, signal }` gave every request's copy a hidden class of its own.
        const call: CompletionRequest = { messages: req.messages, params: req.params, jsonSchema: req.jsonSchema, fresh: req.fresh, signal: group.signal };
        slot.engine.complete(call).then(
          (c) => {
            this.release(slot);
            resolve(c);
          },
          (err: unknown) => {
            this.release(slot);
            reject(err);
          },
        );
      });
      // An empty answer is a failure, never a sample (llm-swarm stored empty completions).
      if (c.text.length === 0) throw new EngineError(`${slot.engine.id}: empty answer (finish_reason=${c.finish_reason})`, 'empty');
      this.onSuccess(slot, c.usage.completion_tokens);
      // Field by field: a spread of the answer allocated ~1.35 KB more per request.
      return { text: c.text, finish_reason: c.finish_reason, usage: c.usage, model: c.model, engine: slot.engine.id, latency_ms: Math.round(performance.now() - started), attempts: attempt, cached: false };
    } catch (err) {
      const e = err instanceof EngineError ? err : new EngineError(`${slot.engine.id}: ${errorMessage(err)}`, 'unknown');
      if (!req.signal?.aborted) this.onFailure(slot, e);
      throw e;
    } finally {
      group.leave(stopWaiting);
    }
  }

  private onSuccess(slot: Slot, completionTokens: number): void {
    slot.ok++;
    slot.completionTokens += completionTokens;
    slot.consecutiveFailures = 0;
    if (slot.state !== 'closed') {
      this.log.info('engine recovered; circuit closed', { engine: slot.engine.id });
      slot.state = 'closed';
      slot.cooldownMs = this.policy.breakerCooldownMs;
    }
  }

  private onFailure(slot: Slot, e: EngineError): void {
    slot.errors++;
    const now = Date.now();
    if (e.kind === 'auth' && slot.state !== 'refused') {
      slot.state = 'refused';
      this.log.warn('engine refuses the credentials; it is left out of the pool', { engine: slot.engine.id, error: e.message });
      if (this.waiters.length) this.dispatch();
      return;
    }
    if (!UNHEALTHY.has(e.kind)) {
      // The engine answered (a 4xx or 429): it is alive.
      if (e.kind !== 'rate_limited') slot.consecutiveFailures = 0;
      return;
    }
    slot.consecutiveFailures++;
    if (slot.state === 'half_open' || (slot.state === 'closed' && slot.consecutiveFailures >= this.policy.breakerFailures)) {
      if (slot.state === 'half_open') slot.cooldownMs = Math.min(slot.cooldownMs * 2, this.policy.breakerCooldownMs * 8);
      slot.state = 'open';
      slot.openUntil = now + slot.cooldownMs;
      this.log.warn('engine failing; circuit open', {
        engine: slot.engine.id,
        failures: slot.consecutiveFailures,
        retry_in_s: slot.cooldownMs / 1000,
        error: e.message,
      });
      if (this.waiters.length) this.dispatch();
    }
  }

  /** A slot on the usable engine with the fewest outstanding requests, waiting for one if none is free. */
  private acquire(signal?: AbortSignal): Promise<Slot> {
    if (this.closed) return Promise.reject(new EngineError('engine pool is closed', 'aborted'));
    if (signal?.aborted) return Promise.reject(signal.reason);
    const slot = this.waiters.length === 0 ? this.pick() : undefined;
    if (slot) return Promise.resolve(slot);
    if (this.allRefused()) return Promise.reject(this.allRefusedError());
    if (this.allOpen()) return Promise.reject(this.allOpenError());
    return new Promise<Slot>((resolve, reject) => {
      const w: Waiter = { resolve, reject };
      w.off = onAbort(signal, () => {
        const i = this.waiters.indexOf(w);
        if (i >= 0) this.waiters.splice(i, 1);
        reject(signal!.reason);
      });
      this.waiters.push(w);
      this.dispatch();
    });
  }

  private pick(): Slot | undefined {
    const now = Date.now();
    let best: Slot | undefined;
    for (const s of this.slots) {
      if (!s.usable(now)) continue;
      if (!best || s.outstanding < best.outstanding) best = s;
    }
    if (!best) return undefined;
    if (best.state === 'open') {
      best.state = 'half_open';
      this.log.info('probing engine', { engine: best.engine.id });
    }
    best.outstanding++;
    return best;
  }

  private release(slot: Slot): void {
    slot.outstanding--;
    if (this.waiters.length) this.dispatch();
  }

  /** Hand free slots to waiters in arrival order; if none is free, wake up when one may be. */
  private dispatch(): void {
    while (this.waiters.length) {
      const slot = this.pick();
      if (!slot) break;
      const w = this.waiters.shift()!;
      w.off?.();
      w.resolve(slot);
    }
    if (!this.waiters.length || this.allHealthy()) return; // the next answer calls this again
    if (this.allRefused() || this.allOpen()) {
      // Nothing to wait for: fail fast so requests back off and, if the outage lasts, fail for good.
      const err = this.allRefused() ? this.allRefusedError() : this.allOpenError();
      for (const w of this.waiters.splice(0)) {
        w.off?.();
        w.reject(err);
      }
      return;
    }
    if (this.wakeTimer) return;
    // Engines cooling down after their circuit opened will take a probe later: set a timer.
    const now = Date.now();
    const soonest = Math.min(...this.slots.map((s) => s.readyAt()).filter((t) => t > now));
    if (Number.isFinite(soonest)) {
      this.wakeTimer = setTimeout(() => {
        this.wakeTimer = undefined;
        this.dispatch();
      }, soonest - now + 1);
    }
  }

  /** Since when every engine's circuit has been open (0: not now). */
  private outageSince = 0;

  /** Every circuit (of engines that take our credentials) has been open for longer than the policy lets requests wait. */
  private allOpen(): boolean {
    const now = Date.now();
    const live = this.slots.filter((s) => s.state !== 'refused');
    if (!live.every((s) => s.state !== 'closed')) {
      this.outageSince = 0;
      return false;
    }
    if (this.outageSince === 0) this.outageSince = now;
    return now - this.outageSince >= this.policy.maxOutageMs && live.every((s) => s.state === 'open' && s.openUntil > now);
  }

  /**
   * Every circuit closed: no outage to time and no engine to wake later. This runs each time an
   * answer frees a slot while requests wait, so it allocates nothing.
   */
  private allHealthy(): boolean {
    for (const s of this.slots) if (s.state !== 'closed') return false;
    this.outageSince = 0;
    return true;
  }

  /** Every engine refuses our credentials: nothing will ever answer. */
  private allRefused(): boolean {
    return this.slots.every((s) => s.state === 'refused');
  }

  private allRefusedError(): EngineError {
    return new EngineError(`every engine refuses the credentials: ${this.slots.map((s) => s.engine.id).join(', ')}`, 'auth');
  }

  private allOpenError(): EngineError {
    const secs = Math.round((Date.now() - this.outageSince) / 1000);
    return new EngineError(`no engine available: every circuit has been open for ${secs} s`, 'connection');
  }

  metrics(): EngineMetrics[] {
    return this.slots.map((s) => ({
      id: s.engine.id,
      concurrency: s.engine.concurrency,
      state: s.state,
      outstanding: s.outstanding,
      requests: s.requests,
      ok: s.ok,
      errors: s.errors,
      completion_tokens: s.completionTokens,
      ...(s.engine.rateWaitMs !== undefined ? { rate_wait_s: Math.round(s.engine.rateWaitMs / 100) / 10 } : {}),
      ...(s.engine.calibration ? { calibration: { threads: s.engine.calibration.threads, sequences: s.engine.calibration.sequences, contexts: s.engine.calibration.contexts, figures: s.engine.calibration.figures } } : {}),
    }));
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.wakeTimer) clearTimeout(this.wakeTimer);
    for (const w of this.waiters.splice(0)) {
      w.off?.();
      w.reject(new EngineError('engine pool is closed', 'aborted'));
    }
    await Promise.all(this.slots.map((s) => s.engine.close()));
  }
}

function definedOnly(opts: Partial<PoolPolicy>): Partial<PoolPolicy> {
  const out: Partial<PoolPolicy> = {};
  for (const k of Object.keys(DEFAULT_POLICY) as (keyof PoolPolicy)[]) if (opts[k] !== undefined) out[k] = opts[k];
  return out;
}

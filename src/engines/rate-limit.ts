/**
 * Keeping under an endpoint's quota before it says 429: requests and tokens per minute as token
 * buckets, and the `x-ratelimit-*` headers a server sends.
 *
 * A bucket refills continuously at its rate, as hosted APIs replenish theirs, and holds half a
 * second's worth, so a run starts without a burst that a server's own bucket would refuse (requests
 * admitted together may reach the server later and closer together than they were admitted). A
 * request may start while the bucket is above zero and takes its cost, which may overdraw it: one
 * request larger than a second's worth of tokens still goes, and the debt is paid before the next.
 * A request's token cost is its prompt (four characters a token: no tokenizer is at hand for a
 * remote model) plus `max_tokens`, the most it can use; the answer's usage then gives back what it
 * did not use. So the long-run rate never exceeds the budget.
 */
import { sleep } from '../util/sleep.js';
import type { CompletionRequest } from './types.js';

export interface RateLimit {
  requests_per_minute?: number;
  tokens_per_minute?: number;
}

/** What a server's `x-ratelimit-*` headers said about the budget left. */
export interface RateHeaders {
  /** Requests per minute the server allows. */
  limitRequests?: number;
  remainingRequests?: number;
  remainingTokens?: number;
  /** Milliseconds until the request or token budget is full again. */
  resetRequestsMs?: number;
  resetTokensMs?: number;
}

class Bucket {
  private level: number;
  private at: number;
  private readonly perMs: number;
  private readonly capacity: number;

  constructor(perMinute: number, now: number) {
    this.perMs = perMinute / 60_000;
    this.capacity = Math.max(1, perMinute / 120);
    this.level = this.capacity;
    this.at = now;
  }

  private refill(now: number): void {
    this.level = Math.min(this.capacity, this.level + (now - this.at) * this.perMs);
    this.at = now;
  }

  /** Milliseconds until the bucket is above zero (0: now). */
  wait(now: number): number {
    this.refill(now);
    return this.level > 0 ? 0 : Math.ceil((-this.level + 1e-9) / this.perMs);
  }

  take(n: number, now: number): void {
    this.refill(now);
    this.level -= n;
  }

  give(n: number, now: number): void {
    this.refill(now);
    this.level = Math.min(this.capacity, this.level + n);
  }
}

/** Estimated tokens of a request before it is sent: its messages at four characters a token, and max_tokens. */
export function tokenCost(req: CompletionRequest): number {
  let chars = 0;
  for (const m of req.messages) chars += m.content.length;
  return Math.ceil(chars / 4) + req.params.max_tokens;
}

const RATE_HEADERS = ['x-ratelimit-limit-requests', 'x-ratelimit-remaining-requests', 'x-ratelimit-remaining-tokens', 'x-ratelimit-reset-requests', 'x-ratelimit-reset-tokens'];

function hasAny(headers: Record<string, string>, names: readonly string[]): boolean {
  for (const k of names) if (headers[k] !== undefined) return true;
  return false;
}

/** Parses `x-ratelimit-*` headers (OpenAI's names; vLLM and others behind gateways send the same). */
export function rateHeaders(headers: Record<string, string>): RateHeaders | undefined {
  // Most servers send none: answer that without building anything (this runs for every answer).
  if (!hasAny(headers, RATE_HEADERS)) return undefined;
  const num = (k: string) => {
    const v = headers[k];
    return v === undefined || v === '' || Number.isNaN(Number(v)) ? undefined : Number(v);
  };
  const out: RateHeaders = {
    limitRequests: num('x-ratelimit-limit-requests'),
    remainingRequests: num('x-ratelimit-remaining-requests'),
    remainingTokens: num('x-ratelimit-remaining-tokens'),
    resetRequestsMs: duration(headers['x-ratelimit-reset-requests']),
    resetTokensMs: duration(headers['x-ratelimit-reset-tokens']),
  };
  return Object.values(out).some((v) => v !== undefined) ? out : undefined;
}

/** `6m0s`, `1.5s`, `20ms` or plain seconds, in milliseconds. */
export function duration(v: string | undefined): number | undefined {
  if (!v) return undefined;
  if (/^\s*\d+(\.\d+)?\s*$/.test(v)) return Number(v) * 1000;
  let ms = 0;
  let matched = '';
  for (const m of v.matchAll(/(\d+(?:\.\d+)?)(ms|h|m|s)/g)) {
    ms += Number(m[1]) * { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[m[2] as 'ms' | 's' | 'm' | 'h'];
    matched += m[0];
  }
  return matched === v.trim() ? ms : undefined;
}

export class RateLimiter {
  private readonly requests?: Bucket;
  private readonly tokens?: Bucket;
  /** No request before this time (ms epoch): a server said its budget is spent. */
  private pausedUntil = 0;
  /** Milliseconds requests have waited for the budget, summed. */
  waitedMs = 0;

  constructor(
    readonly limit: RateLimit,
    private readonly now: () => number = Date.now,
  ) {
    if (limit.requests_per_minute) this.requests = new Bucket(limit.requests_per_minute, now());
    if (limit.tokens_per_minute) this.tokens = new Bucket(limit.tokens_per_minute, now());
  }

  /** Milliseconds before a request may start (0: now). */
  private wait(): number {
    const t = this.now();
    return Math.max(this.pausedUntil - t, this.requests?.wait(t) ?? 0, this.tokens?.wait(t) ?? 0, 0);
  }

  /**
   * Takes `cost` now when nobody is waiting and the budget is open (always, without a limit or
   * headers): no queue, no timer, no promise. False: the request must wait its turn (`admit`).
   */
  tryAdmit(cost: number): boolean {
    if (this.waiting !== 0 || this.wait() !== 0) return false;
    this.take(cost);
    return true;
  }

  /**
   * Waits until the budget allows one more request of `cost` tokens, then takes it. Requests are
   * admitted in the order they ask, so none waits forever behind later ones.
   */
  admit(cost: number, signal?: AbortSignal): Promise<void> {
    if (this.tryAdmit(cost)) return Promise.resolve();
    this.waiting++;
    const turn = this.queue.then(async () => {
      const started = this.now();
      // Asleep until the budget allows, or until an answer gives tokens back.
      for (let ms = this.wait(); ms > 0; ms = this.wait()) await new Promise<void>((resolve, reject) => {
        this.wakeUp = resolve;
        sleep(ms, signal).then(resolve, reject);
      });
      this.wakeUp = undefined;
      this.waitedMs += this.now() - started;
      this.take(cost);
    });
    // The next request waits for this one's turn, not for its failure.
    this.queue = turn.catch(() => {}).finally(() => this.waiting--);
    return turn;
  }
  private queue: Promise<void> = Promise.resolve();
  private waiting = 0;
  private wakeUp: (() => void) | undefined;

  private take(cost: number): void {
    const t = this.now();
    this.requests?.take(1, t);
    this.tokens?.take(cost, t);
  }

  /** After an answer: gives back the tokens it did not use, and heeds the server's headers. */
  settle(cost: number, used: number | undefined, headers?: RateHeaders): void {
    const t = this.now();
    if (used !== undefined && used < cost && this.tokens) {
      this.tokens.give(cost - used, t);
      this.wakeUp?.();
    }
    if (!headers) return;
    // Spent: wait until one more request is allowed (a minute over the limit), or the budget is full again.
    if (headers.remainingRequests !== undefined && headers.remainingRequests <= 0 && headers.resetRequestsMs !== undefined)
      this.pausedUntil = Math.max(this.pausedUntil, t + Math.min(headers.resetRequestsMs, headers.limitRequests ? 60_000 / headers.limitRequests : Infinity));
    if (headers.remainingTokens !== undefined && headers.remainingTokens <= 0 && headers.resetTokensMs !== undefined)
      this.pausedUntil = Math.max(this.pausedUntil, t + headers.resetTokensMs);
  }
}

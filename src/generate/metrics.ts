import type { EngineMetrics, EnginePool } from '../engines/pool.js';
import { formatUsd } from '../engines/prices.js';
import type { Logger } from '../util/log.js';
import { statusBar } from '../util/status-line.js';

export interface TimelinePoint {
  t_s: number;
  done: number;
  samples: number;
  failed: number;
  completion_tokens: number;
  /** Rates over the interval since the previous point. */
  requests_per_s: number;
  tokens_per_s: number;
}

export interface GenerateMetrics {
  stage: string;
  rank: number;
  world_size: number;
  /** `running` while the task works (the file is rewritten now and then), then how it ended. */
  status: 'running' | 'complete' | 'interrupted' | 'failed';
  started_at: string;
  finished_at: string;
  duration_s: number;
  totals: {
    prompts: number;
    resumed: number;
    done: number;
    samples: number;
    failed: number;
    cached: number;
    prompt_tokens: number;
    completion_tokens: number;
    attempts: number;
    retries: number;
  };
  /** Over this run's requests (resumed ones excluded). */
  throughput: { requests_per_s: number; tokens_per_s: number };
  timeline: TimelinePoint[];
  latency_ms: { count: number; mean: number; p50: number; p90: number; p95: number; p99: number; max: number };
  /** Failed attempts by kind, whether retried or not. */
  errors_by_kind: Record<string, number>;
  /** Prompts that failed for good, by kind. */
  failed_by_kind: Record<string, number>;
  /** With generate.json_schema: answers that were not JSON valid for it, by kind, whether asked for again or not. */
  invalid_answers_by_kind?: Record<string, number>;
  finish_reasons: Record<string, number>;
  engines: EngineMetrics[];
  /**
   * Dollars, when an engine has a price: spent by this task (answers in the ledger from earlier runs
   * included; answers from the request cache are free), and the projection for all its prompts at
   * this run's cost per answer.
   */
  cost?: { usd: number; earlier_usd: number; projected_usd: number };
}

type MetricsBase = { stage: string; rank: number; world_size: number; status: GenerateMetrics['status'] };
type PoolSnapshot = { errorsByKind: Record<string, number>; attempts: number; retries: number; engines: EngineMetrics[] };

const percentile = (sorted: number[], p: number) => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]! : 0);
const round = (x: number, d = 1) => Math.round(x * 10 ** d) / 10 ** d;

export function formatEta(seconds: number): string {
  if (!Number.isFinite(seconds)) return '?';
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

/** What one generate task has done, for its progress display and its metrics file. */
export class GenerateTracker {
  readonly started = Date.now();
  total = 0;
  resumed = 0;
  samples = 0;
  failed = 0;
  cached = 0;
  promptTokens = 0;
  completionTokens = 0;
  private readonly latencies: number[] = [];
  readonly failedByKind: Record<string, number> = {};
  /** Answers that were not JSON valid for generate.json_schema, by kind (`not_json`, `schema`), retried or not. */
  readonly invalidByKind: Record<string, number> = {};
  /** Dollars this run's answers cost, and those earlier runs left in the ledger; `priced` when an engine has a price. */
  costUsd = 0;
  earlierCostUsd = 0;
  priced = false;
  readonly finishReasons: Record<string, number> = {};
  readonly timeline: TimelinePoint[] = [];
  private last = { t: this.started, done: 0, tokens: 0 };
  private timer: NodeJS.Timeout | undefined;

  /** Prompts finished in this run (samples and failures). */
  get generated(): number {
    return this.samples + this.failed;
  }

  get done(): number {
    return this.resumed + this.generated;
  }

  recordSample(s: { latency_ms: number; finish_reason: string; usage: { prompt_tokens: number; completion_tokens: number } }, cached: boolean, costUsd = 0): void {
    this.samples++;
    this.costUsd += costUsd;
    if (cached) this.cached++;
    else this.latencies.push(s.latency_ms);
    this.promptTokens += s.usage.prompt_tokens;
    this.completionTokens += s.usage.completion_tokens;
    this.finishReasons[s.finish_reason] = (this.finishReasons[s.finish_reason] ?? 0) + 1;
  }

  /** An answer that was not JSON valid for the schema (asked for again, or the prompt failed); it cost what it cost. */
  recordInvalid(kind: string, costUsd: number): void {
    this.invalidByKind[kind] = (this.invalidByKind[kind] ?? 0) + 1;
    this.costUsd += costUsd;
  }

  recordFailure(kind: string): void {
    this.failed++;
    this.failedByKind[kind] = (this.failedByKind[kind] ?? 0) + 1;
  }

  /** Dollars spent so far (earlier runs included), and for all prompts at this run's cost per prompt finished. */
  cost(): { usd: number; earlier_usd: number; projected_usd: number } {
    const usd = this.earlierCostUsd + this.costUsd;
    const perPrompt = this.generated ? this.costUsd / this.generated : 0;
    return { usd: round(usd, 4), earlier_usd: round(this.earlierCostUsd, 4), projected_usd: round(usd + perPrompt * (this.total - this.done), 4) };
  }

  /** Requests/s and tokens/s since this run started. */
  rates(): { rps: number; tps: number; eta_s: number } {
    const secs = Math.max(1e-3, (Date.now() - this.started) / 1000);
    const rps = this.generated / secs;
    return { rps, tps: this.completionTokens / secs, eta_s: rps > 0 ? (this.total - this.done) / rps : Infinity };
  }

  /** Sample the timeline every `everyMs`; `onPoint` runs after each sample (e.g. to save a snapshot). */
  startTimeline(everyMs = 5000, onPoint?: (n: number) => void): void {
    this.timer = setInterval(() => {
      this.point();
      onPoint?.(this.timeline.length);
    }, everyMs);
    this.timer.unref();
  }

  point(): void {
    const now = Date.now();
    const dt = Math.max(1e-3, (now - this.last.t) / 1000);
    this.timeline.push({
      t_s: round((now - this.started) / 1000),
      done: this.done,
      samples: this.samples,
      failed: this.failed,
      completion_tokens: this.completionTokens,
      requests_per_s: round((this.generated - this.last.done) / dt),
      tokens_per_s: round((this.completionTokens - this.last.tokens) / dt),
    });
    this.last = { t: now, done: this.generated, tokens: this.completionTokens };
  }

  /** Stop the timeline, take a last point, and return the metrics. */
  finish(base: MetricsBase, pool: PoolSnapshot): GenerateMetrics {
    if (this.timer) clearInterval(this.timer);
    this.point();
    return this.snapshot(base, pool);
  }

  /** The metrics so far. */
  snapshot(base: MetricsBase, pool: PoolSnapshot): GenerateMetrics {
    const sorted = [...this.latencies].sort((a, b) => a - b);
    const secs = Math.max(1e-3, (Date.now() - this.started) / 1000);
    return {
      ...base,
      started_at: new Date(this.started).toISOString(),
      finished_at: new Date().toISOString(),
      duration_s: round(secs, 3),
      totals: {
        prompts: this.total,
        resumed: this.resumed,
        done: this.done,
        samples: this.samples,
        failed: this.failed,
        cached: this.cached,
        prompt_tokens: this.promptTokens,
        completion_tokens: this.completionTokens,
        attempts: pool.attempts,
        retries: pool.retries,
      },
      throughput: { requests_per_s: round(this.generated / secs), tokens_per_s: round(this.completionTokens / secs) },
      timeline: this.timeline,
      latency_ms: {
        count: sorted.length,
        mean: round(sorted.reduce((a, b) => a + b, 0) / Math.max(1, sorted.length)),
        p50: percentile(sorted, 0.5),
        p90: percentile(sorted, 0.9),
        p95: percentile(sorted, 0.95),
        p99: percentile(sorted, 0.99),
        max: sorted.at(-1) ?? 0,
      },
      errors_by_kind: { ...pool.errorsByKind },
      failed_by_kind: { ...this.failedByKind },
      ...(Object.keys(this.invalidByKind).length ? { invalid_answers_by_kind: { ...this.invalidByKind } } : {}),
      finish_reasons: { ...this.finishReasons },
      engines: pool.engines,
      ...(this.priced ? { cost: this.cost() } : {}),
    };
  }
}

/** The pool's side of the progress line: failed attempts so far (retried or not), and seconds requests waited for rate budgets. */
export interface PoolProgress {
  errors: number;
  rate_wait_s: number;
}

/** Failed attempts and rate-limit waits of a pool, for the progress line. */
export const poolProgress = (pool: Pick<EnginePool, 'errorsByKind' | 'metrics'>): PoolProgress => ({
  errors: Object.values(pool.errorsByKind).reduce((a, b) => a + b, 0),
  rate_wait_s: Math.round(pool.metrics().reduce((a, m) => a + (m.rate_wait_s ?? 0), 0)),
});

/** Live progress: a bar on a TTY (`bar`), a log line every `everyMs` otherwise (`lines`), or nothing. */
export function startProgress(
  mode: 'bar' | 'lines' | 'none' | undefined,
  t: GenerateTracker,
  status: () => PoolProgress,
  log: Logger,
  everyMs = 10_000,
  stream: NodeJS.WritableStream = process.stderr,
): { stop(): void } {
  if (mode === 'bar') {
    const bar = statusBar({
      format: 'generate |{bar}| {value}/{total} | {rps} req/s | {tps} tok/s | {errors} errors, {failed} failed{throttled}{cost} | ETA {remaining}',
      hideCursor: true,
      stream,
      fps: 5,
    });
    const payload = () => {
      const r = t.rates();
      const p = status();
      // Time spent waiting for requests/tokens per minute: shown once there is any, as the reason for a slower rate.
      const throttled = p.rate_wait_s > 0 ? ` | ${formatEta(p.rate_wait_s)} waited for rate limits` : '';
      const c = t.cost();
      const cost = t.priced ? ` | ${formatUsd(c.usd)} of ~${formatUsd(c.projected_usd)}` : '';
      return { rps: r.rps.toFixed(1), tps: r.tps.toFixed(0), errors: p.errors, failed: t.failed, throttled, cost, remaining: formatEta(r.eta_s) };
    };
    bar.start(t.total, t.done, payload());
    const timer = setInterval(() => bar.update(t.done, payload()), 250);
    timer.unref();
    return {
      stop() {
        clearInterval(timer);
        bar.update(t.done, payload());
        bar.stop();
      },
    };
  }
  if (mode === 'lines') {
    const line = () => {
      const r = t.rates();
      const p = status();
      log.info('progress', {
        done: `${t.done}/${t.total}`,
        req_s: round(r.rps),
        tok_s: round(r.tps),
        errors: p.errors,
        failed: t.failed,
        ...(p.rate_wait_s > 0 ? { rate_wait_s: p.rate_wait_s } : {}),
        ...(t.priced ? { cost_usd: t.cost().usd, projected_usd: t.cost().projected_usd } : {}),
        eta: formatEta(r.eta_s),
      });
    };
    const timer = setInterval(line, everyMs);
    timer.unref();
    return {
      stop() {
        clearInterval(timer);
        line();
      },
    };
  }
  return { stop() {} };
}

import type cliProgress from 'cli-progress';
import type { Logger } from './log.js';
import { statusBar } from './status-line.js';

/** What work reports its progress to: bytes done (and things counted), and more bytes to do than first said. */
export interface ProgressSink {
  add(bytes: number, count?: number): void;
  more(bytes: number): void;
}

/** For work that shows no progress. */
export const NO_PROGRESS: ProgressSink = { add() {}, more() {} };

/**
 * Progress of long work measured in bytes (a model download, a Hub upload, a task reading its
 * input shards), and optionally in things counted beside them (records): a cli-progress bar (MB,
 * MB/s, ETA) on a TTY, a log line every `everyMs` (10 s) otherwise, or nothing.
 */
export class ByteProgress implements ProgressSink {
  private bar: cliProgress.SingleBar | undefined;
  /** The first update: what comes before it (an index read, a connection made) is not this work's rate, and no bar stands through it. */
  private started = 0;
  private lastLog = 0;
  private lastDrawn = 0;
  private readonly mode: 'bar' | 'lines' | 'none';
  private readonly everyMs: number;
  private bytes = 0;
  private count = 0;

  constructor(
    /** Shown on the bar and in each log line, e.g. the model or the repo. */
    private readonly label: string,
    private total: number | undefined,
    private readonly opts: {
      mode?: 'bar' | 'lines' | 'none';
      log: Logger;
      doing: string;
      field: string;
      /** What `update`'s count counts (e.g. "records"): shown with its rate, and a last line at `stop`. */
      counting?: string;
      everyMs?: number;
    },
  ) {
    this.mode = opts.mode ?? (process.stderr.isTTY ? 'bar' : 'lines');
    this.everyMs = opts.everyMs ?? 10_000;
  }

  /** Bytes done so far, and (with `counting`) how many things. */
  update(bytes: number, count = this.count): void {
    this.bytes = bytes;
    this.count = count;
    const now = Date.now();
    if (!this.started) this.started = this.lastLog = now;
    if (this.mode === 'bar' && process.stderr.isTTY) {
      // Counted work reports every record: the bar is drawn at most ten times a second.
      if (now - this.lastDrawn >= 100) this.draw(now);
    } else if (this.mode === 'lines' && now - this.lastLog >= this.everyMs) {
      this.lastLog = now;
      this.line(now);
    }
  }

  /** There are `bytes` more to do than the total said (a second pass over the same files). */
  more(bytes: number): void {
    this.total = (this.total ?? 0) + bytes;
    this.bar?.setTotal(this.total);
  }

  /** Add to the bytes and the count done so far. */
  add(bytes: number, count = 0): void {
    this.update(this.bytes + bytes, this.count + count);
  }

  private seconds(now: number): number {
    return Math.max((now - (this.started || now)) / 1000, 1e-3);
  }

  private draw(now: number): void {
    this.lastDrawn = now;
    const secs = this.seconds(now);
    const payload = {
      mb: (this.bytes / 1e6).toFixed(1),
      totalMb: this.total ? (this.total / 1e6).toFixed(1) : '?',
      speed: (this.bytes / 1e6 / secs).toFixed(1),
      count: this.count,
      perSecond: Math.round(this.count / secs),
    };
    if (this.bar) return this.bar.update(this.bytes, payload);
    const counted = this.opts.counting ? ` {count} ${this.opts.counting} {perSecond}/s` : '';
    this.bar = statusBar({ format: `${this.label} [{bar}] {percentage}%${counted} {mb}/{totalMb} MB {speed} MB/s ETA {eta_formatted}`, stream: process.stderr, hideCursor: true });
    this.bar.start(this.total ?? 0, this.bytes, payload);
  }

  private line(now: number): void {
    const secs = this.seconds(now);
    const rate = this.bytes / secs;
    const { counting } = this.opts;
    this.opts.log.info(this.opts.doing, {
      [this.opts.field]: this.label,
      ...(counting ? { [counting]: this.count, per_s: Math.round(this.count / secs) } : {}),
      mb: +(this.bytes / 1e6).toFixed(1),
      of_mb: this.total ? +(this.total / 1e6).toFixed(1) : undefined,
      mb_per_s: +(rate / 1e6).toFixed(2),
      eta_s: this.total && rate > 0 ? Math.max(0, Math.round((this.total - this.bytes) / rate)) : undefined,
    });
  }

  stop(): void {
    if (this.bar) {
      this.draw(Date.now());
      this.bar.stop();
    }
    // Counted work ends with its totals and rates, however short it was (a task that failed before
    // reading anything has nothing to say).
    else if (this.mode === 'lines' && this.opts.counting && (this.bytes > 0 || this.count > 0)) this.line(Date.now());
  }
}

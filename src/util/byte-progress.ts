import cliProgress from 'cli-progress';
import type { Logger } from './log.js';

/**
 * Progress of a long transfer in bytes (a model download, a Hub upload): a cli-progress bar (MB,
 * MB/s, ETA) on a TTY, a log line every 10 s otherwise, or nothing.
 */
export class ByteProgress {
  private bar: cliProgress.SingleBar | undefined;
  private readonly started = Date.now();
  private lastLog = Date.now();
  private readonly mode: 'bar' | 'lines' | 'none';

  constructor(
    /** Shown on the bar and in each log line, e.g. the model or the repo. */
    private readonly label: string,
    private readonly total: number | undefined,
    private readonly opts: { mode?: 'bar' | 'lines' | 'none'; log: Logger; doing: string; field: string },
  ) {
    this.mode = opts.mode ?? (process.stderr.isTTY ? 'bar' : 'lines');
    if (this.mode === 'bar' && process.stderr.isTTY) {
      this.bar = new cliProgress.SingleBar(
        { format: `${label} [{bar}] {percentage}% {mb}/{totalMb} MB {speed} MB/s ETA {eta_formatted}`, stream: process.stderr, hideCursor: true },
        cliProgress.Presets.shades_classic,
      );
      this.bar.start(total ?? 0, 0, { mb: '0.0', totalMb: total ? (total / 1e6).toFixed(1) : '?', speed: '0.0' });
    }
  }

  update(bytes: number): void {
    const secs = Math.max((Date.now() - this.started) / 1000, 1e-3);
    if (this.bar) {
      this.bar.update(bytes, { mb: (bytes / 1e6).toFixed(1), speed: (bytes / 1e6 / secs).toFixed(1) });
    } else if (this.mode === 'lines' && Date.now() - this.lastLog >= 10_000) {
      this.lastLog = Date.now();
      const rate = bytes / secs;
      this.opts.log.info(this.opts.doing, {
        [this.opts.field]: this.label,
        mb: +(bytes / 1e6).toFixed(1),
        of_mb: this.total ? +(this.total / 1e6).toFixed(1) : undefined,
        mb_per_s: +(rate / 1e6).toFixed(2),
        eta_s: this.total ? Math.round((this.total - bytes) / rate) : undefined,
      });
    }
  }

  stop(): void {
    this.bar?.stop();
  }
}

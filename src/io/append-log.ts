import { closeSync, existsSync, fsyncSync, ftruncateSync, mkdirSync, openSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import { InputError } from '../util/errors.js';
import { forEachLineSync } from './lines.js';

let scratch = Buffer.allocUnsafeSlow(1 << 16);

/**
 * Records as JSON lines in a buffer reused from call to call (valid until the next call). Each
 * line is encoded on its own: one fresh Buffer per batch, or one string of the whole batch, costs
 * more in page faults than the encoding itself (a 3 KB line: 4.7 us against 0.13 us), and the
 * generate ledger and request cache write one or two such lines per request.
 */
function encodeLines(records: readonly unknown[]): Buffer {
  let at = 0;
  for (const r of records) {
    const line = JSON.stringify(r);
    const room = line.length * 3 + 1; // UTF-8 takes at most 3 bytes per UTF-16 unit
    if (at + room > scratch.length) {
      const grown = Buffer.allocUnsafeSlow(Math.max(at + room, scratch.length * 2));
      scratch.copy(grown, 0, 0, at);
      scratch = grown;
    }
    at += scratch.write(line, at, 'utf8');
    scratch[at++] = 0x0a;
  }
  return scratch.subarray(0, at);
}

/**
 * Records that callers gather for one `appendMany` should not wait for more than this many others.
 * In a busy event loop one turn may read hundreds of answers; each record kept until the turn ends
 * outlives a young-generation collection or two and is copied into the old generation, which costs
 * more than the write its wait would save.
 */
export const BATCH_RECORDS = 32;

/**
 * An append-only JSONL file that survives SIGKILL: each record is handed to the OS in one write
 * before `append` returns, so a killed process loses nothing it appended. A line torn by a crash
 * mid-write is cut off when the log is reopened.
 */
export class AppendLog<T = unknown> {
  private fd: number;
  private lastSync = Date.now();

  private constructor(
    readonly path: string,
    fd: number,
    private readonly syncEveryMs: number,
  ) {
    this.fd = fd;
  }

  /**
   * Open (or create) the log and return it with the records already in it, or hand each of them to
   * `onRecord` instead of keeping them (a log may be larger than memory should hold). `syncEveryMs`
   * (default 1 s) spaces the fsyncs that guard against a machine crash; Infinity never syncs, not
   * even on close, for a log whose records are only worth having (a cache).
   */
  static open<T>(path: string, opts: { syncEveryMs?: number; onRecord?: (record: T) => void } = {}): { log: AppendLog<T>; existing: T[] } {
    mkdirSync(dirname(path), { recursive: true });
    const existing: T[] = [];
    const record = opts.onRecord ?? ((r: T) => existing.push(r));
    let validBytes = 0;
    if (existsSync(path)) {
      let lineNo = 0;
      // Bytes after the last line break are a torn write.
      validBytes = forEachLineSync(path, (line) => {
        lineNo++;
        if (line.length === 0) return;
        try {
          record(JSON.parse(line.toString('utf8')) as T);
        } catch {
          throw new InputError(path, lineNo, 'corrupt checkpoint line (not JSON); move the file aside to start this task over');
        }
      });
    }
    const fd = openSync(path, existsSync(path) ? 'r+' : 'w+');
    ftruncateSync(fd, validBytes);
    const log = new AppendLog<T>(path, fd, opts.syncEveryMs ?? 1000);
    log.position = validBytes;
    return { log, existing };
  }

  private position = 0;

  append(record: T): void {
    this.appendMany([record]);
  }

  appendMany(records: readonly T[]): void {
    if (records.length === 0) return;
    const buf = encodeLines(records);
    let off = 0;
    while (off < buf.length) off += writeSync(this.fd, buf, off, buf.length - off, this.position + off);
    this.position += buf.length;
    // Process crashes need only the write above; fsync now and then guards against machine crashes.
    if (Date.now() - this.lastSync >= this.syncEveryMs) this.sync();
  }

  sync(): void {
    fsyncSync(this.fd);
    this.lastSync = Date.now();
  }

  close(): void {
    if (this.fd < 0) return;
    if (this.syncEveryMs !== Infinity) this.sync();
    closeSync(this.fd);
    this.fd = -1;
  }
}

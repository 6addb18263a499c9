import { closeSync, existsSync, fsyncSync, ftruncateSync, mkdirSync, openSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import { InputError } from '../util/errors.js';
import { forEachLineSync } from './lines.js';

let scratch = Buffer.allocUnsafeSlow(1 << 16);

/**
 * The buffer that records are encoded into before their write, reused from call to call, with room
 * for `need` bytes after the first `at` (which it keeps). A fresh Buffer per batch, or one string of
 * the whole batch, costs more in page faults than the encoding itself (a 3 KB line: 4.7 us against
 * 0.13 us), and the generate ledger and request cache write a record or two per request.
 */
export function encodeBuffer(at: number, need: number): Buffer {
  if (at + need > scratch.length) {
    const grown = Buffer.allocUnsafeSlow(Math.max(at + need, scratch.length * 2));
    scratch.copy(grown, 0, 0, at);
    scratch = grown;
  }
  return scratch;
}

/** Records as JSON lines, each encoded on its own into the encode buffer (valid until the next call). */
function encodeLines(records: readonly unknown[]): Buffer {
  let at = 0;
  let buf: Buffer = scratch;
  for (const r of records) {
    const line = JSON.stringify(r);
    buf = encodeBuffer(at, line.length * 3 + 1); // UTF-8 takes at most 3 bytes per UTF-16 unit
    at += buf.write(line, at, 'utf8');
    buf[at++] = 0x0a;
  }
  return buf.subarray(0, at);
}

/**
 * Records that callers gather for one `appendMany` should not wait for more than this many others.
 * In a busy event loop one turn may read hundreds of answers; each record kept until the turn ends
 * outlives a young-generation collection or two and is copied into the old generation, which costs
 * more than the write its wait would save.
 */
export const BATCH_RECORDS = 32;

/**
 * An append-only file of records, JSON lines (or a format of the caller's: openBytes), that survives
 * SIGKILL: each record is handed to the OS in one write before `append` returns, so a killed process
 * loses nothing it appended. A record torn by a crash mid-write is cut off when the log is reopened.
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
    return { log: AppendLog.at<T>(path, validBytes, opts.syncEveryMs), existing };
  }

  /**
   * A log whose records are in a format of the caller's, written with appendBytes: `validBytes`
   * reads the file (when there is one) and says how many of its first bytes hold whole records; the
   * rest, a write a crash tore, is cut.
   */
  static openBytes(path: string, validBytes: (path: string) => number, opts: { syncEveryMs?: number } = {}): AppendLog<never> {
    mkdirSync(dirname(path), { recursive: true });
    return AppendLog.at<never>(path, existsSync(path) ? validBytes(path) : 0, opts.syncEveryMs);
  }

  private static at<T>(path: string, validBytes: number, syncEveryMs = 1000): AppendLog<T> {
    const fd = openSync(path, existsSync(path) ? 'r+' : 'w+');
    ftruncateSync(fd, validBytes);
    const log = new AppendLog<T>(path, fd, syncEveryMs);
    log.position = validBytes;
    return log;
  }

  private position = 0;

  append(record: T): void {
    this.appendMany([record]);
  }

  appendMany(records: readonly T[]): void {
    if (records.length > 0) this.appendBytes(encodeLines(records));
  }

  /** Bytes the caller encoded, whole records only (see openBytes). */
  appendBytes(buf: Uint8Array): void {
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

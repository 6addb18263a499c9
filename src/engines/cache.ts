import { closeSync, fstatSync, mkdirSync, openSync, readSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { AppendLog, BATCH_RECORDS, encodeBuffer } from '../io/append-log.js';
import { forEachLineSync } from '../io/lines.js';
import type { CompletionCache, PooledCompletion } from './pool.js';

/** Where a corpus keeps its request cache. */
export const requestCacheDir = (workDir: string) => join(workDir, '.cosmo', 'request-cache');

/** What an entry keeps of an answer beside its text. */
type Meta = Omit<PooledCompletion, 'text' | 'cached'>;

interface Entry {
  key: string;
  value: PooledCompletion;
}

/** Where an entry lies; `json` for a line of the JSONL files earlier versions wrote. */
interface Place {
  fd: number;
  offset: number;
  length: number;
  json: boolean;
}

const KEY_LEN = 64;
/**
 * An entry: `<key> <meta bytes> <text bytes>\n<meta JSON>\n<text>\n`, the two lengths as 10 decimal
 * digits. The answer's text goes in as UTF-8, unescaped: JSON.stringify of a 2-3 KB answer cost more
 * than the rest of the cache together, and allocated ~6 KB a request, at thousands a second. (The
 * text came from UTF-8 or from a tokenizer's bytes, so it has no lone surrogate for UTF-8 to lose.)
 */
const HEAD = KEY_LEN + 1 + 10 + 1 + 10 + 1;
const FILE_EXT = '.cache';
/** Files of earlier versions, one JSON entry a line: still read, never written. */
const JSON_EXT = '.jsonl';
const JSON_PREFIX = '{"key":"';

/**
 * Answers already paid for, keyed by a hash of (model, sampling parameters, messages, schema).
 * Each writer (one task) appends to its own file in the cache folder, so tasks never write the same
 * file; every writer reads all files when it opens. Only an index (key -> where the entry lies) is
 * kept in memory: a hit reads its entry back from disk.
 */
export class RequestCache implements CompletionCache {
  private readonly index = new Map<string, Place>();
  private readonly fds: number[] = [];
  private log!: AppendLog<never>;
  private pending: Entry[] = [];
  private flushScheduled = false;
  hits = 0;
  private closed = false;

  private constructor() {}

  /** Open the cache folder `dir`, writing new answers to `<dir>/<name>.cache`. */
  static open(dir: string, name: string): RequestCache {
    mkdirSync(dir, { recursive: true });
    const cache = new RequestCache();
    const own = join(dir, name + FILE_EXT);
    // Our own file is opened first, and a torn entry at its end cut, before the scan below reads it.
    // No fsync: each write survives the process being killed, and what a crash of the machine loses
    // is only asked again (the ledger is what must hold); the fsyncs cost ~4 us a request at 4,000 a second.
    cache.log = AppendLog.openBytes(own, (path) => cache.scan(path), { syncEveryMs: Infinity });
    for (const f of readdirSync(dir).sort()) {
      if (f.endsWith(FILE_EXT) && join(dir, f) !== own) cache.scan(join(dir, f));
      else if (f.endsWith(JSON_EXT)) cache.scanJson(join(dir, f));
    }
    return cache;
  }

  private openForReading(file: string): number {
    const fd = openSync(file, 'r');
    this.fds.push(fd);
    return fd;
  }

  /** Index the entries of `file`; the bytes that hold whole entries. */
  private scan(file: string): number {
    const fd = this.openForReading(file);
    return scanEntries(file, (key, offset, length) => this.index.set(key, { fd, offset, length, json: false }));
  }

  private scanJson(file: string): void {
    const fd = this.openForReading(file);
    forEachLineSync(file, (line, offset) => {
      if (line.toString('latin1', 0, JSON_PREFIX.length) !== JSON_PREFIX) return;
      const key = line.toString('latin1', JSON_PREFIX.length, JSON_PREFIX.length + KEY_LEN);
      this.index.set(key, { fd, offset, length: line.length, json: true });
    });
  }

  get size(): number {
    return this.index.size;
  }

  get(key: string): PooledCompletion | undefined {
    const at = this.index.get(key);
    if (!at) return undefined;
    const buf = Buffer.alloc(at.length);
    readSync(at.fd, buf, 0, at.length, at.offset);
    // A damaged entry is only a miss: the request is made again.
    const value = at.json ? fromJsonLine(buf, key) : fromEntry(buf, key);
    if (value) this.hits++;
    return value;
  }

  /** Answers that arrive in the same tick are written together (up to BATCH_RECORDS at a time). */
  put(key: string, value: PooledCompletion): void {
    if (this.pending.push({ key, value }) >= BATCH_RECORDS) return this.flush();
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    setImmediate(() => this.flush());
  }

  flush(): void {
    this.flushScheduled = false;
    if (this.closed || this.pending.length === 0) return;
    const batch = this.pending;
    this.pending = [];
    this.log.appendBytes(encodeEntries(batch));
  }

  close(): void {
    this.flush();
    this.closed = true;
    this.log.close();
    for (const fd of this.fds.splice(0)) closeSync(fd);
  }
}

/** The entries in the encode buffer (valid until the next encoding). */
function encodeEntries(entries: readonly Entry[]): Buffer {
  let at = 0;
  let buf = encodeBuffer(0, 0);
  for (const { key, value: v } of entries) {
    const meta: Meta = { finish_reason: v.finish_reason, usage: v.usage, model: v.model, engine: v.engine, latency_ms: v.latency_ms, attempts: v.attempts };
    const metaJson = JSON.stringify(meta);
    buf = encodeBuffer(at, HEAD + (metaJson.length + v.text.length) * 3 + 2); // UTF-8: at most 3 bytes per UTF-16 unit
    const start = at;
    at += HEAD;
    const metaBytes = buf.write(metaJson, at, 'utf8');
    at += metaBytes;
    buf[at++] = 0x0a;
    const textBytes = buf.write(v.text, at, 'utf8');
    at += textBytes;
    buf[at++] = 0x0a;
    buf.write(`${key} ${digits(metaBytes)} ${digits(textBytes)}\n`, start, 'latin1');
  }
  return buf.subarray(0, at);
}

const digits = (n: number) => String(n).padStart(10, '0');

/** The lengths an entry's head gives, or undefined for bytes that are not an entry's head. */
function parseHead(buf: Buffer, at: number): { metaBytes: number; textBytes: number } | undefined {
  if (buf[at + KEY_LEN] !== 0x20 || buf[at + KEY_LEN + 11] !== 0x20 || buf[at + HEAD - 1] !== 0x0a) return undefined;
  const metaBytes = Number(buf.toString('latin1', at + KEY_LEN + 1, at + KEY_LEN + 11));
  const textBytes = Number(buf.toString('latin1', at + KEY_LEN + 12, at + HEAD - 1));
  return Number.isInteger(metaBytes) && Number.isInteger(textBytes) ? { metaBytes, textBytes } : undefined;
}

/**
 * Hand each whole entry of `file` (key, offset, length) to `visit`, reading the heads through one
 * window and skipping the texts; the bytes that hold whole entries. Scanning stops at the first
 * bytes that are not a whole entry: a write a crash tore, or one another task is making now.
 */
function scanEntries(file: string, visit: (key: string, offset: number, length: number) => void): number {
  const fd = openSync(file, 'r');
  try {
    const size = fstatSync(fd).size;
    const window = Buffer.allocUnsafe(1 << 20);
    let base = 0; // file offset of window[0]
    let held = 0; // bytes in the window
    let pos = 0;
    while (pos + HEAD <= size) {
      if (pos + HEAD > base + held) {
        base = pos;
        held = readSync(fd, window, 0, window.length, pos);
        if (held < HEAD) break;
      }
      const head = parseHead(window, pos - base);
      if (!head) break;
      const length = HEAD + head.metaBytes + 1 + head.textBytes + 1;
      if (pos + length > size) break;
      visit(window.toString('latin1', pos - base, pos - base + KEY_LEN), pos, length);
      pos += length;
    }
    return pos;
  } finally {
    closeSync(fd);
  }
}

function fromEntry(buf: Buffer, key: string): PooledCompletion | undefined {
  const head = parseHead(buf, 0);
  if (!head || buf.toString('latin1', 0, KEY_LEN) !== key || HEAD + head.metaBytes + 1 + head.textBytes + 1 !== buf.length) return undefined;
  const textAt = HEAD + head.metaBytes + 1;
  if (buf[textAt - 1] !== 0x0a || buf[buf.length - 1] !== 0x0a) return undefined;
  try {
    const meta = JSON.parse(buf.toString('utf8', HEAD, textAt - 1)) as Meta;
    return { ...meta, text: buf.toString('utf8', textAt, buf.length - 1), cached: false };
  } catch {
    return undefined;
  }
}

function fromJsonLine(buf: Buffer, key: string): PooledCompletion | undefined {
  try {
    const entry = JSON.parse(buf.toString('utf8')) as Entry;
    return entry.key === key ? entry.value : undefined;
  } catch {
    return undefined;
  }
}

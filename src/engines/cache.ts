import { closeSync, existsSync, mkdirSync, openSync, readSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { AppendLog, BATCH_RECORDS } from '../io/append-log.js';
import { forEachLineSync } from '../io/lines.js';
import type { CompletionCache, PooledCompletion } from './pool.js';

/** Where a corpus keeps its request cache. */
export const requestCacheDir = (workDir: string) => join(workDir, '.cosmo', 'request-cache');

interface Entry {
  key: string;
  value: PooledCompletion;
}

const KEY_PREFIX = '{"key":"';
const KEY_LEN = 64;

/**
 * Answers already paid for, keyed by a hash of (model, sampling parameters, messages, schema).
 * Each writer (one task) appends to its own JSONL file in the cache folder, so tasks never write
 * the same file; every writer reads all files when it opens. Only an index (key -> file offset) is
 * kept in memory: a hit reads its line back from disk.
 */
export class RequestCache implements CompletionCache {
  private readonly index = new Map<string, { fd: number; offset: number; length: number }>();
  private readonly fds: number[] = [];
  private readonly log: AppendLog<Entry>;
  private pending: Entry[] = [];
  private flushScheduled = false;
  hits = 0;
  private closed = false;

  private constructor(log: AppendLog<Entry>) {
    this.log = log;
  }

  /** Open the cache folder `dir`, writing new answers to `<dir>/<name>.jsonl`. */
  static open(dir: string, name: string): RequestCache {
    mkdirSync(dir, { recursive: true });
    // Opening our own file first cuts a line a crash tore, before the scan below reads it. No fsync:
    // each write survives the process being killed, and what a crash of the machine loses is only
    // asked again (the ledger is what must hold); the fsyncs cost ~4 us a request at 4,000 a second.
    const { log } = AppendLog.open<Entry>(join(dir, `${name}.jsonl`), { syncEveryMs: Infinity });
    const cache = new RequestCache(log);
    for (const f of readdirSync(dir).filter((f) => f.endsWith('.jsonl')).sort()) cache.scan(join(dir, f));
    return cache;
  }

  private scan(file: string): void {
    if (!existsSync(file)) return;
    const fd = openSync(file, 'r');
    this.fds.push(fd);
    forEachLineSync(file, (line, offset) => {
      if (line.toString('latin1', 0, KEY_PREFIX.length) !== KEY_PREFIX) return;
      const key = line.toString('latin1', KEY_PREFIX.length, KEY_PREFIX.length + KEY_LEN);
      this.index.set(key, { fd, offset, length: line.length });
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
    try {
      const entry = JSON.parse(buf.toString('utf8')) as Entry;
      if (entry.key !== key) return undefined;
      this.hits++;
      return entry.value;
    } catch {
      return undefined; // a damaged entry is only a miss: the request is made again
    }
  }

  /** Answers that arrive in the same tick are written together (up to BATCH_RECORDS at a time). */
  put(key: string, value: PooledCompletion): void {
    if (this.pending.push({ key, value: { ...value, cached: false } }) >= BATCH_RECORDS) return this.flush();
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    setImmediate(() => this.flush());
  }

  flush(): void {
    this.flushScheduled = false;
    if (this.closed) return;
    const batch = this.pending;
    this.pending = [];
    this.log.appendMany(batch);
  }

  close(): void {
    this.flush();
    this.closed = true;
    this.log.close();
    for (const fd of this.fds.splice(0)) closeSync(fd);
  }
}

import { createHash } from 'node:crypto';
import { closeSync, existsSync, openSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { mkdir, open, rename, rm, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readFully } from '../io/files.js';
import { Decontaminator, type DecontaminatorState } from './decontaminator.js';

/**
 * Built indexes on disk, so that a run (and each task of the stage) reads the benchmarks' index in
 * a fraction of a second instead of loading and indexing them again (~2.5 s for all ten). An entry
 * is named by a hash of everything that shapes the index: the benchmark files (path, size and
 * modification time of each, folders walked), the options, and the code that builds it, so that
 * any change builds a new one. It is written to a temporary folder and renamed into place: a
 * reader sees a whole entry or none.
 */

const FORMAT = 2;
/** Modules whose code decides what an index holds. */
const CODE = ['ngram-index', 'decontaminator', 'normalize', 'benchmarks', 'csv', 'load'];

/** Where entries go: `$COSMO_CACHE/decontaminate`, else `~/.cache/cosmo/decontaminate` (beside the models). */
export const cacheRoot = (): string => join(process.env.COSMO_CACHE ?? join(homedir(), '.cache', 'cosmo'), 'decontaminate');

function fingerprint(path: string, hash: ReturnType<typeof createHash>): void {
  const st = statSync(path, { throwIfNoEntry: false });
  if (!st) return void hash.update(`${path}:absent\n`);
  if (!st.isDirectory()) return void hash.update(`${path}:${st.size}:${st.mtimeMs}\n`);
  for (const name of readdirSync(path).sort()) fingerprint(join(path, name), hash);
}

/** The entry name for these benchmark paths and settings (`settings`: whatever else selects or shapes the items). */
export function cacheKey(paths: readonly string[], settings: unknown): string {
  const hash = createHash('sha256').update(JSON.stringify({ FORMAT, settings }));
  const here = dirname(fileURLToPath(import.meta.url));
  const ext = import.meta.url.endsWith('.ts') ? 'ts' : 'js';
  for (const name of CODE) hash.update(readFileSync(join(here, `${name}.${ext}`)));
  for (const p of paths) fingerprint(p, hash);
  return hash.digest('hex').slice(0, 32);
}

type Layout = { $array: 'Int32Array' | 'Float64Array'; offset: number; length: number };

/**
 * The Decontaminator stored under `key`, or undefined when there is none. A damaged entry is as good
 * as none, and is removed, so that the index built again can take its place.
 */
export function readCached(key: string): Decontaminator | undefined {
  const dir = join(cacheRoot(), key);
  if (!existsSync(join(dir, 'state.json'))) return undefined;
  const dc = readEntry(dir);
  if (!dc) rmSync(dir, { recursive: true, force: true });
  return dc;
}

function readEntry(dir: string): Decontaminator | undefined {
  try {
    const state = JSON.parse(readFileSync(join(dir, 'state.json'), 'utf8')) as Omit<DecontaminatorState, 'items' | 'itemStarts'> & { bytes: number; itemStarts: unknown };
    // The index's arrays, read straight into shared memory (the check threads read them there);
    // the items stay in their file, each read when it first becomes a candidate.
    const buffer = readShared(join(dir, 'index.bin'), state.bytes)?.buffer;
    if (!buffer) return undefined;
    const items = join(dir, 'items.json');
    const revive = (x: unknown): unknown => {
      if (Array.isArray(x)) return x.map(revive);
      if (x === null || typeof x !== 'object') return x;
      const layout = x as Layout;
      if (layout.$array === 'Int32Array') return new Int32Array(buffer, layout.offset, layout.length);
      if (layout.$array === 'Float64Array') return new Float64Array(buffer, layout.offset, layout.length);
      return Object.fromEntries(Object.entries(x).map(([k, v]) => [k, revive(v)]));
    };
    const itemStarts = revive(state.itemStarts) as Int32Array;
    // A file cut short is an entry as good as none.
    if (statSync(items).size !== itemStarts[itemStarts.length - 1]! - 1) return undefined;
    return Decontaminator.from({ ...state, items, itemStarts, index: revive(state.index) as object });
  } catch {
    return undefined;
  }
}

/** The file's first `size` bytes in shared memory; undefined when it is shorter. */
function readShared(file: string, size: number): Uint8Array | undefined {
  const fd = openSync(file, 'r');
  try {
    const view = new Uint8Array(new SharedArrayBuffer(size));
    return readFully(fd, view, 0, size, 0) ? view : undefined;
  } finally {
    closeSync(fd);
  }
}

const writing = new Set<Promise<void>>();

/**
 * Store `dc` under `key`, in the background: the files are written while samples are checked
 * (writing ~170 MB took 2 s on a slow disk). Best effort: a cache that cannot be written costs only
 * time. `cacheWritten()` waits for it.
 */
export function writeCached(key: string, dc: Decontaminator): void {
  const done = write(key, dc).finally(() => writing.delete(done));
  writing.add(done);
}

/** Wait for the cache entries being written, before the process ends. */
export async function cacheWritten(): Promise<void> {
  await Promise.all(writing);
}

async function write(key: string, dc: Decontaminator): Promise<void> {
  const dir = join(cacheRoot(), key);
  const tmp = `${dir}.tmp-${process.pid}`;
  try {
    const state = dc.share();
    const arrays: Uint8Array[] = [];
    let bytes = 0;
    const flatten = (x: unknown): unknown => {
      if (Array.isArray(x)) return x.map(flatten);
      if (x instanceof Int32Array || x instanceof Float64Array) {
        const offset = bytes;
        const padded = Math.ceil(x.byteLength / 8) * 8; // every array starts 8-byte aligned
        arrays.push(new Uint8Array(x.buffer, x.byteOffset, x.byteLength), new Uint8Array(padded - x.byteLength));
        bytes += padded;
        return { $array: x instanceof Int32Array ? 'Int32Array' : 'Float64Array', offset, length: x.length } satisfies Layout;
      }
      if (x === null || typeof x !== 'object') return x;
      return Object.fromEntries(Object.entries(x).map(([k, v]) => [k, flatten(v)]));
    };
    const index = flatten(state.index);
    const itemStarts = flatten(state.itemStarts);
    // Written once, after a build: the items are in memory then.
    if (typeof state.items === 'string') return;
    await mkdir(tmp, { recursive: true });
    const fh = await open(join(tmp, 'index.bin'), 'w');
    try {
      // The index is never changed once built, so it can be written while it is being read.
      for (const a of arrays) for (let at = 0; at < a.byteLength; ) at += (await fh.write(a, at)).bytesWritten;
    } finally {
      await fh.close();
    }
    const { items, ...rest } = state;
    await writeFile(join(tmp, 'items.json'), items);
    await writeFile(join(tmp, 'state.json'), JSON.stringify({ ...rest, index, itemStarts, bytes }));
    await rename(tmp, dir);
  } catch {
    // Another process may have put the same entry in place first; either way, nothing to keep.
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}

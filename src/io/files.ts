import { readdirSync, readSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { CosmoError } from '../util/errors.js';

/** Data files of a path: the file itself, or every non-hidden file under a folder, in a stable (natural) order. */
export function dataFiles(path: string, what = 'data'): string[] {
  let st;
  try {
    st = statSync(path);
  } catch {
    throw new CosmoError(`${what} path not found: ${path}`);
  }
  if (!st.isDirectory()) return [path];
  const out: string[] = [];
  for (const name of readdirSync(path).sort((a, b) => a.localeCompare(b, 'en', { numeric: true }))) {
    if (name.startsWith('.')) continue;
    out.push(...dataFiles(join(path, name), what));
  }
  return out;
}

/**
 * Read `length` bytes at file `position` into `buf` at `offset`, going on after short reads; false
 * when the file ends first.
 */
export function readFully(fd: number, buf: Uint8Array, offset: number, length: number, position: number): boolean {
  for (let got = 0; got < length; ) {
    const n = readSync(fd, buf, offset + got, length - got, position + got);
    if (n === 0) return false;
    got += n;
  }
  return true;
}

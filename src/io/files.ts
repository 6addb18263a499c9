import { readdirSync, statSync } from 'node:fs';
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

import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

/**
 * What identifies an input file's content cheaply: its size and modification time (a folder: its
 * files', recursively). Part of a stage's fingerprint, so that a seed or benchmark file changed
 * after a stage ran is noticed instead of silently ignored. Hashing the content would be surer but
 * would read every seed file on every run.
 */
export function fileIdentity(path: string): string {
  const st = statSync(path, { throwIfNoEntry: false });
  if (!st) return 'missing';
  if (!st.isDirectory()) return `${st.size}@${Math.round(st.mtimeMs)}`;
  const parts: string[] = [];
  for (const name of readdirSync(path).sort()) {
    if (!name.startsWith('.')) parts.push(`${name}:${fileIdentity(join(path, name))}`);
  }
  return `[${parts.join(',')}]`;
}

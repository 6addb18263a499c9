import { InputError } from '../util/errors.js';
import { readLines } from './lines.js';

export { readLines };

export interface BadLine {
  file: string;
  line: number;
  reason: string;
}

export interface ReadOptions {
  /** Skip malformed lines instead of throwing; each one is reported to onBad. */
  skipBad?: boolean;
  onBad?: (bad: BadLine) => void;
  /** Why a parsed object is not a record the reader wants (a bad line like malformed JSON), or undefined. */
  check?: (value: Record<string, unknown>) => string | undefined;
  /** Hears of the file's bytes as they are read, for progress. */
  onBytes?: (bytes: number) => void;
}

/** Parsed JSON objects from a JSONL(.gz) file. A malformed line throws an InputError naming file and line, or is skipped with skipBad. */
export async function* readJsonl<T = Record<string, unknown>>(
  file: string,
  opts: ReadOptions = {},
): AsyncGenerator<{ line: number; value: T }> {
  for await (const { line, text } of readLines(file, opts.onBytes)) {
    if (text.trim() === '') continue;
    let value: unknown;
    let reason: string | undefined;
    try {
      value = JSON.parse(text);
      if (value === null || typeof value !== 'object' || Array.isArray(value)) reason = 'expected a JSON object';
      else if (opts.check) reason = opts.check(value as Record<string, unknown>);
    } catch (err) {
      reason = `malformed JSON (${(err as Error).message})`;
    }
    if (reason) {
      badLine(file, line, reason, opts);
      continue;
    }
    yield { line, value: value as T };
  }
}

/** A bad line: an InputError naming file and line, or (with skipBad) reported to onBad. */
export function badLine(file: string, line: number, reason: string, opts: ReadOptions): void {
  if (!opts.skipBad) throw new InputError(file, line, `${reason}; pass --skip-bad to skip and count bad lines`);
  opts.onBad?.({ file, line, reason });
}

export function toJsonl(records: Iterable<unknown>): string {
  let out = '';
  for (const r of records) out += JSON.stringify(r) + '\n';
  return out;
}

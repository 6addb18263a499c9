import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { createGunzip } from 'node:zlib';
import type { Readable } from 'node:stream';
import { InputError } from '../util/errors.js';

export interface BadLine {
  file: string;
  line: number;
  reason: string;
}

export interface ReadOptions {
  /** Skip malformed lines instead of throwing; each one is reported to onBad. */
  skipBad?: boolean;
  onBad?: (bad: BadLine) => void;
}

/** Lines of a text file, gunzipped when the name ends in .gz, with 1-based line numbers. */
export async function* readLines(file: string): AsyncGenerator<{ line: number; text: string }> {
  let stream: Readable = createReadStream(file);
  if (file.endsWith('.gz')) stream = stream.pipe(createGunzip());
  const rl = createInterface({ input: stream, crlfDelay: Infinity });
  let line = 0;
  for await (const text of rl) {
    line++;
    yield { line, text };
  }
}

/** Parsed JSON objects from a JSONL(.gz) file. A malformed line throws an InputError naming file and line, or is skipped with skipBad. */
export async function* readJsonl<T = Record<string, unknown>>(
  file: string,
  opts: ReadOptions = {},
): AsyncGenerator<{ line: number; value: T }> {
  for await (const { line, text } of readLines(file)) {
    if (text.trim() === '') continue;
    let value: unknown;
    let reason: string | undefined;
    try {
      value = JSON.parse(text);
      if (value === null || typeof value !== 'object' || Array.isArray(value)) reason = 'expected a JSON object';
    } catch (err) {
      reason = `malformed JSON (${(err as Error).message})`;
    }
    if (reason) {
      if (!opts.skipBad) throw new InputError(file, line, `${reason}; pass --skip-bad to skip and count bad lines`);
      opts.onBad?.({ file, line, reason });
      continue;
    }
    yield { line, value: value as T };
  }
}

export function toJsonl(records: Iterable<unknown>): string {
  let out = '';
  for (const r of records) out += JSON.stringify(r) + '\n';
  return out;
}

import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { badLine, readJsonl, toJsonl, type ReadOptions } from './jsonl.js';
import { readParquet } from './parquet.js';
import { writeFileAtomic } from './atomic.js';

const DATA_FILE = /^[^.].*\.(jsonl|jsonl\.gz|parquet)$/;

/** The data shards in a stage's folder, in a stable order (numeric shard names sort as numbers). */
export function listShards(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => DATA_FILE.test(f))
    .sort((a, b) => a.localeCompare(b, 'en', { numeric: true }))
    .map((f) => join(dir, f));
}

/** Records of one shard file, whatever its format (a Parquet row's "line" is its 1-based row number). */
export async function* readRecords<T = Record<string, unknown>>(file: string, opts: ReadOptions = {}): AsyncGenerator<T> {
  if (file.endsWith('.parquet')) {
    let row = 0;
    for await (const value of readParquet(file)) {
      row++;
      const reason = opts.check?.(value);
      if (reason) badLine(file, row, reason, opts);
      else yield value as T;
    }
    return;
  }
  for await (const { value } of readJsonl<T>(file, opts)) yield value;
}

/**
 * The records task `rank` of `worldSize` owns in a folder of shards. With at least as many shards
 * as tasks, a task owns whole shards rank, rank+N, …; with fewer, every task reads all shards and
 * owns records rank, rank+N, … of their concatenation. Either way each record has exactly one owner.
 */
export async function* readTaskInput<T = Record<string, unknown>>(
  dir: string,
  rank: number,
  worldSize: number,
  opts: ReadOptions = {},
): AsyncGenerator<T> {
  const shards = listShards(dir);
  if (shards.length >= worldSize) {
    for (let i = rank; i < shards.length; i += worldSize) yield* readRecords<T>(shards[i]!, opts);
    return;
  }
  let index = 0;
  for (const shard of shards) {
    for await (const record of readRecords<T>(shard, opts)) {
      if (index++ % worldSize === rank) yield record;
    }
  }
}

/** Every record in a folder of shards, in shard order. */
export async function* readAll<T = Record<string, unknown>>(dir: string, opts: ReadOptions = {}): AsyncGenerator<T> {
  for (const shard of listShards(dir)) yield* readRecords<T>(shard, opts);
}

export async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}

/** Write records to a JSONL(.gz) shard atomically. */
export async function writeShard(file: string, records: Iterable<unknown>): Promise<void> {
  await writeFileAtomic(file, toJsonl(records));
}

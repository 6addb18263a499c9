import { existsSync, readdirSync, statSync } from 'node:fs';
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
    opts.onBytes?.(statSync(file).size); // a Parquet file counts as read when its rows are
    return;
  }
  for await (const { value } of readJsonl<T>(file, opts)) yield value;
}

/**
 * The shards task `rank` of `worldSize` reads in a folder: with at least as many shards as tasks,
 * the ones it owns whole (rank, rank+N, …); with fewer, all of them (see readTaskInput).
 */
export function taskShards(dir: string, rank: number, worldSize: number): { files: string[]; whole: boolean } {
  const shards = listShards(dir);
  const whole = shards.length >= worldSize;
  return { files: whole ? shards.filter((_, i) => i % worldSize === rank) : shards, whole };
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
  const { files, whole } = taskShards(dir, rank, worldSize);
  let index = 0;
  for (const shard of files) {
    if (whole) yield* readRecords<T>(shard, opts);
    else for await (const record of readRecords<T>(shard, opts)) if (index++ % worldSize === rank) yield record;
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

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Checkpoint } from '../../src/generate/checkpoint.js';
import { BATCH_RECORDS } from '../../src/io/append-log.js';
import { tmp } from './helpers.js';

const lines = (f: string) => readFileSync(f, 'utf8').split('\n').filter(Boolean).length;

describe('checkpoint ledger', () => {
  it('writes records finished in one tick together, BATCH_RECORDS at most, and reports them only once they are on disk', async () => {
    const file = join(tmp(), '0.jsonl.partial');
    const existing: { id: number }[] = [];
    const checkpoint = Checkpoint.open<{ id: number }>(file, (r) => existing.push(r));
    expect(existing).toEqual([]);
    const batches: { size: number; onDisk: number }[] = [];
    checkpoint.onWritten = (records) => batches.push({ size: records.length, onDisk: lines(file) });
    for (let i = 0; i < BATCH_RECORDS - 1; i++) checkpoint.add({ id: i });
    expect(batches).toEqual([]); // nothing counts before the write
    for (let i = BATCH_RECORDS - 1; i < 100; i++) checkpoint.add({ id: i });
    // A full batch is written at once, not at the end of the tick.
    expect(batches).toEqual([1, 2, 3].map((n) => ({ size: BATCH_RECORDS, onDisk: n * BATCH_RECORDS })));
    await new Promise((r) => setImmediate(r));
    checkpoint.add({ id: 100 });
    await new Promise((r) => setImmediate(r));
    expect(batches.slice(3)).toEqual([
      { size: 100 - 3 * BATCH_RECORDS, onDisk: 100 },
      { size: 1, onDisk: 101 },
    ]);
    checkpoint.add({ id: 101 });
    checkpoint.close(); // flushes what is pending
    const again = Checkpoint.open<{ id: number }>(file, (r) => existing.push(r));
    expect(existing.map((r) => r.id)).toEqual([...Array(102).keys()]);
    again.close();
  });

  it('reports a failed write once and counts nothing of it', async () => {
    const file = join(tmp(), '0.jsonl.partial');
    const checkpoint = Checkpoint.open<{ id: number }>(file, () => {});
    const errors: string[] = [];
    let written = 0;
    checkpoint.onError = (m) => errors.push(m);
    checkpoint.onWritten = (r) => (written += r.length);
    checkpoint.close();
    checkpoint.add({ id: 1 }); // the file is closed: the write fails
    checkpoint.add({ id: 2 });
    await new Promise((r) => setImmediate(r));
    checkpoint.add({ id: 3 });
    await new Promise((r) => setImmediate(r));
    expect(written).toBe(0);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toContain(`cannot write ${file}`);
  });
});

import { mkdtempSync, writeFileSync, readFileSync, appendFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { AppendLog, collect, readJsonl, readTaskInput, writeParquet, readParquet, parquetSchema, queryRows, writeShard } from '../src/io/index.js';
import { JsonlWriter } from '../src/io/jsonl-writer.js';
import { batchLines, forEachLineSync, readLines } from '../src/io/lines.js';
import { stableId } from '../src/records/id.js';

const tmp = () => mkdtempSync(join(tmpdir(), 'cosmo-io-'));

describe('jsonl', () => {
  it('names the file and line of a malformed line', async () => {
    const f = join(tmp(), 'bad.jsonl');
    writeFileSync(f, '{"a":1}\n{"a":\n{"a":3}\n');
    await expect(collect(readJsonl(f))).rejects.toThrow(`${f}:2: malformed JSON`);
  });

  it('skips and reports bad lines with skipBad', async () => {
    const f = join(tmp(), 'bad.jsonl.gz');
    writeFileSync(f, gzipSync('{"a":1}\n[1,2]\nnot json\n{"a":4}\n'));
    const bad: number[] = [];
    const rows = await collect(readJsonl(f, { skipBad: true, onBad: (b) => bad.push(b.line) }));
    expect(rows.map((r) => r.value)).toEqual([{ a: 1 }, { a: 4 }]);
    expect(bad).toEqual([2, 3]);
  });
});

describe('task input', () => {
  it('gives every record exactly one owner, with more tasks than shards and fewer', async () => {
    const dir = tmp();
    for (let s = 0; s < 3; s++) await writeShard(join(dir, `${s}.jsonl`), Array.from({ length: 5 }, (_, i) => ({ n: s * 5 + i })));
    for (const world of [1, 2, 3, 4, 7]) {
      const seen: number[] = [];
      for (let r = 0; r < world; r++) for await (const x of readTaskInput<{ n: number }>(dir, r, world)) seen.push(x.n);
      expect(seen.sort((a, b) => a - b)).toEqual([...Array(15).keys()]);
    }
  });
});

describe('append log', () => {
  it('keeps every appended record and cuts a torn last line on reopen', () => {
    const f = join(tmp(), 'ledger.jsonl');
    const { log } = AppendLog.open<{ i: number }>(f);
    for (let i = 0; i < 10; i++) log.append({ i });
    log.close();
    appendFileSync(f, '{"i":10, "trunc');
    const { log: again, existing } = AppendLog.open<{ i: number }>(f);
    expect(existing.map((r) => r.i)).toEqual([...Array(10).keys()]);
    again.append({ i: 10 });
    again.close();
    expect(readFileSync(f, 'utf8').trim().split('\n').map((l) => JSON.parse(l).i)).toEqual([...Array(11).keys()]);
  });

  it('writes multi-byte text exactly, in batches larger than its reused buffer', () => {
    const f = join(tmp(), 'ledger.jsonl');
    const { log } = AppendLog.open<{ i: number; t: string }>(f);
    // 3-byte CJK, 4-byte emoji (a surrogate pair) and quotes to escape; ~1 MB in one batch.
    const records = Array.from({ length: 400 }, (_, i) => ({ i, t: `字"\u{1F600}é ${i} `.repeat(200) }));
    log.appendMany(records);
    log.append({ i: 400, t: 'après' });
    log.close();
    const back = readFileSync(f, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { i: number; t: string });
    expect(back).toEqual([...records, { i: 400, t: 'après' }]);
  });
});

describe('lines', () => {
  it('splits and decodes as node:readline does, across batches, with and without carriage returns', async () => {
    const dir = tmp();
    // Long multi-byte lines straddle the 1 MB batches; the second file has CRLF and a lone CR.
    const long = (i: number) => `${i} ${'é日😀 word '.repeat(900 + (i % 7) * 300)}`;
    const plain = ['\ufeff' + long(0), '', ...Array.from({ length: 400 }, (_, i) => long(i + 1)), 'x'].join('\n') + '\n';
    const crlf = `a\r\nb\rc\n\r\n${long(3)}\nlast, no final break`;
    for (const [name, body] of [['plain.jsonl', plain], ['crlf.jsonl', crlf]] as const) {
      const f = join(dir, name);
      writeFileSync(f, body);
      const expected: string[] = [];
      for await (const l of createInterface({ input: createReadStream(f), crlfDelay: Infinity })) expected.push(l);
      const got = (await collect(readLines(f))).map((l) => l.text);
      expect(got.length).toBe(expected.length);
      expect(got).toEqual(expected);
      expect(batchLines(readFileSync(f))).toEqual(expected);
    }
  });
});

describe('lines read back in place', () => {
  it('visits every ended line with its offset across chunks, a line longer than a chunk included, and leaves a torn tail out', () => {
    const f = join(tmp(), 'ledger.jsonl');
    const lines = ['', 'short', 'é'.repeat(40), 'x'.repeat(300), '', '😀 end'];
    const body = lines.join('\n') + '\n';
    writeFileSync(f, body + '{"torn":');
    for (const chunk of [16, 64, 1 << 22]) {
      const seen: [string, number][] = [];
      const valid = forEachLineSync(f, (line, offset) => seen.push([line.toString('utf8'), offset]), chunk);
      expect(valid).toBe(Buffer.byteLength(body));
      expect(seen.map((x) => x[0])).toEqual(lines);
      let at = 0;
      for (const [i, line] of lines.entries()) {
        expect(seen[i]![1], `offset of line ${i} with ${chunk}-byte chunks`).toBe(at);
        at += Buffer.byteLength(line) + 1;
      }
    }
  });
});

describe('jsonl writer', () => {
  it('writes lines gathered from many buffers in order, past one writev', async () => {
    const f = join(tmp(), 'shard.jsonl');
    const w = await JsonlWriter.open(f);
    await w.write({ i: -1 });
    const lines = Array.from({ length: 2500 }, (_, i) => Buffer.from(`${JSON.stringify({ i, t: 'é'.repeat(i % 7) })}\n`));
    await w.writeLines(lines);
    await w.commit();
    expect(w.count).toBe(2501);
    const back = readFileSync(f, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { i: number; t: string });
    expect(back.map((r) => r.i)).toEqual([-1, ...Array(2500).keys()]);
    expect(back[6]!.t).toBe('é'.repeat(5));
  });
});

describe('JsonlWriter', () => {
  it('keeps the order of the calls across buffers, awaited or not, with records larger than a buffer and bytes between', async () => {
    const f = join(tmp(), 'many.jsonl');
    const w = await JsonlWriter.open(f);
    const expected: unknown[] = [];
    const pending: Promise<void>[] = [];
    for (let i = 0; i < 6000; i++) {
      // ~1-3 KB records, multi-byte text, and now and then one past the 1 MB buffer
      const rec = { i, t: (i % 997 === 0 ? 'ü'.repeat(600_000) : 'wörd '.repeat(200 + (i % 400))) };
      expected.push(rec);
      const p = w.write(rec);
      if (i % 3 === 0) await p; // some awaited, the others left in flight
      else pending.push(p);
      if (i === 3000) {
        await w.writeBytes(Buffer.from('{"bytes":true}\n'), 1);
        expected.push({ bytes: true });
      }
    }
    await Promise.all(pending);
    await w.commit();
    expect(w.count).toBe(6001);
    const back = readFileSync(f, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as unknown);
    expect(back.length).toBe(expected.length);
    expect(back).toEqual(expected);
  });
});

describe('parquet', () => {
  it('round-trips typed columns with zstd', async () => {
    const f = join(tmp(), 'x.parquet');
    const n = await writeParquet(f, [{ a: 'x', b: 1 }, { a: 'y\n"q"', b: 2, extra: true }], { a: 'VARCHAR', b: 'INTEGER' });
    expect(n).toBe(2);
    expect(await collect(readParquet(f))).toEqual([{ a: 'x', b: 1 }, { a: 'y\n"q"', b: 2 }]);
    expect(await parquetSchema(f)).toEqual({ a: 'VARCHAR', b: 'INTEGER' });
  });

  it('gives every row to readers that overlap each other and queries (a mix of Parquet sources, the viewer)', async () => {
    const f = join(tmp(), 'many.parquet');
    await writeParquet(f, Array.from({ length: 30_000 }, (_, i) => ({ i })), { i: 'INTEGER' });
    const count = async () => {
      let n = 0;
      for await (const _ of readParquet(f)) if (++n % 5000 === 0) await queryRows(`SELECT count(*) FROM read_parquet('${f}')`);
      return n;
    };
    expect(await Promise.all([count(), count(), count()])).toEqual([30_000, 30_000, 30_000]);
  });
});

describe('stable ids', () => {
  it('do not depend on key order and change with content', () => {
    expect(stableId({ a: 1, b: [1, 2] })).toBe(stableId({ b: [1, 2], a: 1 }));
    expect(stableId({ a: 1 })).not.toBe(stableId({ a: 2 }));
    expect(stableId('x')).toMatch(/^[0-9a-f]{16}$/);
  });
});

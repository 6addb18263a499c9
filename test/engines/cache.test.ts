import { appendFileSync, mkdtempSync, readFileSync, readdirSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { RequestCache } from '../../src/engines/cache.js';
import type { PooledCompletion } from '../../src/engines/pool.js';

const answer = (text: string, extra: Partial<PooledCompletion> = {}): PooledCompletion => ({
  text,
  finish_reason: 'stop',
  usage: { prompt_tokens: 12, completion_tokens: 34 },
  model: 'm',
  engine: 'http://127.0.0.1:1/v1',
  latency_ms: 56,
  attempts: 2,
  cached: false,
  ...extra,
});
const key = (i: number) => i.toString(16).padStart(64, '0');

describe('request cache', () => {
  it('gives back any text exactly: newlines, quotes, backslashes, control characters, non-ASCII', () => {
    const dir = mkdtempSync(join(tmpdir(), 'cosmo-cache-'));
    const texts = ['plain', 'two\nlines\r\nand "quotes" \\ back\\slash\t\u0000\u001f', 'héllo wörld — 日本語 🙂', '\n', 'x'.repeat(3_000_000), 'after the one larger than the scan window'];
    const cache = RequestCache.open(dir, 'a');
    texts.forEach((t, i) => cache.put(key(i), answer(t, { finish_reason: i ? 'length' : 'stop' })));
    cache.close();

    const again = RequestCache.open(dir, 'b');
    expect(again.size).toBe(texts.length);
    texts.forEach((t, i) => expect(again.get(key(i))).toEqual(answer(t, { finish_reason: i ? 'length' : 'stop' })));
    expect(again.get(key(99))).toBeUndefined();
    expect(again.hits).toBe(texts.length);
    again.close();
  });

  it('cuts an entry a crash tore off its own file, keeps those before it, and writes on after them', () => {
    const dir = mkdtempSync(join(tmpdir(), 'cosmo-cache-'));
    const cache = RequestCache.open(dir, 'a');
    for (let i = 0; i < 3; i++) cache.put(key(i), answer(`answer ${i}\nwith a second line`));
    cache.close();
    const file = join(dir, 'a.cache');
    const whole = statSync(file).size;
    truncateSync(file, whole - 5); // the last entry lost its end

    const reopened = RequestCache.open(dir, 'a');
    expect(reopened.size).toBe(2);
    expect(reopened.get(key(2))).toBeUndefined();
    expect(reopened.get(key(1))?.text).toBe('answer 1\nwith a second line');
    expect(statSync(file).size).toBeLessThan(whole - 5); // the torn entry is gone from the file
    reopened.put(key(2), answer('answer 2, again'));
    reopened.close();

    const third = RequestCache.open(dir, 'b');
    expect(third.size).toBe(3);
    expect(third.get(key(2))?.text).toBe('answer 2, again');
    third.close();
  });

  it("reads another task's file up to a torn end without touching it, and treats a damaged entry as a miss", () => {
    const dir = mkdtempSync(join(tmpdir(), 'cosmo-cache-'));
    const cache = RequestCache.open(dir, 'other');
    cache.put(key(1), answer('one'));
    cache.put(key(2), answer('two'));
    cache.close();
    const file = join(dir, 'other.cache');
    const bytes = readFileSync(file);
    // Damage the first entry's text length (still digits), and start a third entry that never ends.
    const damaged = Buffer.from(bytes);
    damaged.write('0000000009', 64 + 1 + 10 + 1, 'latin1');
    writeFileSync(file, damaged);
    appendFileSync(file, `${key(3)} 00000`);
    const size = statSync(file).size;

    const mine = RequestCache.open(dir, 'mine');
    expect(mine.get(key(1))).toBeUndefined(); // its lengths no longer fit its bytes
    expect(mine.get(key(2))).toBeUndefined(); // the scan stopped in the first entry's bytes
    expect(mine.get(key(3))).toBeUndefined();
    expect(statSync(file).size).toBe(size);
    mine.close();
  });

  it('still reads the JSON lines files that earlier versions wrote', () => {
    const dir = mkdtempSync(join(tmpdir(), 'cosmo-cache-'));
    writeFileSync(join(dir, 'old.jsonl'), JSON.stringify({ key: key(7), value: answer('from an earlier version\n"quoted"') }) + '\n');
    const cache = RequestCache.open(dir, 'a');
    expect(cache.get(key(7))).toEqual(answer('from an earlier version\n"quoted"'));
    cache.close();
    expect(readdirSync(dir).sort()).toEqual(['a.cache', 'old.jsonl']);
  });
});

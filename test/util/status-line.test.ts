/** Log lines written while a progress bar holds the terminal's last line. */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { GenerateTracker, startProgress } from '../../src/generate/metrics.js';
import { ByteProgress } from '../../src/util/byte-progress.js';
import { createLogger, silentLogger } from '../../src/util/log.js';

const CLEAR_LINE = '\r\x1b[2K';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** stderr as a terminal whose writes are kept. */
let writes: string[];
const saved = { write: process.stderr.write, isTTY: process.stderr.isTTY, columns: process.stderr.columns };
beforeEach(() => {
  writes = [];
  process.stderr.write = ((chunk: string | Uint8Array) => writes.push(String(chunk)) > 0) as typeof process.stderr.write;
  Object.assign(process.stderr, { isTTY: true, columns: 160 });
});
afterEach(() => Object.assign(process.stderr, saved));

/** The writes since the one that holds `text`. */
const after = (text: string) => writes.slice(writes.findIndex((w) => w.includes(text)) + 1).join('');

describe('a log line while a bar is drawn', () => {
  const log = createLogger('test', { level: 'info' });

  it("clears a task's bar from its line, and the bar is drawn again below it", async () => {
    const progress = new ByteProgress('filter', 1e6, { mode: 'bar', log: silentLogger, doing: 'progress', field: 'task', counting: 'records' });
    progress.add(250_000, 10);
    expect(writes.join('')).toContain('filter [');
    log.warn('a line in the middle');
    const line = writes.find((w) => w.includes('a line in the middle'))!;
    expect(line.startsWith(CLEAR_LINE)).toBe(true);
    await sleep(250); // the bar's next ticks
    expect(after('a line in the middle')).toContain('filter [');
    progress.stop();
    log.warn('after the bar');
    expect(writes.find((w) => w.includes('after the bar'))!.startsWith('\r')).toBe(false);
  });

  it("does the same for generate's bar", async () => {
    const t = new GenerateTracker();
    t.total = 4;
    const p = startProgress('bar', t, () => ({ errors: 0, rate_wait_s: 0 }), silentLogger, 10_000, process.stderr);
    await sleep(50);
    log.info('generating');
    expect(writes.find((w) => w.includes('generating'))!.startsWith(CLEAR_LINE)).toBe(true);
    await sleep(400);
    expect(after('generating')).toContain('generate |');
    p.stop();
    log.info('done');
    expect(writes.find((w) => w.includes('done'))!.startsWith('\r')).toBe(false);
  });

  it('writes a plain line where stderr is no terminal', () => {
    Object.assign(process.stderr, { isTTY: false });
    log.warn('to a pipe');
    expect(writes).toEqual([expect.stringMatching(/^\d\d:\d\d:\d\d warn {2}\[test\] to a pipe\n$/)]);
  });
});

import { appendFileSync, mkdtempSync, readdirSync, readFileSync, truncateSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decontamSchema } from '../../src/decontaminate/config.js';
import { buildDecontaminator as build, checkBenchmarks } from '../../src/decontaminate/load.js';
import { cacheWritten } from '../../src/decontaminate/cache.js';
import type { Logger } from '../../src/util/log.js';
import { silentLogger } from '../../src/util/log.js';

/** The "benchmarks indexed" lines a build logs. */
function recorder(): { log: Logger; said: Record<string, unknown>[] } {
  const said: Record<string, unknown>[] = [];
  const log = { ...silentLogger, info: (msg: string, fields?: Record<string, unknown>) => msg === 'benchmarks indexed' && said.push(fields ?? {}) } as Logger;
  return { log, said };
}

/** A build, and its cache entry written (in the background, as a run does while it checks samples). */
async function buildDecontaminator(...args: Parameters<typeof build>) {
  const dc = await build(...args);
  await cacheWritten();
  return dc;
}

describe('decontamination index cache', () => {
  const before = process.env.COSMO_CACHE;
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'cosmo-decontam-cache-'));
    process.env.COSMO_CACHE = join(dir, 'cache');
  });
  afterAll(() => {
    process.env.COSMO_CACHE = before;
  });

  const questions = [
    'Which of the lighthouses on the northern coast was the first one to use a rotating lens at night?',
    'How many grams of salt dissolve in one litre of water at room temperature before the solution saturates?',
    'What did the farmers of the river valley plant after the spring floods had left the fields covered in silt?',
    'Why does a bicycle stay upright more easily when it moves quickly than when it rolls along slowly?',
    'Which composer wrote the opera about a barber who helps a count win the heart of a young woman?',
    'Where do migrating cranes rest during their long flight from the northern wetlands to the southern lakes?',
    'When did the city council first vote to build the stone bridge across the wide and shallow river?',
    'What happens to the pressure of a gas in a sealed container when its temperature is raised slowly?',
  ];
  const question = (i: number) => questions[i]!;
  const sample = (i: number) => `Some history first. ${question(i)} The answer surprised the keepers.`;

  it('reads back the index it built, finds the same items, and builds anew when a benchmark file changes', async () => {
    const file = join(dir, 'mine.jsonl');
    writeFileSync(file, [0, 1, 2].map((i) => JSON.stringify({ text: question(i) })).join('\n') + '\n');
    const cfg = decontamSchema.parse({ extra: [file] });
    const first = recorder();
    const built = await buildDecontaminator(cfg, undefined, first.log);
    const second = recorder();
    const read = await buildDecontaminator(cfg, undefined, second.log);
    expect([first.said[0]!.from, second.said[0]!.from]).toEqual(['files', 'cache']);
    expect(read.summary).toEqual(built.summary);
    for (const i of [0, 1, 2]) expect(read.check(sample(i)).matches).toEqual(built.check(sample(i)).matches);
    expect(read.check(sample(3)).contaminated).toBe(false);

    // A new item: another entry, built from the files, which finds it.
    appendFileSync(file, JSON.stringify({ text: question(3) }) + '\n');
    const third = recorder();
    const changed = await buildDecontaminator(cfg, undefined, third.log);
    expect(third.said[0]!.from).toBe('files');
    expect(changed.check(sample(3)).contaminated).toBe(true);
    expect(readdirSync(join(dir, 'cache', 'decontaminate'))).toHaveLength(2);

    // Other settings, another entry; no cache, none.
    await buildDecontaminator(decontamSchema.parse({ extra: [file], threshold: 0.6 }), undefined, silentLogger);
    await buildDecontaminator(decontamSchema.parse({ extra: [file], threshold: 0.7, cache: false }), undefined, silentLogger);
    expect(readdirSync(join(dir, 'cache', 'decontaminate'))).toHaveLength(3);
  });

  it('checks the benchmarks before a run by reading them, unless an index of these very files is cached', async () => {
    const file = join(dir, 'checked.jsonl');
    writeFileSync(file, JSON.stringify({ text: question(5) }) + '\n');
    const cfg = decontamSchema.parse({ extra: [file] });
    const good = readFileSync(file);
    const then = new Date('2026-01-01T00:00:00Z');
    const broken = () => {
      // Same size and time: the cache cannot tell, so only reading the file finds it broken.
      writeFileSync(file, '{'.repeat(good.length));
      utimesSync(file, then, then);
    };
    broken();
    await expect(checkBenchmarks(cfg)).rejects.toThrow(`${file}:1`);
    writeFileSync(file, good);
    utimesSync(file, then, then);
    await buildDecontaminator(cfg, undefined, silentLogger);
    broken();
    await expect(checkBenchmarks(cfg)).resolves.toBeUndefined();
    await expect(checkBenchmarks({ ...cfg, cache: false })).rejects.toThrow(`${file}:1`);
  });

  it('builds anew over a damaged entry', async () => {
    const file = join(dir, 'other.jsonl');
    writeFileSync(file, JSON.stringify({ text: question(7) }) + '\n');
    const cfg = decontamSchema.parse({ extra: [file] });
    const first = recorder();
    await buildDecontaminator(cfg, undefined, first.log);
    truncateSync(join(String(first.said[0]!.cache), 'index.bin'), 100);
    const again = recorder();
    const dc = await buildDecontaminator(cfg, undefined, again.log);
    expect(again.said[0]!.from).toBe('files');
    expect(dc.check(sample(7)).contaminated).toBe(true);
    // The items stay in their file until they are met: one cut short is found before any is read.
    const read = recorder();
    expect((await buildDecontaminator(cfg, undefined, read.log)).check(sample(7)).contaminated).toBe(true);
    expect(read.said[0]!.from).toBe('cache');
    truncateSync(join(String(read.said[0]!.cache), 'items.json'), 10);
    const third = recorder();
    expect((await buildDecontaminator(cfg, undefined, third.log)).check(sample(7)).contaminated).toBe(true);
    expect(third.said[0]!.from).toBe('files');
  });
});

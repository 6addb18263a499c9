import { mkdirSync, mkdtempSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineStage, type AnyStage, type CorpusEnv, type RunOptions } from '../../src/exec/stage.js';
import { runTask, type StagePlan } from '../../src/exec/task.js';
import { ByteProgress } from '../../src/util/byte-progress.js';
import { createLogger } from '../../src/util/log.js';

const corpus: CorpusEnv = { name: 'test', seed: 1, resolve: (p) => p, publicConfig: {} };

/** A folder of `shards` JSONL shards of `perShard` rows each; returns it and each shard's size. */
function inputDir(shards: number, perShard: number): { dir: string; sizes: number[] } {
  const dir = join(mkdtempSync(join(tmpdir(), 'cosmo-progress-')), 'rows');
  mkdirSync(dir);
  const sizes: number[] = [];
  for (let s = 0; s < shards; s++) {
    const file = join(dir, `${s}.jsonl`);
    writeFileSync(file, Array.from({ length: perShard }, (_, i) => JSON.stringify({ id: `${s}-${i}`, text: 'x'.repeat(200 + (i % 50)) }) + '\n').join(''));
    sizes.push(statSync(file).size);
  }
  return { dir, sizes };
}

/** A stage that reads every record of its input (`passes` times) and keeps it. */
function readingStage(ownProgress = false, passes = 1): AnyStage {
  return defineStage({
    name: 'reader',
    key: 'reader',
    schema: z.object({}),
    settings: () => ({}),
    input: { records: { kind: 'row', check: () => undefined }, ownProgress },
    output: { kind: 'row', check: () => undefined },
    enabled: () => true,
    tasks: () => 1,
    async runTask(_cfg, ctx) {
      for (let pass = 1; pass < passes; pass++) for await (const _r of ctx.input());
      for await (const r of ctx.input()) await ctx.output.write(r);
    },
  }) as AnyStage;
}

/** Run task `rank` of `worldSize` over `dir`; the lines it logged. */
async function run(def: AnyStage, dir: string, options: RunOptions, rank = 0, worldSize = 1): Promise<string[]> {
  const workDir = join(dir, '..');
  const plan: StagePlan = { stage: 'reader', worldSize, inputStage: 'rows', inputDir: dir, outputDir: join(workDir, `reader-${worldSize}`), workDir, options, dirs: {}, concurrent: 1 };
  const lines: string[] = [];
  await runTask(def, {}, corpus, plan, rank, createLogger('test', { level: 'info', write: (l) => lines.push(l) }), new AbortController().signal);
  return lines.filter((l) => l.includes('] progress'));
}

/** A field of a log line (a value with spaces is quoted there). */
const field = (line: string, key: string) => {
  const v = new RegExp(`\\b${key}=("[^"]*"|[^ ]+)`).exec(line)?.[1];
  return v?.startsWith('"') ? (JSON.parse(v) as string) : v;
};
/** A field in MB, as the line rounds it. */
const megabytes = (line: string, key: string) => Number(field(line, key));
const mb = (bytes: number) => +(bytes / 1e6).toFixed(1);

describe('task input progress', () => {
  it('ends with the records and bytes the task read, of the shards it owns', async () => {
    const { dir, sizes } = inputDir(3, 400);
    const [last, ...more] = (await run(readingStage(), dir, { progress: 'lines' })).reverse();
    expect(more).toEqual([]); // a run shorter than 10 s logs only its last line
    expect(field(last!, 'task')).toBe('reader');
    expect(field(last!, 'records')).toBe('1200');
    expect(megabytes(last!, 'mb')).toBe(mb(sizes[0]! + sizes[1]! + sizes[2]!));
    expect(megabytes(last!, 'of_mb')).toBe(mb(sizes[0]! + sizes[1]! + sizes[2]!));
    expect(field(last!, 'eta_s')).toBe('0');

    // Task 1 of 2 owns shard 1 alone: it reads 400 records, and its share of the bytes.
    const [mine] = await run(readingStage(), dir, { progress: 'lines' }, 1, 2);
    expect(field(mine!, 'task')).toBe('reader 1');
    expect(field(mine!, 'records')).toBe('400');
    expect(megabytes(mine!, 'of_mb')).toBe(mb(sizes[1]!));
  });

  it('counts a second pass over the input in bytes, not in records again', async () => {
    const { dir, sizes } = inputDir(2, 3000);
    const [last] = (await run(readingStage(false, 2), dir, { progress: 'lines' })).reverse();
    expect(field(last!, 'records')).toBe('6000');
    expect(megabytes(last!, 'mb')).toBe(mb(2 * (sizes[0]! + sizes[1]!)));
    expect(megabytes(last!, 'of_mb')).toBe(mb(2 * (sizes[0]! + sizes[1]!)));
  });

  it('shows nothing without a progress mode, for a stage with a progress of its own, or for a task that read nothing', async () => {
    const { dir } = inputDir(1, 10);
    expect(await run(readingStage(), dir, {})).toEqual([]);
    expect(await run(readingStage(true), dir, { progress: 'lines' })).toEqual([]);
    const lines: string[] = [];
    const log = createLogger('test', { level: 'info', write: (l) => lines.push(l) });
    const empty = join(dir, '..', 'none');
    const plan: StagePlan = { stage: 'reader', worldSize: 1, inputStage: 'rows', inputDir: empty, outputDir: join(dir, '..', 'out-empty'), workDir: join(dir, '..'), options: { progress: 'lines' }, dirs: {}, concurrent: 1 };
    await expect(runTask(readingStage(), {}, corpus, plan, 0, log, new AbortController().signal)).rejects.toThrow('run the rows stage first');
    expect(lines.filter((l) => l.includes('] progress'))).toEqual([]);
  });

  it('logs a line each time its interval has passed, with the rate and what is left', () => {
    const lines: string[] = [];
    const p = new ByteProgress('job', 4e6, { mode: 'lines', log: createLogger('t', { level: 'info', write: (l) => lines.push(l) }), doing: 'progress', field: 'task', counting: 'records', everyMs: 0 });
    p.add(1e6, 10);
    p.add(1e6, 10);
    expect(lines).toHaveLength(2);
    expect(field(lines[1]!, 'records')).toBe('20');
    expect(megabytes(lines[1]!, 'mb')).toBe(2);
    expect(megabytes(lines[1]!, 'of_mb')).toBe(4);
    expect(Number(field(lines[1]!, 'eta_s'))).toBeGreaterThanOrEqual(0);
    p.stop();
    expect(lines).toHaveLength(3);
  });
});

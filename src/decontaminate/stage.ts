import { statSync } from 'node:fs';
import { join } from 'node:path';
import { defineStage } from '../exec/stage.js';
import { writeJsonAtomic } from '../io/atomic.js';
import { badLine } from '../io/jsonl.js';
import { SAMPLE_RECORD } from '../records/check.js';
import { decontamSchema } from './config.js';
import { benchmarkPaths, buildDecontaminator, checkBenchmarks, hasBenchmarks } from './load.js';
import { placed, Tally, type Outcome } from './outcome.js';
import { autoThreads, checkOnPool, CheckPool, jsonlOnPool } from './check-pool.js';
import { cacheWritten } from './cache.js';
import type { Sample } from '../records/types.js';
import { buildReport, matchesFile, mergeTaskMatches, writeReport, type TaskMatches } from './report.js';

/**
 * decontaminate: drop (or, in cut mode, cut) samples that contain benchmark items. Kept samples go
 * to `<rank>.jsonl`, removed ones to `removed/<rank>.jsonl` with what matched, and `finalize`
 * writes the per-benchmark report.
 */
export const decontaminateStage = defineStage({
  name: 'decontaminate',
  key: 'decontaminate',
  schema: decontamSchema.prefault({}),
  description: 'remove samples that contain benchmark items, with a per-benchmark report',
  input: { records: SAMPLE_RECORD },
  output: SAMPLE_RECORD,
  sides: ['removed'],
  // Threads change how fast samples are checked, never what is found.
  settings: ({ threads: _t, ...cfg }, corpus) => ({ ...cfg, files: benchmarkPaths(cfg, corpus.resolve) }),
  inputFiles: (cfg, corpus) => benchmarkPaths(cfg, corpus.resolve),
  // Without benchmarks there is nothing to check against: the stage is left out of the pipeline.
  enabled: (cfg) => cfg.enabled && hasBenchmarks(cfg),
  tasks: (cfg) => cfg.tasks,
  async check(cfg, corpus) {
    await checkBenchmarks(cfg, corpus.resolve);
  },
  async runTask(cfg, ctx) {
    const dc = await buildDecontaminator(cfg, ctx.corpus.resolve, ctx.log);
    const tally = new Tally(dc, ctx.stats);
    const removed = ctx.side('removed');
    async function* samples(): AsyncGenerator<{ s: Sample; text: string }> {
      for await (const s of ctx.input()) {
        ctx.signal.throwIfAborted();
        yield { s, text: typeof s.text === 'string' ? s.text : '' };
      }
    }
    async function write(s: Sample, text: string, outcome: Outcome): Promise<void> {
      if (outcome.kind === 'kept') return ctx.output.write(s);
      const { to, record } = placed(s, text, outcome);
      await (to === 'removed' ? removed : ctx.output).write(record);
    }
    const files = ctx.inputFiles();
    const inputBytes = (files ?? []).reduce((n, f) => n + statSync(f).size, 0);
    const threads = cfg.threads ?? autoThreads(inputBytes, ctx.concurrent);
    if (threads > 0) {
      const pool = new CheckPool(dc, threads);
      const bad = { skipBad: ctx.options.skipBad, onBad: () => ctx.stats.inc('bad_lines') };
      try {
        // Plain JSONL shards go to the workers as bytes and come back as the lines to write; other
        // formats are read here and their texts sent over.
        if (files)
          await jsonlOnPool(files, pool, ctx.signal, (bytes) => pool.placeLines(bytes), async (file, first, { rows, placed: lines }, bytes) => {
            let checked = 0;
            for (const row of rows) {
              if (row.bad) badLine(file, first + row.index, row.bad, bad);
              else {
                tally.count(row.judged!);
                checked++;
              }
            }
            await ctx.output.writeBytes(lines.output, lines.outputCount);
            await removed.writeBytes(lines.removed, lines.removedCount);
            ctx.progress.add(bytes, checked);
          });
        else await checkOnPool(samples(), pool, ctx.signal, ({ s, text }, judged) => write(s, text, tally.count(judged)));
      } finally {
        await pool.close();
      }
    } else for await (const { s, text } of samples()) await write(s, text, tally.check(text));
    await cacheWritten();
    const side: TaskMatches = { index: dc.summary, matched: tally.matchedIds() };
    // The side file lands before the shards; a crash in between only means the task reruns.
    await writeJsonAtomic(matchesFile(ctx.outputDir, ctx.rank), side);
    ctx.log.info('decontaminated', { rank: ctx.rank, checked: ctx.stats.get('checked'), removed: ctx.stats.get('removed'), cut: ctx.stats.get('cut') });
  },
  async finalize(cfg, ctx) {
    const { index, matched } = mergeTaskMatches(ctx.outputDir, ctx.worldSize);
    const report = buildReport(cfg, ctx.stats, matched, index);
    await writeReport(report, ctx.outputDir);
    ctx.log.info('report written', { file: join(ctx.outputDir, 'report.md'), removed: report.samples.removed });
  },
});

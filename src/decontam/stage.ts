import { join } from 'node:path';
import type { StageDef } from '../exec/stage.js';
import { writeJsonAtomic } from '../io/atomic.js';
import { writeTaskShards } from '../io/jsonl-writer.js';
import { readTaskInput } from '../io/shards.js';
import type { Sample } from '../records/types.js';
import { CosmoError } from '../util/errors.js';
import { buildDecontaminator, hasBenchmarks } from './load.js';
import { Tally } from './outcome.js';
import { buildReport, matchesFile, mergeTaskMatches, writeReport, type TaskMatches } from './report.js';

/**
 * decontaminate: drop (or, in cut mode, cut) samples that contain benchmark items. Kept samples go
 * to `<rank>.jsonl`, removed ones to `removed/<rank>.jsonl` with what matched, and `finalize`
 * writes the per-benchmark report.
 */
export const decontamStage: StageDef = {
  name: 'decontaminate',
  // Without benchmarks there is nothing to check against: the stage is left out of the pipeline.
  enabled: (cfg) => cfg.decontaminate.enabled && hasBenchmarks(cfg.decontaminate),
  tasks: (cfg) => cfg.decontaminate.tasks,
  async runTask(cfg, ctx) {
    const inputDir = ctx.inputDir;
    if (!inputDir) throw new CosmoError('decontaminate: no input stage; it needs generated samples');
    const dc = await buildDecontaminator(cfg, ctx.log);
    const tally = new Tally(dc, ctx.stats);
    await writeTaskShards(ctx.outputDir, ctx.rank, 'removed', async (kept, removed) => {
      const input = readTaskInput<Sample>(inputDir, ctx.rank, ctx.worldSize, {
        skipBad: ctx.options.skipBad,
        onBad: () => ctx.stats.inc('bad_lines'),
      });
      for await (const s of input) {
        if (ctx.signal.aborted) throw new CosmoError('decontaminate: interrupted');
        const text = typeof s.text === 'string' ? s.text : '';
        const outcome = tally.check(text);
        if (outcome.kind === 'kept') await kept.write(s);
        else if (outcome.kind === 'removed') await removed.write({ ...s, decontam: outcome.decontam });
        else {
          // token_length came from the model's tokenizer; scale it by the share of text kept.
          const tokens = typeof s.token_length === 'number' ? Math.round((s.token_length * outcome.text.length) / Math.max(1, text.length)) : undefined;
          await kept.write({ ...s, text: outcome.text, token_length: tokens, decontam: outcome.decontam });
        }
      }
      const side: TaskMatches = {
        index: dc.summary,
        matched: tally.matchedIds(),
      };
      // The side file lands before the shards; a crash in between only means the task reruns.
      await writeJsonAtomic(matchesFile(ctx.outputDir, ctx.rank), side);
    });
    ctx.log.info('decontaminated', {
      rank: ctx.rank,
      checked: ctx.stats.get('checked'),
      removed: ctx.stats.get('removed'),
      cut: ctx.stats.get('cut'),
    });
  },
  async finalize(cfg, ctx) {
    const { index, matched } = mergeTaskMatches(ctx.outputDir, ctx.worldSize);
    const report = buildReport(cfg.decontaminate, ctx.stats, matched, index);
    await writeReport(report, ctx.outputDir);
    ctx.log.info('report written', { file: join(ctx.outputDir, 'report.md'), removed: report.samples.removed });
  },
};

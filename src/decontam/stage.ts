import { existsSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { StageDef } from '../exec/stage.js';
import { writeJsonAtomic } from '../io/atomic.js';
import { JsonlWriter } from '../io/jsonl-writer.js';
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
    if (!ctx.inputDir) throw new CosmoError('decontaminate: no input stage; it needs generated samples');
    const dc = await buildDecontaminator(cfg, ctx.log);
    // A killed earlier attempt of this task leaves its temp files; they are never read, only cleared.
    for (const d of [ctx.outputDir, join(ctx.outputDir, 'removed')])
      for (const f of existsSync(d) ? readdirSync(d) : []) if (f.startsWith(`.${ctx.rank}.jsonl.tmp-`)) rmSync(join(d, f), { force: true });
    const kept = await JsonlWriter.open(join(ctx.outputDir, `${ctx.rank}.jsonl`));
    const removed = await JsonlWriter.open(join(ctx.outputDir, 'removed', `${ctx.rank}.jsonl`));
    const tally = new Tally(dc, ctx.stats);
    try {
      const input = readTaskInput<Sample>(ctx.inputDir, ctx.rank, ctx.worldSize, {
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
      // The side file and removed shard land before the kept shard; a crash in between only means
      // the task reruns, since its completion marker comes after runTask returns.
      await writeJsonAtomic(matchesFile(ctx.outputDir, ctx.rank), side);
      await removed.commit();
      await kept.commit();
    } catch (err) {
      await kept.abort();
      await removed.abort();
      throw err;
    }
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

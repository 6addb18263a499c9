import { join } from 'node:path';
import type { StageDef } from '../exec/stage.js';
import { writeJsonAtomic } from '../io/atomic.js';
import { JsonlWriter } from '../io/jsonl-writer.js';
import { readTaskInput } from '../io/shards.js';
import type { Sample } from '../records/types.js';
import { CosmoError } from '../util/errors.js';
import type { Match } from './decontaminator.js';
import { buildDecontaminator, hasBenchmarks } from './load.js';
import { buildReport, matchesFile, writeReport, type TaskMatches } from './report.js';

/** What a removed or cut sample carries about the benchmark items found in it. */
export interface DecontamRecord {
  /** Why the sample was removed; absent on kept (cut) samples. */
  reason?: 'contaminated' | 'too_short_after_cut' | 'still_contaminated';
  /** The best match, for quick reading. */
  benchmark: string;
  item_id: string;
  score: number;
  span: [number, number];
  matched: string;
  /** Every item found (cut mode: every span cut, in cutting order). */
  matches: Match[];
}

const MAX_MATCHED = 2000;
const clip = (m: Match): Match => (m.matched.length > MAX_MATCHED ? { ...m, matched: m.matched.slice(0, MAX_MATCHED) + '…' } : m);

function record(matches: Match[], reason?: DecontamRecord['reason']): DecontamRecord {
  const best = matches.reduce((a, b) => (b.score > a.score ? b : a));
  return {
    ...(reason ? { reason } : {}),
    benchmark: best.benchmark,
    item_id: best.item_id,
    score: best.score,
    span: best.span,
    matched: clip(best).matched,
    matches: matches.map(clip),
  };
}

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
    const c = cfg.decontaminate;
    const dc = await buildDecontaminator(cfg, ctx.log);
    const kept = await JsonlWriter.open(join(ctx.outputDir, `${ctx.rank}.jsonl`));
    const removed = await JsonlWriter.open(join(ctx.outputDir, 'removed', `${ctx.rank}.jsonl`));
    const matched = new Map<string, Set<string>>();
    const note = (matches: Match[], counter: 'removed' | 'cut') => {
      for (const bench of new Set(matches.map((m) => m.benchmark))) ctx.stats.inc(`${counter}.${bench}`);
      for (const m of matches) {
        const set = matched.get(m.benchmark) ?? new Set<string>();
        set.add(m.item_id);
        matched.set(m.benchmark, set);
      }
    };
    try {
      const input = readTaskInput<Sample>(ctx.inputDir, ctx.rank, ctx.worldSize, {
        skipBad: ctx.options.skipBad,
        onBad: () => ctx.stats.inc('bad_lines'),
      });
      for await (const s of input) {
        if (ctx.signal.aborted) throw new CosmoError('decontaminate: interrupted');
        ctx.stats.inc('checked');
        const text = typeof s.text === 'string' ? s.text : '';
        if (c.mode === 'cut') {
          const r = dc.cut(text);
          ctx.stats.inc('candidates', r.verdict.candidates);
          if (r.cuts.length === 0) {
            await kept.write(s);
            ctx.stats.inc('kept');
          } else if (r.text !== undefined) {
            await kept.write({ ...s, text: r.text, decontam: record(r.cuts) });
            note(r.cuts, 'cut');
            ctx.stats.inc('kept');
            ctx.stats.inc('cut');
          } else {
            await removed.write({ ...s, decontam: record(r.cuts, r.dropReason) });
            note(r.cuts, 'removed');
            ctx.stats.inc('removed');
            ctx.stats.inc(`removed_reason.${r.dropReason}`);
          }
          continue;
        }
        const v = dc.check(text);
        ctx.stats.inc('candidates', v.candidates);
        if (!v.contaminated) {
          await kept.write(s);
          ctx.stats.inc('kept');
          continue;
        }
        await removed.write({ ...s, decontam: record(v.matches, 'contaminated') });
        note(v.matches, 'removed');
        ctx.stats.inc('removed');
      }
      const side: TaskMatches = {
        index: dc.summary,
        matched: Object.fromEntries([...matched].map(([b, ids]) => [b, [...ids].sort()])),
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
    const report = buildReport(cfg.decontaminate, ctx.stats, ctx.outputDir, ctx.worldSize);
    await writeReport(report, ctx.outputDir);
    ctx.log.info('report written', { file: join(ctx.outputDir, 'report.md'), removed: report.samples.removed });
  },
};

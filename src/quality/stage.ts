import { join } from 'node:path';
import { resolvePath } from '../config/load.js';
import type { StageDef } from '../exec/stage.js';
import { readTaskInput } from '../io/shards.js';
import { writeJsonAtomic } from '../io/atomic.js';
import { writeTaskShards } from '../io/jsonl-writer.js';
import type { Sample } from '../records/types.js';
import { CosmoError } from '../util/errors.js';
import { openPool } from '../generate/engines.js';
import { QualityFilter, type FilteredSample, type RejectedSample, type Verdict } from './filter.js';
import { Judge } from './judge.js';

/**
 * The filter stage: task `rank` writes the samples that pass every check to `<rank>.jsonl` and the
 * others, each with its `reject_reason`, to `rejects/<rank>.jsonl` (a subfolder, so that later stages
 * never read rejects as data). Stats count `kept` and `dropped.<reason>`.
 */
export const filterStage: StageDef = {
  name: 'filter',
  enabled: (cfg) => cfg.filter.enabled,
  tasks: (cfg) => cfg.filter.tasks,
  async runTask(cfg, ctx) {
    const inputDir = ctx.inputDir;
    if (!inputDir) throw new CosmoError('filter: no input stage before filter; run generate first');
    const filter = new QualityFilter(cfg.filter, (p) => resolvePath(cfg, p));
    const judging = cfg.filter.judge;
    const pool = judging.enabled
      ? await openPool(judging.engines ? { ...cfg, generate: { ...cfg.generate, engines: judging.engines, endpoints_file: undefined } } : cfg, {
          log: ctx.log,
          cacheName: `judge-${ctx.rank}`,
          workDir: ctx.workDir,
        })
      : undefined;
    try {
      await writeTaskShards(ctx.outputDir, ctx.rank, 'rejects', async (kept, rejects) => {
      const judge = pool && new Judge(pool.pool, judging, (p) => resolvePath(cfg, p));
      const emit = async (s: Sample, v: Verdict) => {
        if (v.keep) {
          await kept.write(v.sample);
          ctx.stats.inc('kept');
          for (const edit of v.sample.filter_edits ?? []) ctx.stats.inc(`stripped.${edit.replace(/^boilerplate:/, '')}`);
        } else {
          const reject: RejectedSample = { ...s, reject_reason: v.reason, ...(v.detail ? { reject_detail: v.detail } : {}) };
          await rejects.write(reject);
          ctx.stats.inc(`dropped.${v.reason}`);
        }
      };
      /** The heuristics, then (for survivors) the judge. */
      const decide = async (s: Sample): Promise<Verdict> => {
        const v = filter.check(s);
        if (!v.keep || !judge) return v;
        const j = await judge.judge(v.sample, ctx.signal);
        if (!j.keep) {
          if (j.score !== undefined) ctx.stats.observe(`judge.${j.rubric}`, j.score);
          return { keep: false, reason: `judge.${j.rubric}`, detail: j.detail };
        }
        for (const [id, score] of Object.entries(j.scores)) ctx.stats.observe(`judge.${id}`, score);
        for (const f of j.failed) {
          ctx.stats.inc(`judge_failed.${f.rubric}`);
          ctx.log.warn('judge gave no score; sample kept unjudged', { id: s.id, rubric: f.rubric, error: f.error });
        }
        const sample: FilteredSample = Object.keys(j.scores).length ? { ...v.sample, judge_scores: j.scores } : v.sample;
        return { keep: true, sample };
      };
      // Judgements run `concurrency` at a time; results are written in input order.
      const window: { s: Sample; v: Promise<Verdict> }[] = [];
      const width = judge ? judging.concurrency : 1;
      const input = readTaskInput<Sample>(inputDir, ctx.rank, ctx.worldSize, {
        skipBad: ctx.options.skipBad,
        onBad: () => ctx.stats.inc('bad_lines'),
      });
      for await (const s of input) {
        ctx.signal.throwIfAborted();
        ctx.stats.inc('samples');
        const v = decide(s);
        v.catch(() => undefined); // awaited below, in order; this only silences an early rejection
        window.push({ s, v });
        while (window.length >= width) {
          const head = window.shift()!;
          await emit(head.s, await head.v);
        }
      }
      for (const head of window.splice(0)) await emit(head.s, await head.v);
      });
    } finally {
      await pool?.close();
    }
  },
  async finalize(_cfg, ctx) {
    const c = ctx.stats.counters;
    const dropped = Object.fromEntries(
      Object.entries(c)
        .filter(([k]) => k.startsWith('dropped.'))
        .map(([k, v]) => [k.slice('dropped.'.length), v]),
    );
    const summary = { samples: c['samples'] ?? 0, kept: c['kept'] ?? 0, dropped };
    await writeJsonAtomic(join(ctx.outputDir, 'summary.json'), summary);
    ctx.log.info('filter done', summary);
  },
};

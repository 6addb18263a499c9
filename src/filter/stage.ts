import { join } from 'node:path';
import { openPool, resolveEngines } from '../engines/open.js';
import { poolModels } from '../engines/config.js';
import { defineStage } from '../exec/stage.js';
import type { Stats } from '../exec/stats.js';
import { writeJsonAtomic } from '../io/atomic.js';
import { flaggedBad, flagsChangedSince, flagsPath } from '../records/review.js';
import { SAMPLE_RECORD } from '../records/check.js';
import type { Sample } from '../records/types.js';
import { CosmoError } from '../util/errors.js';
import { filterSchema, type FilterConfig } from './config.js';
import { QualityFilter, type FilteredSample, type RejectedSample, type Verdict } from './filter.js';
import { Judge, loadRubric } from './judge.js';
import { languageIdentifier, languageVerdict } from './language.js';

/** The judge's pool config; its engines default to generate's (the pipeline fills them in). */
function judgePool(cfg: FilterConfig) {
  const j = cfg.judge;
  if (!j.engines?.length && !j.endpoints_file) throw new CosmoError('filter.judge: no engines to ask; list filter.judge.engines or generate.engines');
  return { ...j, engines: j.engines ?? [] };
}

/**
 * The faithfulness of a kept grounded sample, by whether its prompt carried the passages, and by
 * format and topic within that: where the model drifts, and how much the passages help.
 */
function observeFaithfulness(stats: Stats, s: FilteredSample): void {
  const f = s.faithfulness;
  if (!f) return;
  const carried = s.grounding?.in_prompt ? 'grounded' : 'ungrounded';
  for (const key of [carried, `format.${s.format}.${carried}`, ...(s.topic ? [`topic.${s.topic}.${carried}`] : [])]) {
    stats.observe(`support.${key}`, f.support);
    stats.observe(`unsupported_numbers.${key}`, f.unsupported_numbers.length);
  }
}

/** Mean support and unsupported numbers per sample, per group, from the merged summaries (absent when nothing was grounded). */
function faithfulnessSummary(stats: Stats): { faithfulness?: Record<string, { samples: number; support: number; unsupported_numbers: number }> } {
  const out: Record<string, { samples: number; support: number; unsupported_numbers: number }> = {};
  for (const [k, v] of Object.entries(stats.summaries)) {
    if (!k.startsWith('support.')) continue;
    const group = k.slice('support.'.length);
    const n = stats.summaries[`unsupported_numbers.${group}`];
    out[group] = { samples: v.count, support: Math.round((v.sum / v.count) * 1000) / 1000, unsupported_numbers: n ? Math.round((n.sum / n.count) * 100) / 100 : 0 };
  }
  return Object.keys(out).length ? { faithfulness: out } : {};
}

/**
 * filter: task `rank` writes the samples that pass every check to `<rank>.jsonl` and the others,
 * each with its `reject_reason`, to `rejects/<rank>.jsonl` (a subfolder, so that later stages never
 * read rejects as data). Stats count `kept` and `dropped.<reason>`.
 */
export const filterStage = defineStage({
  name: 'filter',
  key: 'filter',
  schema: filterSchema.prefault({}),
  description: 'drop short, truncated, repetitive, boilerplate, wrong-language or unfaithful samples (rejects kept with their reason)',
  input: { records: SAMPLE_RECORD },
  output: SAMPLE_RECORD,
  sides: ['rejects'],
  // The judge's models and rubrics shape the output; its concurrency, addresses and retries do not.
  // The review flags are a person's, added between runs; like a rerun's retries, they are not a setting.
  settings: ({ review: _review, ...cfg }) => {
    const { enabled, rubrics, temperature, max_tokens, max_text_chars, on_error, engines } = cfg.judge;
    return { ...cfg, judge: { enabled, rubrics, temperature, max_tokens, max_text_chars, on_error, models: engines && poolModels(engines) } };
  },
  enabled: (cfg) => cfg.enabled,
  tasks: (cfg) => cfg.tasks,
  // A flag written after a task started may not have been seen by it: the task runs again, and the
  // stages after filter are made again from its new output.
  rerun: (cfg, marker, workDir) => cfg.review && flagsChangedSince(flagsPath(workDir), Date.parse(marker.started_at)),
  async check(cfg, corpus) {
    new QualityFilter(cfg, corpus.resolve);
    if (!cfg.judge.enabled) return;
    for (const r of cfg.judge.rubrics) loadRubric(r.id, r.file && corpus.resolve(r.file));
    resolveEngines(judgePool(cfg), corpus.resolve);
  },
  async runTask(cfg, ctx) {
    const filter = new QualityFilter(cfg, ctx.corpus.resolve);
    const lid = cfg.language.enabled ? await languageIdentifier() : undefined;
    const judging = cfg.judge;
    const pool = judging.enabled
      ? await openPool(judgePool(cfg), { log: ctx.log, cacheName: `judge-${ctx.rank}`, workDir: ctx.workDir, resolve: ctx.corpus.resolve })
      : undefined;
    try {
      const judge = pool && new Judge(pool.pool, judging, ctx.corpus.resolve);
      const rejects = ctx.side('rejects');
      const emit = async (s: Sample, v: Verdict) => {
        if (v.keep) {
          await ctx.output.write(v.sample);
          ctx.stats.inc('kept');
          for (const edit of v.sample.filter_edits ?? []) ctx.stats.inc(`stripped.${edit.replace(/^boilerplate:/, '')}`);
          observeFaithfulness(ctx.stats, v.sample);
        } else {
          const reject: RejectedSample = { ...s, reject_reason: v.reason, ...(v.detail ? { reject_detail: v.detail } : {}) };
          await rejects.write(reject);
          ctx.stats.inc(`dropped.${v.reason}`);
          if (v.kind) ctx.stats.inc(`${v.reason}.${v.kind}`);
        }
      };
      const flagged = cfg.review ? flaggedBad(flagsPath(ctx.workDir)) : new Map<string, string>();
      if (flagged.size) ctx.log.info('dropping the samples flagged bad in review', { flagged: flagged.size });
      /** A person's flag, the heuristics, the language, then (for survivors) the judge. */
      const decide = async (s: Sample): Promise<Verdict> => {
        const review = flagged.get(s.id);
        if (review !== undefined) return { keep: false, reason: 'review', detail: review };
        let v = filter.check(s);
        if (v.keep && lid) {
          const found = await lid.identify(v.sample.text);
          // The language mix as generated, not as asked for.
          ctx.stats.inc(`detected.${found.score >= cfg.language.min_confidence ? found.language : 'uncertain'}`);
          v = languageVerdict(v.sample, found, cfg.language);
          if (v.keep && v.sample.language_mismatch) ctx.stats.inc('flagged.language');
        }
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
      for await (const s of ctx.input()) {
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
    } finally {
      await pool?.close();
    }
  },
  async finalize(_cfg, ctx) {
    const c = ctx.stats.counters;
    const byPrefix = (prefix: string) =>
      Object.fromEntries(
        Object.entries(c)
          .filter(([k]) => k.startsWith(prefix))
          .map(([k, v]) => [k.slice(prefix.length), v]),
      );
    const summary = {
      samples: c['samples'] ?? 0,
      kept: c['kept'] ?? 0,
      dropped: byPrefix('dropped.'),
      languages_detected: byPrefix('detected.'),
      ...faithfulnessSummary(ctx.stats),
    };
    await writeJsonAtomic(join(ctx.outputDir, 'summary.json'), summary);
    // The per-format and per-topic faithfulness can be long: summary.json has it, the log the two totals.
    const { faithfulness: f, ...brief } = summary;
    ctx.log.info('filter done', { ...brief, ...(f && { faithfulness: { grounded: f['grounded'], ungrounded: f['ungrounded'] } }) });
  },
});

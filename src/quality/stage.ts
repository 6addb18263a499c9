import { join } from 'node:path';
import { resolvePath } from '../config/load.js';
import type { StageDef } from '../exec/stage.js';
import { readTaskInput } from '../io/shards.js';
import { writeJsonAtomic } from '../io/atomic.js';
import { JsonlWriter } from '../io/jsonl-writer.js';
import type { Sample } from '../records/types.js';
import { CosmoError } from '../util/errors.js';
import { QualityFilter, type RejectedSample } from './filter.js';

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
    if (!ctx.inputDir) throw new CosmoError('filter: no input stage before filter; run generate first');
    const filter = new QualityFilter(cfg.filter, (p) => resolvePath(cfg, p));
    const kept = await JsonlWriter.open(join(ctx.outputDir, `${ctx.rank}.jsonl`));
    const rejects = await JsonlWriter.open(join(ctx.outputDir, 'rejects', `${ctx.rank}.jsonl`));
    try {
      const input = readTaskInput<Sample>(ctx.inputDir, ctx.rank, ctx.worldSize, {
        skipBad: ctx.options.skipBad,
        onBad: () => ctx.stats.inc('bad_lines'),
      });
      for await (const s of input) {
        ctx.signal.throwIfAborted();
        ctx.stats.inc('samples');
        const v = filter.check(s);
        if (v.keep) {
          await kept.write(v.sample);
          ctx.stats.inc('kept');
          for (const edit of v.sample.filter_edits ?? []) ctx.stats.inc(`stripped.${edit.replace(/^boilerplate:/, '')}`);
        } else {
          const reject: RejectedSample = { ...s, reject_reason: v.reason, ...(v.detail ? { reject_detail: v.detail } : {}) };
          await rejects.write(reject);
          ctx.stats.inc(`dropped.${v.reason}`);
        }
      }
      await rejects.commit();
      await kept.commit();
    } catch (err) {
      await kept.abort();
      await rejects.abort();
      throw err;
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

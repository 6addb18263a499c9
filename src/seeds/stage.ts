import { join } from 'node:path';
import { resolvePath } from '../config/load.js';
import type { StageDef } from '../exec/stage.js';
import { writeShard } from '../io/shards.js';
import type { SeedRecord } from '../records/types.js';
import { loadSeeds } from './load.js';

/** Stage 1: each task reads one configured seed source and writes its SeedRecords as shard `<rank>.jsonl`. */
export const seedsStage: StageDef = {
  name: 'seeds',
  enabled: (cfg) => cfg.seeds.length > 0,
  tasks: (cfg) => cfg.seeds.length,
  async runTask(cfg, ctx) {
    const src = cfg.seeds[ctx.rank]!;
    const records: SeedRecord[] = [];
    const path = resolvePath(cfg, src.path);
    for await (const seed of loadSeeds(src, path, {
      skipBad: ctx.options.skipBad,
      onBad: (file, line, reason) => {
        ctx.stats.inc('bad_lines');
        ctx.log.warn('skipped bad row', { file, line, reason });
      },
      count: (name, n) => ctx.stats.inc(name, n),
    })) {
      ctx.signal.throwIfAborted();
      records.push(seed);
      ctx.stats.inc(`kind.${seed.kind}`);
    }
    ctx.stats.inc('seeds', records.length);
    await writeShard(join(ctx.outputDir, `${ctx.rank}.jsonl`), records);
    ctx.log.info('seeds loaded', { source: records[0]?.source ?? src.path, seeds: records.length });
  },
};

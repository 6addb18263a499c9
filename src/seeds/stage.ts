import { defineStage } from '../exec/stage.js';
import { SEED_RECORD } from '../records/check.js';
import { CosmoError } from '../util/errors.js';
import { seedsSchema, type SeedSourceConfig } from './config.js';
import { loadSeeds } from './load.js';
import { seedFiles } from './read.js';

/** seeds: each task reads one configured seed source and writes its SeedRecords as shard `<rank>.jsonl`. */
export const seedsStage = defineStage({
  name: 'seeds',
  key: 'seeds',
  schema: seedsSchema,
  description: 'read the seed sources (web, openstax, course, wikihow, instruct, math, kb, outline) into seed shards',
  output: SEED_RECORD,
  settings: (sources, corpus) => sources.map((src) => ({ ...src, path: corpus.resolve(src.path) })),
  inputFiles: (sources, corpus, rank) => [corpus.resolve(sources[rank]!.path)],
  enabled: (sources) => sources.length > 0,
  tasks: (sources) => sources.length,
  async check(sources, corpus) {
    for (const src of sources) seedFiles(corpus.resolve(src.path));
  },
  async runTask(sources, ctx) {
    const src: SeedSourceConfig = sources[ctx.rank]!;
    const path = ctx.corpus.resolve(src.path);
    let written = 0;
    for await (const seed of loadSeeds(src, path, {
      skipBad: ctx.options.skipBad,
      onBad: (file, line, reason) => {
        ctx.stats.inc('bad_lines');
        ctx.log.warn('skipped bad row', { file, line, reason });
      },
      count: (name, n) => ctx.stats.inc(name, n),
    })) {
      ctx.signal.throwIfAborted();
      await ctx.output.write(seed);
      written++;
      ctx.stats.inc(`kind.${seed.kind}`);
    }
    if (written === 0) throw new CosmoError(emptyReason(src, path, ctx.stats.counters));
    ctx.stats.inc('seeds', written);
    ctx.log.info('seeds loaded', { source: src.name ?? src.path, seeds: written });
  },
});

/** Why a seed source gave no records, in the words of what happened to its rows. */
function emptyReason(src: SeedSourceConfig, path: string, c: Record<string, number>): string {
  const rows = c['rows'] ?? 0;
  if (rows === 0) return `the seed file ${path} has no records`;
  if ((c['filtered'] ?? 0) === rows) return `none of the ${rows} rows of ${path} matches the seed source's "match" (${JSON.stringify(src.match)})`;
  return `${path}: none of its ${rows} rows gave a ${src.kind} seed (${c['rows_without_seed'] ?? 0} with nothing to seed from, ${c['duplicates'] ?? 0} duplicates, ${c['bad_lines'] ?? 0} bad)`;
}

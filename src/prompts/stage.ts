import { open } from 'node:fs/promises';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { CorpusConfig } from '../config/schema.js';
import { resolvePath } from '../config/load.js';
import type { StageDef } from '../exec/stage.js';
import { withAtomicPath, writeJsonAtomic } from '../io/atomic.js';
import { listShards, readAll } from '../io/shards.js';
import type { SeedRecord } from '../records/types.js';
import { CosmoError } from '../util/errors.js';
import { buildPrompts, type BuildResult } from './build.js';
import { apportion } from './rng.js';
import { promptStats } from './stats.js';
import { loadTemplates } from './templates.js';

/** Where the build report and the prompt statistics of a run are written, beside the shards. */
export const REPORT_FILE = 'report.json';

/** The configured topics: a list, or a file with one topic per line (relative to the corpus file). */
export function configuredTopics(cfg: CorpusConfig): string[] | undefined {
  const t = cfg.prompts.topics;
  if (t === undefined || Array.isArray(t)) return t;
  const file = resolvePath(cfg, t);
  try {
    return readFileSync(file, 'utf8')
      .split(/\r?\n/)
      .map((l) => l.trim())
      .filter(Boolean);
  } catch (err) {
    throw new CosmoError(`prompts.topics: cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? err}`);
  }
}

/** Build every prompt of a corpus from its seeds (the whole build is deterministic, so any task can redo it). */
export function buildFromSeeds(cfg: CorpusConfig, seeds: SeedRecord[]): BuildResult {
  const dirs = cfg.prompts.templates === undefined ? [] : typeof cfg.prompts.templates === 'string' ? [cfg.prompts.templates] : cfg.prompts.templates;
  const templates = loadTemplates(dirs.map((d) => resolvePath(cfg, d)));
  return buildPrompts(seeds, cfg.prompts, { templates, seed: cfg.seed, topics: configuredTopics(cfg) });
}

/** The contiguous range of the sorted prompts that shard `rank` of `shards` holds (prefix groups stay together). */
export function shardRange(total: number, rank: number, shards: number): [number, number] {
  const sizes = apportion(total, Array.from({ length: shards }, () => 1));
  const start = sizes.slice(0, rank).reduce((a, b) => a + b, 0);
  return [start, start + sizes[rank]!];
}

/** Write records as JSONL atomically, a chunk at a time, so a large shard never needs one giant string. */
export async function writeJsonlStreaming(file: string, records: Iterable<unknown>): Promise<void> {
  await withAtomicPath(file, async (tmp) => {
    const fh = await open(tmp, 'w');
    try {
      let buf = '';
      for (const r of records) {
        buf += JSON.stringify(r) + '\n';
        if (buf.length > 1 << 22) {
          await fh.write(buf);
          buf = '';
        }
      }
      if (buf) await fh.write(buf);
      await fh.sync();
    } finally {
      await fh.close();
    }
  });
}

/** The last build in this process: tasks run one after another in one process share it instead of rebuilding. */
let last: { key: string; seeds: SeedRecord[]; built: BuildResult } | undefined;

async function buildOnce(cfg: CorpusConfig, inputDir: string): Promise<{ seeds: SeedRecord[]; built: BuildResult }> {
  const shards = listShards(inputDir).map((f) => {
    const st = statSync(f);
    return [f, st.size, st.mtimeMs];
  });
  const key = JSON.stringify([cfg.seed, cfg.prompts, cfg.base_dir, shards]);
  if (last?.key === key) return last;
  const seeds: SeedRecord[] = [];
  for await (const s of readAll<SeedRecord>(inputDir)) seeds.push(s);
  if (seeds.length === 0) throw new CosmoError(`prompts: no seeds in ${inputDir}; run the seeds stage first`);
  last = { key, seeds, built: buildFromSeeds(cfg, seeds) };
  return last;
}

/**
 * Stage 3: builds the prompts from the seed shards and writes them as `prompts.tasks` shards. Each task
 * builds the whole (deterministic, fast) set and writes its own contiguous slice; task 0 also writes the report.
 */
export const promptsStage: StageDef = {
  name: 'prompts',
  enabled: () => true,
  tasks: (cfg) => cfg.prompts.tasks,
  async runTask(cfg, ctx) {
    if (!ctx.inputDir) throw new CosmoError('prompts: no seeds stage before it; configure "seeds" in the corpus file');
    const { seeds, built } = await buildOnce(cfg, ctx.inputDir);
    const { report } = built;
    ctx.signal.throwIfAborted();
    const [start, end] = shardRange(built.size, ctx.rank, ctx.worldSize);
    await writeJsonlStreaming(join(ctx.outputDir, `${ctx.rank}.jsonl`), built.records(start, end));
    ctx.stats.inc('prompts', end - start);
    if (ctx.rank === 0) {
      ctx.stats.inc('seeds', seeds.length);
      ctx.stats.inc('duplicates_removed', report.duplicates_removed);
      ctx.stats.inc('near_duplicates', report.near_duplicates);
      ctx.stats.inc('capped', report.capped);
      ctx.stats.inc('shortfall', report.shortfalls.reduce((a, s) => a + s.requested - s.built, 0));
      for (const s of report.shortfalls) ctx.log.warn('mix cell ran out of distinct prompts', { cell: s.cell, built: s.built, requested: s.requested });
      await writeJsonAtomic(join(ctx.outputDir, REPORT_FILE), promptStats(built.records(), report));
    }
    const prompts = built.size;
    const mine = end - start;
    ctx.log.info('prompts written', { shard: ctx.rank, prompts: mine, of: prompts });
  },
};

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { defineStage, type CorpusEnv } from '../exec/stage.js';
import { writeJsonAtomic } from '../io/atomic.js';
import { fileIdentity } from '../io/identity.js';
import { PROMPT_RECORD, SEED_RECORD } from '../records/check.js';
import type { SeedRecord } from '../records/types.js';
import { CosmoError } from '../util/errors.js';
import { buildPrompts, type BuildResult } from './build.js';
import { promptsSchema, type PromptsConfig } from './config.js';
import { apportion } from './rng.js';
import { promptStats } from './stats.js';
import { matchTopics, type TopicMatchReport } from './topics.js';
import { loadTemplates } from './templates.js';

/** Where the build report and the prompt statistics of a run are written, beside the shards. */
export const REPORT_FILE = 'report.json';

/** The configured topics file, when `topics` names a file rather than listing them. */
const topicsFile = (cfg: PromptsConfig, corpus: CorpusEnv) => (typeof cfg.topics === 'string' ? corpus.resolve(cfg.topics) : undefined);

/** Folders of the user's own templates. */
const templateDirs = (cfg: PromptsConfig, corpus: CorpusEnv): string[] =>
  (cfg.templates === undefined ? [] : typeof cfg.templates === 'string' ? [cfg.templates] : cfg.templates).map((d) => corpus.resolve(d));

/** The configured topics: a list, or a file with one topic per line (relative to the corpus file). */
export function configuredTopics(cfg: PromptsConfig, corpus: CorpusEnv): string[] | undefined {
  const file = topicsFile(cfg, corpus);
  if (file === undefined) return cfg.topics as string[] | undefined;
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
export async function buildFromSeeds(cfg: PromptsConfig, corpus: CorpusEnv, seeds: SeedRecord[]): Promise<BuildResult & { topics: TopicMatchReport }> {
  const templates = loadTemplates(templateDirs(cfg, corpus));
  const matched = await matchTopics(seeds, configuredTopics(cfg, corpus) ?? [], { embedder: cfg.topic_embedder, threshold: cfg.topic_threshold });
  return Object.assign(buildPrompts(matched.seeds, cfg, { templates, seed: corpus.seed }), { topics: matched.report });
}

/** The contiguous range of the sorted prompts that shard `rank` of `shards` holds (prefix groups stay together). */
export function shardRange(total: number, rank: number, shards: number): [number, number] {
  const sizes = apportion(total, Array.from({ length: shards }, () => 1));
  const start = sizes.slice(0, rank).reduce((a, b) => a + b, 0);
  return [start, start + sizes[rank]!];
}

/** The last build in this process: tasks run one after another in one process share it instead of rebuilding. */
let last: { key: string; seeds: SeedRecord[]; built: Awaited<ReturnType<typeof buildFromSeeds>> } | undefined;

/**
 * prompts: builds the prompts from all the seeds and writes them as `prompts.tasks` shards. Each task
 * builds the whole (deterministic, fast) set and writes its own contiguous slice; task 0 also writes
 * the report.
 */
export const promptsStage = defineStage({
  name: 'prompts',
  key: 'prompts',
  schema: promptsSchema.prefault({}),
  description: 'build the prompts from the seeds (templates x formats x audiences)',
  input: { records: SEED_RECORD, whole: true },
  output: PROMPT_RECORD,
  settings: (cfg, corpus) => ({ ...cfg, templates: templateDirs(cfg, corpus), topics: topicsFile(cfg, corpus) ?? cfg.topics }),
  inputFiles: (cfg, corpus) => [...templateDirs(cfg, corpus), ...(topicsFile(cfg, corpus) ? [topicsFile(cfg, corpus)!] : [])],
  enabled: () => true,
  tasks: (cfg) => cfg.tasks,
  async check(cfg, corpus) {
    loadTemplates(templateDirs(cfg, corpus));
    configuredTopics(cfg, corpus);
  },
  async runTask(cfg, ctx) {
    const key = JSON.stringify([ctx.corpus.seed, cfg, ctx.inputDir, ctx.inputDir && fileIdentity(ctx.inputDir)]);
    if (last?.key !== key) {
      const seeds: SeedRecord[] = [];
      for await (const s of ctx.input()) seeds.push(s);
      last = { key, seeds, built: await buildFromSeeds(cfg, ctx.corpus, seeds) };
    }
    const { seeds, built } = last;
    const { report } = built;
    ctx.signal.throwIfAborted();
    const [start, end] = shardRange(built.size, ctx.rank, ctx.worldSize);
    for (const record of built.records(start, end)) await ctx.output.write(record);
    ctx.stats.inc('prompts', end - start);
    if (ctx.rank === 0) {
      ctx.stats.inc('seeds', seeds.length);
      ctx.stats.inc('duplicates_removed', report.duplicates_removed);
      ctx.stats.inc('near_duplicates', report.near_duplicates);
      ctx.stats.inc('capped', report.capped);
      ctx.stats.inc('shortfall', report.shortfalls.reduce((a, s) => a + s.requested - s.built, 0));
      const t = built.topics;
      if (cfg.topics !== undefined && t.matched + t.unmatched > 0) {
        ctx.stats.inc('topic_matched', t.matched);
        ctx.stats.inc('topic_unmatched', t.unmatched);
        ctx.log.info('topics of the list matched to seeds without one', { matched: t.matched, without_topic: t.unmatched, threshold: t.threshold });
      }
      for (const s of report.shortfalls) ctx.log.warn('mix cell ran out of distinct prompts', { cell: s.cell, built: s.built, requested: s.requested });
      await writeJsonAtomic(join(ctx.outputDir, REPORT_FILE), { ...promptStats(built.records(), report), topic_matching: built.topics });
    }
    ctx.log.info('prompts written', { shard: ctx.rank, prompts: end - start, of: built.size });
  },
});

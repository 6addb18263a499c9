import { basename } from 'node:path';
import { createEmbedder } from '../embed/create.js';
import { defineStage, type CorpusEnv } from '../exec/stage.js';
import { PROMPT_RECORD } from '../records/check.js';
import { CosmoError } from '../util/errors.js';
import { knowledgeSchema, type KnowledgeConfig } from './config.js';
import { indexFiles, writeManifest } from './build.js';
import { knowledgeFiles } from './documents.js';
import { Grounder } from './ground.js';
import { KnowledgeIndex } from './search.js';

const KNOWLEDGE = 'knowledge';
/** One schema object for both steps: the registry checks that steps sharing a config key share its schema. */
const schema = knowledgeSchema.prefault({});

/** Task `rank`'s files: every `tasks`-th one. */
const filesOf = (cfg: KnowledgeConfig, corpus: CorpusEnv, rank: number) => knowledgeFiles(cfg, corpus.resolve).filter((_, i) => i % cfg.tasks === rank);

/** What retrieval looks at, without how an embedding endpoint is reached (address, batching, retries). */
function retrieveSettings(cfg: KnowledgeConfig) {
  const { semantic, ...rest } = cfg.retrieve;
  if (!semantic) return rest;
  const e = semantic.embedder;
  // A GGUF or endpoint embedder is its model: threads, addresses and batching do not change the vectors.
  const embedder = 'model' in e ? { type: e.type, model: e.model } : e;
  return { ...rest, semantic: { ...semantic, embedder } };
}

/** What the index is made of: the files' names and the chunking (paths are where, not what). */
const indexSettings = (cfg: KnowledgeConfig, corpus: CorpusEnv) => {
  const { retrieve: _r, segment_passages: _s, files: _f, ...rest } = cfg;
  return { ...rest, files: knowledgeFiles(cfg, corpus.resolve).map((f) => basename(f)) };
};

/**
 * knowledge: documents of a knowledge source (a Wikipedia dump, textbooks, a wiki) cut into
 * passages and indexed with BM25 on disk. Each task indexes its share of the files into segments
 * of at most `segment_passages` passages (its memory bound); the manifest names them all once
 * every task is done. Off until `knowledge.files` is set.
 */
export const knowledgeStage = defineStage({
  name: KNOWLEDGE,
  key: KNOWLEDGE,
  schema,
  description: 'cut a knowledge source into passages and index them for retrieval (BM25, on disk)',
  settings: indexSettings,
  inputFiles: filesOf,
  enabled: (cfg) => cfg.files !== undefined,
  tasks: (cfg) => cfg.tasks,
  async check(cfg, corpus) {
    if (knowledgeFiles(cfg, corpus.resolve).length === 0) throw new CosmoError(`knowledge.files: no files found in ${JSON.stringify(cfg.files)}`);
  },
  async runTask(cfg, ctx) {
    const counts = await indexFiles(filesOf(cfg, ctx.corpus, ctx.rank), cfg, ctx.outputDir, ctx.rank, {
      log: ctx.log,
      signal: ctx.signal,
      skipBad: ctx.options.skipBad,
      onBad: (file, line, reason) => ctx.stats.note(`bad_line.${file}:${line}`, reason),
    });
    for (const [k, v] of Object.entries(counts)) ctx.stats.inc(k, v);
  },
  async finalize(cfg, ctx) {
    const c = ctx.stats.counters;
    const manifest = await writeManifest(ctx.outputDir, cfg, { documents: c['documents'] ?? 0, passages: c['passages'] ?? 0 }, knowledgeFiles(cfg, ctx.corpus.resolve));
    ctx.log.info('knowledge index ready', { documents: manifest.documents, passages: manifest.passages, segments: manifest.segments.length, dir: ctx.outputDir });
  },
});

/** The embedder that reorders candidates by meaning, fitted (SIF, TF-IDF) on a sample of the index's passages. */
async function openReranker(cfg: KnowledgeConfig, index: KnowledgeIndex, corpus: CorpusEnv, seed: number) {
  const semantic = cfg.retrieve.semantic;
  if (!semantic) return undefined;
  const sample: string[] = [];
  for (const seg of index.segments) {
    const step = Math.max(1, Math.floor(seg.meta.passages / 2000));
    for (let d = 0; d < seg.meta.passages && sample.length < 2000 * index.segments.length; d += step) sample.push(seg.passage(d).text);
  }
  return createEmbedder(semantic.embedder, sample, { resolve: corpus.resolve, seed });
}

/**
 * ground: every prompt gets passages from the knowledge index; a seeded share of them carry the
 * passages as reference material (see Grounder). Counts how many prompts found passages and how
 * many carry them.
 */
export const groundStage = defineStage({
  name: 'ground',
  key: KNOWLEDGE,
  schema,
  description: 'retrieve passages from the knowledge index for every prompt; a share of the prompts carry them',
  input: { records: PROMPT_RECORD },
  output: PROMPT_RECORD,
  reads: [KNOWLEDGE],
  settings: (cfg) => retrieveSettings(cfg),
  enabled: (cfg) => cfg.files !== undefined,
  tasks: (cfg) => cfg.tasks,
  async runTask(cfg, ctx) {
    const index = KnowledgeIndex.open(ctx.dir(KNOWLEDGE));
    const embedder = await openReranker(cfg, index, ctx.corpus, ctx.corpus.seed);
    try {
      const grounder = new Grounder(index, cfg.retrieve, ctx.corpus.seed, embedder);
      for await (const p of ctx.input()) {
        ctx.signal.throwIfAborted();
        const g = await grounder.ground(p, ctx.signal);
        ctx.stats.inc('prompts');
        if (g.grounding!.passages.length === 0) ctx.stats.inc('no_passage');
        if (g.grounding!.in_prompt) ctx.stats.inc('in_prompt');
        ctx.stats.inc('passages', g.grounding!.passages.length);
        await ctx.output.write(g);
      }
    } finally {
      await embedder?.close?.();
      index.close();
    }
  },
  async finalize(_cfg, ctx) {
    const c = ctx.stats.counters;
    ctx.log.info('prompts grounded', { prompts: c['prompts'] ?? 0, with_passages: (c['prompts'] ?? 0) - (c['no_passage'] ?? 0), carrying_them: c['in_prompt'] ?? 0 });
  },
});

export const KNOWLEDGE_STAGES = [knowledgeStage, groundStage] as const;

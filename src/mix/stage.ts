import { basename, join } from 'node:path';
import { seededRandom } from '../embed/linalg.js';
import { loadTokenizer } from '../engines/tokenizer.js';
import { datasetSamples, defineStage, type CorpusEnv, type TaskContext } from '../exec/stage.js';
import { writeJsonAtomic } from '../io/atomic.js';
import { dataFiles } from '../io/files.js';
import { readRecords } from '../io/shards.js';
import { SAMPLE_RECORD, type RecordSpec } from '../records/check.js';
import { stableId } from '../records/id.js';
import type { Sample } from '../records/types.js';
import { CosmoError } from '../util/errors.js';
import { mixSchema, type MixConfig, type MixSource } from './config.js';

/** A row of the mix: its text, the source it came from, and its tokens under the mix's tokenizer. */
export interface MixRecord {
  id: string;
  text: string;
  source: string;
  token_count: number;
}

export const MIX_RECORD: RecordSpec<MixRecord> = { kind: 'sample', check: SAMPLE_RECORD.check };

const DATA_FILE = /\.(jsonl|jsonl\.gz|json\.gz|parquet)$/;

const tokenizerSpec = (cfg: MixConfig, corpus: CorpusEnv): string => {
  if (!cfg.tokenizer) throw new CosmoError('mix.tokenizer: name a tokenizer.json, a folder with one, or a .gguf model to count tokens with (no embedded generate engine to take it from)');
  return cfg.tokenizer.startsWith('hf:') ? cfg.tokenizer : corpus.resolve(cfg.tokenizer);
};

/** The files of a real source. */
function sourceFiles(src: MixSource, corpus: CorpusEnv): string[] {
  const files = dataFiles(corpus.resolve(src.path!), `mix source ${src.name}`).filter((f) => DATA_FILE.test(f));
  if (files.length === 0) throw new CosmoError(`mix source ${src.name}: no JSONL(.gz) or Parquet file in ${corpus.resolve(src.path!)}`);
  return files;
}

/**
 * This task's documents of a source, in a stable order: its share of the corpus's samples, or of a
 * real source's files (whole files when there are at least as many as tasks, else every n-th row).
 */
async function* sourceDocs(src: MixSource, ctx: TaskContext<Sample>, pass: 1 | 2): AsyncGenerator<{ id: string; text: string }> {
  if (!src.path) {
    for await (const s of datasetSamples(ctx, pass === 1)) if (s.text) yield { id: s.id, text: s.text };
    return;
  }
  const files = sourceFiles(src, ctx.corpus);
  const byFile = files.length >= ctx.worldSize;
  const check = (v: Record<string, unknown>) => (typeof v[src.text_field] === 'string' ? undefined : `mix source ${src.name}: field "${src.text_field}" is not a string`);
  let row = 0;
  for (const [i, file] of files.entries()) {
    if (byFile && i % ctx.worldSize !== ctx.rank) continue;
    let line = 0;
    for await (const r of readRecords(file, { check, skipBad: ctx.options.skipBad, onBad: () => pass === 1 && ctx.stats.inc('bad_lines') })) {
      line++;
      if (!byFile && row++ % ctx.worldSize !== ctx.rank) continue;
      const text = r[src.text_field] as string;
      if (!text) continue;
      yield { id: `${src.name}:${typeof r.id === 'string' || typeof r.id === 'number' ? r.id : stableId(basename(file), line)}`, text };
    }
  }
}

/**
 * Which documents of a source fill its quota: taken in a seeded random order, each kept when it
 * brings the total nearer the quota, so that the share comes out exact to within part of one
 * document, whatever the lengths.
 */
function select(counts: number[], quota: number, random: () => number): Uint8Array {
  const order = Uint32Array.from({ length: counts.length }, (_, i) => i);
  for (let i = order.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  const chosen = new Uint8Array(counts.length);
  let total = 0;
  for (const i of order) {
    if (quota - total <= quota * 1e-4) break;
    const c = counts[i]!;
    if (Math.abs(total + c - quota) < Math.abs(total - quota)) {
      chosen[i] = 1;
      total += c;
    }
  }
  return chosen;
}

/**
 * mix: the corpus interleaved with real corpora at configured token ratios, as hybrid pretraining
 * sets are made. Each task mixes its share of every source: it counts every document's tokens
 * (pass 1), works out how many tokens each source gives (the scarcest source, relative to its
 * weight, and the caps bound the total), picks the documents with a seeded draw, then reads the
 * sources again and writes the picked documents interleaved in proportion (pass 2). Memory holds 4
 * bytes a document. The records carry a `source` column; tokenize, when on, tokenizes the mix.
 */
export const mixStage = defineStage({
  name: 'mix',
  key: 'mix',
  schema: mixSchema.prefault({}),
  description: 'interleave the corpus with real corpora (JSONL / Parquet) at configured token ratios, seeded, with a source column',
  input: { records: SAMPLE_RECORD },
  output: MIX_RECORD,
  settings: (cfg, corpus) => ({ ...cfg, seed: corpus.seed }),
  enabled: (cfg) => cfg.enabled,
  tasks: (cfg) => cfg.tasks,
  inputFiles: (cfg, corpus) => {
    const spec = tokenizerSpec(cfg, corpus);
    return [...(spec.startsWith('hf:') ? [] : [spec]), ...cfg.sources.filter((s) => s.path).flatMap((s) => sourceFiles(s, corpus))];
  },
  async check(cfg, corpus) {
    tokenizerSpec(cfg, corpus);
    for (const s of cfg.sources) if (s.path) sourceFiles(s, corpus);
  },
  async runTask(cfg, ctx) {
    const tok = await loadTokenizer(tokenizerSpec(cfg, ctx.corpus), ctx.log);
    const weight = cfg.sources.reduce((n, s) => n + s.weight, 0);
    // Pass 1: every document's tokens.
    const counts: number[][] = [];
    for (const src of cfg.sources) {
      const c: number[] = [];
      for await (const d of sourceDocs(src, ctx, 1)) {
        ctx.signal.throwIfAborted();
        c.push(tok.encode(d.text).length);
      }
      counts.push(c);
    }
    const available = cfg.sources.map((s, i) => Math.min(counts[i]!.reduce((n, c) => n + c, 0), s.max_tokens === undefined ? Infinity : s.max_tokens / ctx.worldSize));
    const share = cfg.sources.map((s) => s.weight / weight);
    const bounds = available.map((a, i) => a / share[i]!);
    let total = Math.min(...bounds, cfg.max_tokens === undefined ? Infinity : cfg.max_tokens / ctx.worldSize);
    if (!Number.isFinite(total)) total = 0;
    const quota = share.map((s) => s * total);
    const chosen = cfg.sources.map((s, i) => select(counts[i]!, quota[i]!, seededRandom((ctx.corpus.seed * 7919 + ctx.rank * 104_729 + Number.parseInt(stableId(s.name).slice(0, 8), 16)) >>> 0)));
    cfg.sources.forEach((s, i) => {
      ctx.stats.inc(`available.${s.name}`, Math.round(available[i]!));
      ctx.stats.inc(`quota.${s.name}`, Math.round(quota[i]!));
    });
    const limit = bounds.indexOf(Math.min(...bounds));
    if (limit >= 0 && bounds[limit]! <= total) ctx.stats.note('limited_by', cfg.sources[limit]!.name);

    // Pass 2: the chosen documents, interleaved: always from the source furthest behind its quota.
    const streams = cfg.sources.map((src, i) => ({ src, i, docs: sourceDocs(src, ctx, 2)[Symbol.asyncIterator](), at: 0, emitted: 0, done: false }));
    const nextChosen = async (s: (typeof streams)[number]) => {
      for (;;) {
        const r = await s.docs.next();
        if (r.done) return undefined;
        const k = s.at++;
        if (chosen[s.i]![k]) return { ...r.value, tokens: counts[s.i]![k]! };
      }
    };
    for (;;) {
      ctx.signal.throwIfAborted();
      const live = streams.filter((s) => !s.done && quota[s.i]! > 0);
      if (live.length === 0) break;
      const s = live.reduce((a, b) => (a.emitted / quota[a.i]! <= b.emitted / quota[b.i]! ? a : b));
      const doc = await nextChosen(s);
      if (!doc) {
        s.done = true;
        continue;
      }
      s.emitted += doc.tokens;
      await ctx.output.write({ id: doc.id, text: doc.text, source: s.src.name, token_count: doc.tokens } satisfies MixRecord);
      ctx.stats.inc(`tokens.${s.src.name}`, doc.tokens);
      ctx.stats.inc(`documents.${s.src.name}`);
      ctx.stats.inc('tokens', doc.tokens);
      ctx.stats.inc('documents');
    }
  },
  async finalize(cfg, ctx) {
    const weight = cfg.sources.reduce((n, s) => n + s.weight, 0);
    const total = ctx.stats.get('tokens');
    const sources = cfg.sources.map((s) => ({
      name: s.name,
      corpus: !s.path,
      target_share: s.weight / weight,
      achieved_share: total ? ctx.stats.get(`tokens.${s.name}`) / total : 0,
      tokens: ctx.stats.get(`tokens.${s.name}`),
      documents: ctx.stats.get(`documents.${s.name}`),
      available_tokens: ctx.stats.get(`available.${s.name}`),
    }));
    await writeJsonAtomic(join(ctx.outputDir, 'summary.json'), { tokens: total, documents: ctx.stats.get('documents'), limited_by: ctx.stats.notes.limited_by ?? null, sources });
    ctx.log.info('mixed', Object.fromEntries(sources.map((s) => [s.name, `${(100 * s.achieved_share).toFixed(2)}% (target ${(100 * s.target_share).toFixed(2)}%)`])));
    if (total === 0) throw new CosmoError(`mix: no tokens were mixed: ${sources.filter((s) => s.available_tokens === 0).map((s) => s.name).join(', ') || 'every source'} gave none`);
  },
});

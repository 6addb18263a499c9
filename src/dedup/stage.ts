import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { defineStage, type TaskContext } from '../exec/stage.js';
import { writeShard } from '../io/shards.js';
import { readJsonl } from '../io/jsonl.js';
import { writeFileAtomic, writeJsonAtomic } from '../io/atomic.js';
import type { JsonlWriter } from '../io/jsonl-writer.js';
import { SAMPLE_RECORD } from '../records/check.js';
import type { Sample } from '../records/types.js';
import { concatArrays } from '../util/arrays.js';
import { CosmoError } from '../util/errors.js';
import { dedupSchema, type DedupConfig } from './config.js';
import { MinHasher } from './minhash.js';
import { SignaturePool } from './pool.js';
import { defaultThreads } from '../util/runtime.js';
import { BATCH_CHARS, BATCH_DOCS, hashJsonl, splitJsonl, type Batch } from './threaded.js';
import { pipelined } from '../util/pipelined.js';
import { cluster, EdgeFinder, type Removal } from './cluster.js';
import {
  readSignatureMeta,
  readU32File,
  SignatureBuilder,
  SignatureFiles,
  writeSignatures,
  type ShardSignatures,
  type SignatureMeta,
} from './signatures.js';

/**
 * Dedup as pipeline stages. With `dedup.tasks` = N > 1 it runs as four steps, like datatrove:
 *   dedup-signatures (N tasks): exact key, MinHash signature and band keys of each document;
 *   dedup-buckets    (N tasks): task t collides the keys of bands b with b % N = t (the exact key is band `bands`);
 *   dedup-clusters   (1 task):  union-find over all duplicate edges, one survivor per cluster;
 *   dedup            (N tasks): task t rereads its input and splits it into kept and removed shards.
 * With one task, `dedup` does all of it in one pass in memory, through the same functions.
 */

export const SIGNATURES = 'dedup-signatures';
export const BUCKETS = 'dedup-buckets';
export const CLUSTERS = 'dedup-clusters';

/** A removed document: the sample plus the id of the survivor it duplicates. */
export type RemovedSample = Sample & { duplicate_of: string; duplicate_kind: 'exact' | 'near' };

const sharded = (cfg: DedupConfig) => cfg.enabled && cfg.tasks > 1;

function paramsOf(cfg: DedupConfig) {
  const { ngram, bands, rows, seed, exact, minhash, threshold } = cfg;
  return { ngram, bands, rows, seed, exact, minhash, threshold };
}

type Ctx = TaskContext<Sample>;

/** Worker threads for this task's signatures: the config's, else its share of the cores (see `threads` in config.ts). */
export function signatureThreads(cfg: DedupConfig, concurrentTasks: number): number {
  return cfg.threads ?? defaultThreads(concurrentTasks);
}

async function buildSignatures(cfg: DedupConfig, ctx: Ctx, pool?: SignaturePool): Promise<{ sigs: ShardSignatures; batches: Batch[] | undefined }> {
  const builder = new SignatureBuilder(new MinHasher(cfg), cfg.minhash);
  const files = ctx.inputFiles();
  if (!pool) {
    // As in hashJsonl, from the first 64 documents (a record's JSON taken as its text, its id and ~32 bytes more).
    const totalBytes = files?.reduce((n, f) => n + statSync(f).size, 0) ?? 0;
    let bytes = 0;
    for await (const s of ctx.input()) {
      ctx.signal.throwIfAborted();
      builder.add(s.id, s.text ?? '');
      bytes += (s.text?.length ?? 0) + s.id.length + 32;
      if (builder.out.docs === 64) builder.out.expect(64, bytes, totalBytes);
    }
    return { sigs: builder.out, batches: undefined };
  }
  if (files) return { sigs: builder.out, batches: await hashJsonl(files, pool, builder, ctx) };
  // Other formats: records read and parsed here, their texts hashed on the workers.
  const size = pool.recordSize;
  async function* batches(): AsyncGenerator<{ ids: string[]; texts: string[] }> {
    let batch = { ids: [] as string[], texts: [] as string[] };
    let chars = 0;
    for await (const s of ctx.input()) {
      const text = s.text ?? '';
      batch.ids.push(s.id);
      batch.texts.push(text);
      chars += text.length;
      if (batch.texts.length >= BATCH_DOCS || chars >= BATCH_CHARS) {
        yield batch;
        batch = { ids: [], texts: [] };
        chars = 0;
      }
    }
    if (batch.texts.length) yield batch;
  }
  await pipelined(
    batches(),
    2 * pool.threads,
    ctx.signal,
    (b) => pool.hashTexts(b.texts),
    (b, r) => {
      for (let d = 0; d < b.ids.length; d++) builder.addHashed(b.ids[d]!, r.out, d * size);
    },
  );
  return { sigs: builder.out, batches: undefined };
}

/** A pool of signature workers for this task, or none when the config or the machine says 0 threads. */
function startPool(cfg: DedupConfig, ctx: Ctx): SignaturePool | undefined {
  const threads = signatureThreads(cfg, ctx.concurrent);
  return threads > 0 ? new SignaturePool({ params: paramsOf(cfg), minhash: cfg.minhash }, threads) : undefined;
}

async function withPool<T>(cfg: DedupConfig, ctx: Ctx, fn: (pool: SignaturePool | undefined) => Promise<T>): Promise<T> {
  const pool = startPool(cfg, ctx);
  try {
    return await fn(pool);
  } finally {
    await pool?.close();
  }
}

/** (hi, lo, doc) triples of exact keys, documents numbered from `offset`; documents without words are left out. */
export function exactEntries(exact: Uint32Array, offset: number): Uint32Array {
  const docs = exact.length / 2;
  const out = new Uint32Array(docs * 3);
  let n = 0;
  for (let d = 0; d < docs; d++) {
    if (exact[2 * d] === 0 && exact[2 * d + 1] === 0) continue;
    out[n++] = exact[2 * d]!;
    out[n++] = exact[2 * d + 1]!;
    out[n++] = d + offset;
  }
  return out.subarray(0, n);
}

function checkParams(meta: SignatureMeta, cfg: DedupConfig, dir: string): void {
  if (JSON.stringify(meta.params) !== JSON.stringify(paramsOf(cfg)))
    throw new CosmoError(
      `dedup: ${dir} was computed with ${JSON.stringify(meta.params)}, but the config now says ${JSON.stringify(paramsOf(cfg))}; ` +
        `delete the dedup-* folders under ${join(dir, '..', '..')} to redo dedup`,
    );
}

async function readMetas(cfg: DedupConfig, signaturesDir: string): Promise<{ metas: SignatureMeta[]; offsets: number[]; total: number }> {
  const metas: SignatureMeta[] = [];
  const offsets: number[] = [];
  let total = 0;
  for (let r = 0; r < cfg.tasks; r++) {
    const dir = join(signaturesDir, String(r));
    const meta = await readSignatureMeta(dir);
    checkParams(meta, cfg, dir);
    metas.push(meta);
    offsets.push(total);
    total += meta.docs;
  }
  return { metas, offsets, total };
}

/** The dedup steps share the `dedup` config section, and the settings that shape their output. */
const common = {
  key: 'dedup' as const,
  schema: dedupSchema.prefault({}),
  // Threads change how fast signatures are computed, never what they are.
  settings: ({ threads: _t, ...cfg }: DedupConfig) => cfg,
};

export const dedupSignaturesStage = defineStage({
  ...common,
  name: SIGNATURES,
  input: { records: SAMPLE_RECORD },
  enabled: sharded,
  tasks: (cfg) => cfg.tasks,
  async runTask(cfg, ctx) {
    const { sigs } = await withPool(cfg, ctx, (pool) => buildSignatures(cfg, ctx, pool));
    await writeSignatures(join(ctx.outputDir, String(ctx.rank)), sigs, paramsOf(cfg));
    ctx.stats.inc('docs', sigs.docs);
  },
});

export const dedupBucketsStage = defineStage({
  ...common,
  name: BUCKETS,
  reads: [SIGNATURES],
  enabled: sharded,
  tasks: (cfg) => cfg.tasks,
  async runTask(cfg, ctx) {
    const { metas, offsets, total } = await readMetas(cfg, ctx.dir(SIGNATURES));
    const dir = (r: number) => join(ctx.dir(SIGNATURES), String(r));
    const files = new SignatureFiles(metas.map((_, r) => join(dir(r), 'sigs.bin')), offsets, metas[0]?.hashes ?? 0);
    try {
      const finder = new EdgeFinder(total, cfg.threshold, (doc, slot) => files.get(doc, slot));
      const { bands } = cfg;
      // Key `bands` is the exact key; it goes first so that exact copies are never verified again.
      for (const key of [bands, ...Array(bands).keys()]) {
        if (key % ctx.worldSize !== ctx.rank) continue;
        if (key === bands && !cfg.exact) continue;
        if (key < bands && !cfg.minhash) continue;
        ctx.signal.throwIfAborted();
        const parts: Uint32Array[] = [];
        for (let r = 0; r < metas.length; r++) {
          if (key === bands) parts.push(exactEntries(await readU32File(join(dir(r), 'exact.bin')), offsets[r]!));
          else {
            const part = await readU32File(join(dir(r), `band-${key}.bin`));
            for (let i = 2; i < part.length; i += 3) part[i] = part[i]! + offsets[r]!;
            parts.push(part);
          }
        }
        const entries = concatArrays(parts, Uint32Array);
        if (key === bands) finder.addExact(entries);
        else finder.addBand(entries);
      }
      const edges = finder.edges.view();
      await writeFileAtomic(join(ctx.outputDir, `${ctx.rank}.bin`), new Uint8Array(edges.buffer, edges.byteOffset, edges.byteLength));
      ctx.stats.inc('edges', edges.length / 3);
      ctx.stats.inc('verified', finder.verified);
      ctx.stats.inc('rejected_candidates', finder.rejected);
    } finally {
      files.close();
    }
  },
});

interface RemovalLine {
  i: number;
  id: string;
  duplicate_of: string;
  kind: 'exact' | 'near';
}

export const dedupClustersStage = defineStage({
  ...common,
  name: CLUSTERS,
  reads: [SIGNATURES, BUCKETS],
  enabled: sharded,
  tasks: () => 1,
  async runTask(cfg, ctx) {
    const { metas, offsets } = await readMetas(cfg, ctx.dir(SIGNATURES));
    const ids = metas.flatMap((m) => m.ids);
    const edges: Uint32Array[] = [];
    for (let t = 0; t < cfg.tasks; t++) {
      const file = join(ctx.dir(BUCKETS), `${t}.bin`);
      if (!existsSync(file)) throw new CosmoError(`dedup: ${file} is missing; rerun the dedup-buckets step`);
      edges.push(await readU32File(file));
    }
    const { removed, clusters } = cluster(ids, edges);
    const perRank: RemovalLine[][] = metas.map(() => []);
    for (const r of removed) {
      let rank = offsets.length - 1;
      while (offsets[rank]! > r.doc) rank--;
      perRank[rank]!.push({ i: r.doc - offsets[rank]!, id: ids[r.doc]!, duplicate_of: ids[r.of]!, kind: r.kind });
    }
    for (let r = 0; r < perRank.length; r++) await writeShard(join(ctx.outputDir, `removals-${r}.jsonl`), perRank[r]!);
    ctx.stats.inc('docs', ids.length);
    ctx.stats.inc('clusters', clusters);
    ctx.stats.inc('removed', removed.length);
  },
});

/** The one-pass path: signatures, buckets and clusters of this task's whole input, in memory. */
async function onePass(
  cfg: DedupConfig,
  ctx: Ctx,
  pool: SignaturePool | undefined,
): Promise<{ ids: string[]; removals: Map<number, RemovalLine>; batches: Batch[] | undefined }> {
  const { sigs, batches } = await buildSignatures(cfg, ctx, pool);
  const finder = new EdgeFinder(sigs.docs, cfg.threshold, (doc) => sigs.signature(doc));
  if (cfg.exact) finder.addExact(exactEntries(sigs.exact.view(), 0));
  if (cfg.minhash) for (const band of sigs.bands) finder.addBand(band.view());
  ctx.stats.inc('verified', finder.verified);
  ctx.stats.inc('rejected_candidates', finder.rejected);
  const { removed, clusters } = cluster(sigs.ids, [finder.edges.view()]);
  ctx.stats.inc('clusters', clusters);
  const line = (r: Removal): RemovalLine => ({ i: r.doc, id: sigs.ids[r.doc]!, duplicate_of: sigs.ids[r.of]!, kind: r.kind });
  return { ids: sigs.ids, removals: new Map(removed.map((r) => [r.doc, line(r)])), batches };
}

async function shardedRemovals(ctx: Ctx): Promise<{ ids: string[]; removals: Map<number, RemovalLine> }> {
  const meta = await readSignatureMeta(join(ctx.dir(SIGNATURES), String(ctx.rank)));
  const removals = new Map<number, RemovalLine>();
  const file = join(ctx.dir(CLUSTERS), `removals-${ctx.rank}.jsonl`);
  if (!existsSync(file)) throw new CosmoError(`dedup: ${file} is missing; rerun the dedup-clusters step`);
  for await (const { value } of readJsonl<RemovalLine>(file)) removals.set(value.i, value);
  return { ids: meta.ids, removals };
}

/** Pass 2 on this thread: reread the input and split it into kept and removed records. */
async function splitRecords(
  ids: readonly string[],
  removals: ReadonlyMap<number, RemovalLine>,
  out: { kept: JsonlWriter; removed: JsonlWriter },
  ctx: Ctx,
): Promise<void> {
  let i = 0;
  for await (const s of ctx.input()) {
    ctx.signal.throwIfAborted();
    if (ids[i] !== s.id)
      throw new CosmoError(
        `dedup: document ${i} of task ${ctx.rank} is ${s.id}, but the signatures have ${ids[i] ?? 'no document'} there: ` +
          `the input in ${ctx.inputDir} changed since dedup started; delete the dedup-* folders to redo dedup`,
      );
    const r = removals.get(i++);
    if (r) {
      await out.removed.write({ ...s, duplicate_of: r.duplicate_of, duplicate_kind: r.kind } satisfies RemovedSample);
      ctx.stats.inc(`removed.${r.kind}`);
    } else {
      await out.kept.write(s);
      ctx.stats.inc('kept');
    }
  }
  if (i !== ids.length) throw new CosmoError(`dedup: task ${ctx.rank} read ${i} documents but the signatures have ${ids.length}; the input changed`);
  ctx.stats.inc('docs', i);
}

export const dedupStage = defineStage({
  ...common,
  name: 'dedup',
  description: 'remove exact and near-duplicate samples (MinHash LSH)',
  input: { records: SAMPLE_RECORD },
  output: SAMPLE_RECORD,
  sides: ['removed'],
  reads: [SIGNATURES, CLUSTERS],
  enabled: (cfg) => cfg.enabled,
  tasks: (cfg) => cfg.tasks,
  async runTask(cfg, ctx) {
    const out = { kept: ctx.output, removed: ctx.side('removed') };
    if (cfg.tasks > 1) {
      const { ids, removals } = await shardedRemovals(ctx);
      return splitRecords(ids, removals, out, ctx);
    }
    await withPool(cfg, ctx, async (pool) => {
      const { ids, removals, batches } = await onePass(cfg, ctx, pool);
      if (!pool || !batches) return splitRecords(ids, removals, out, ctx);
      const docs = await splitJsonl(batches, pool, ids, removals, out, ctx);
      if (docs !== ids.length) throw new CosmoError(`dedup: task ${ctx.rank} read ${docs} documents but the signatures have ${ids.length}; the input changed`);
      ctx.stats.inc('docs', docs);
    });
  },
  async finalize(cfg, ctx) {
    const c = ctx.stats.counters;
    const docs = c['docs'] ?? 0;
    const exact = c['removed.exact'] ?? 0;
    const near = c['removed.near'] ?? 0;
    const rate = docs ? (exact + near) / docs : 0;
    ctx.stats.observe('duplicate_rate', rate);
    await writeJsonAtomic(join(ctx.outputDir, 'report.json'), {
      docs,
      kept: c['kept'] ?? 0,
      removed: exact + near,
      removed_exact: exact,
      removed_near: near,
      duplicate_rate: rate,
      params: paramsOf(cfg),
    });
    ctx.log.info('dedup done', { docs, removed: exact + near, duplicate_rate: Number(rate.toFixed(4)) });
  },
});

/** The dedup stage and its inner steps, in pipeline order (the steps run only when dedup.tasks > 1). */
export const DEDUP_STAGES = [dedupSignaturesStage, dedupBucketsStage, dedupClustersStage, dedupStage] as const;

import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { CorpusConfig } from '../config/schema.js';
import type { StageDef, TaskContext } from '../exec/stage.js';
import { readTaskInput, writeShard } from '../io/shards.js';
import { readJsonl } from '../io/jsonl.js';
import { writeFileAtomic, writeJsonAtomic } from '../io/atomic.js';
import { writeTaskShards, type JsonlWriter } from '../io/jsonl-writer.js';
import type { Sample } from '../records/types.js';
import { CosmoError } from '../util/errors.js';
import { MinHasher } from './minhash.js';
import { defaultThreads, SignaturePool } from './pool.js';
import { BATCH_CHARS, BATCH_DOCS, hashJsonl, ownedJsonlShards, pipelined, splitJsonl, type Batch } from './threaded.js';
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

const sharded = (cfg: CorpusConfig) => cfg.dedup.enabled && cfg.dedup.tasks > 1;

function paramsOf(cfg: CorpusConfig) {
  const { ngram, bands, rows, seed, exact, minhash, threshold } = cfg.dedup;
  return { ngram, bands, rows, seed, exact, minhash, threshold };
}

function inputOf(ctx: TaskContext): AsyncGenerator<Sample> {
  if (!ctx.inputDir) throw new CosmoError(`${ctx.stage}: no input stage before dedup`);
  return readTaskInput<Sample>(ctx.inputDir, ctx.rank, ctx.worldSize, {
    skipBad: ctx.options.skipBad,
    onBad: () => ctx.stats.inc('bad_lines'),
  });
}

/** Worker threads for this task's signatures: the config's, else its share of the cores (see `threads` in config.ts). */
export function signatureThreads(cfg: CorpusConfig): number {
  if (cfg.dedup.threads !== undefined) return cfg.dedup.threads;
  const concurrent = cfg.dedup.tasks > 1 && cfg.executor.type === 'local' ? Math.min(cfg.dedup.tasks, cfg.executor.workers) : 1;
  return defaultThreads(concurrent);
}

async function buildSignatures(cfg: CorpusConfig, ctx: TaskContext, pool?: SignaturePool): Promise<{ sigs: ShardSignatures; batches: Batch[] | undefined }> {
  const builder = new SignatureBuilder(new MinHasher(cfg.dedup), cfg.dedup.minhash);
  if (!pool) {
    for await (const s of inputOf(ctx)) {
      ctx.signal.throwIfAborted();
      builder.add(s.id, s.text ?? '');
    }
    return { sigs: builder.out, batches: undefined };
  }
  const files = ownedJsonlShards(ctx);
  if (files) return { sigs: builder.out, batches: await hashJsonl(files, pool, builder, ctx) };
  // Other formats: records read and parsed here, their texts hashed on the workers.
  const size = pool.recordSize;
  async function* batches(): AsyncGenerator<{ ids: string[]; texts: string[] }> {
    let batch = { ids: [] as string[], texts: [] as string[] };
    let chars = 0;
    for await (const s of inputOf(ctx)) {
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
function startPool(cfg: CorpusConfig): SignaturePool | undefined {
  const threads = signatureThreads(cfg);
  return threads > 0 ? new SignaturePool({ params: paramsOf(cfg), minhash: cfg.dedup.minhash }, threads) : undefined;
}

async function withPool<T>(cfg: CorpusConfig, fn: (pool: SignaturePool | undefined) => Promise<T>): Promise<T> {
  const pool = startPool(cfg);
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

function checkParams(meta: SignatureMeta, cfg: CorpusConfig, dir: string): void {
  if (JSON.stringify(meta.params) !== JSON.stringify(paramsOf(cfg)))
    throw new CosmoError(
      `dedup: ${dir} was computed with ${JSON.stringify(meta.params)}, but the config now says ${JSON.stringify(paramsOf(cfg))}; ` +
        `delete the dedup-* folders under ${join(dir, '..', '..')} to redo dedup`,
    );
}

async function readMetas(cfg: CorpusConfig, workDir: string): Promise<{ metas: SignatureMeta[]; offsets: number[]; total: number }> {
  const metas: SignatureMeta[] = [];
  const offsets: number[] = [];
  let total = 0;
  for (let r = 0; r < cfg.dedup.tasks; r++) {
    const dir = join(workDir, SIGNATURES, String(r));
    const meta = await readSignatureMeta(dir);
    checkParams(meta, cfg, dir);
    metas.push(meta);
    offsets.push(total);
    total += meta.docs;
  }
  return { metas, offsets, total };
}

export const dedupSignaturesStage: StageDef = {
  name: SIGNATURES,
  auxiliary: true,
  enabled: sharded,
  tasks: (cfg) => cfg.dedup.tasks,
  async runTask(cfg, ctx) {
    const { sigs } = await withPool(cfg, (pool) => buildSignatures(cfg, ctx, pool));
    await writeSignatures(join(ctx.outputDir, String(ctx.rank)), sigs, paramsOf(cfg));
    ctx.stats.inc('docs', sigs.docs);
  },
};

export const dedupBucketsStage: StageDef = {
  name: BUCKETS,
  auxiliary: true,
  enabled: sharded,
  tasks: (cfg) => cfg.dedup.tasks,
  async runTask(cfg, ctx) {
    const { metas, offsets, total } = await readMetas(cfg, ctx.workDir);
    const dir = (r: number) => join(ctx.workDir, SIGNATURES, String(r));
    const files = new SignatureFiles(metas.map((_, r) => join(dir(r), 'sigs.bin')), offsets, metas[0]?.hashes ?? 0);
    try {
      const finder = new EdgeFinder(total, cfg.dedup.threshold, (doc, slot) => files.get(doc, slot));
      const { bands } = cfg.dedup;
      // Key `bands` is the exact key; it goes first so that exact copies are never verified again.
      for (const key of [bands, ...Array(bands).keys()]) {
        if (key % ctx.worldSize !== ctx.rank) continue;
        if (key === bands && !cfg.dedup.exact) continue;
        if (key < bands && !cfg.dedup.minhash) continue;
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
        const entries = concat(parts);
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
};

function concat(parts: Uint32Array[]): Uint32Array {
  const out = new Uint32Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

interface RemovalLine {
  i: number;
  id: string;
  duplicate_of: string;
  kind: 'exact' | 'near';
}

export const dedupClustersStage: StageDef = {
  name: CLUSTERS,
  auxiliary: true,
  enabled: sharded,
  tasks: () => 1,
  async runTask(cfg, ctx) {
    const { metas, offsets } = await readMetas(cfg, ctx.workDir);
    const ids = metas.flatMap((m) => m.ids);
    const bucketDir = join(ctx.workDir, BUCKETS);
    const edges: Uint32Array[] = [];
    for (let t = 0; t < cfg.dedup.tasks; t++) {
      const file = join(bucketDir, `${t}.bin`);
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
};

/** The one-pass path: signatures, buckets and clusters of this task's whole input, in memory. */
async function onePass(
  cfg: CorpusConfig,
  ctx: TaskContext,
  pool: SignaturePool | undefined,
): Promise<{ ids: string[]; removals: Map<number, RemovalLine>; batches: Batch[] | undefined }> {
  const { sigs, batches } = await buildSignatures(cfg, ctx, pool);
  const finder = new EdgeFinder(sigs.docs, cfg.dedup.threshold, (doc) => sigs.signature(doc));
  if (cfg.dedup.exact) finder.addExact(exactEntries(sigs.exact.view(), 0));
  if (cfg.dedup.minhash) for (const band of sigs.bands) finder.addBand(band.view());
  ctx.stats.inc('verified', finder.verified);
  ctx.stats.inc('rejected_candidates', finder.rejected);
  const { removed, clusters } = cluster(sigs.ids, [finder.edges.view()]);
  ctx.stats.inc('clusters', clusters);
  const line = (r: Removal): RemovalLine => ({ i: r.doc, id: sigs.ids[r.doc]!, duplicate_of: sigs.ids[r.of]!, kind: r.kind });
  return { ids: sigs.ids, removals: new Map(removed.map((r) => [r.doc, line(r)])), batches };
}

async function shardedRemovals(cfg: CorpusConfig, ctx: TaskContext): Promise<{ ids: string[]; removals: Map<number, RemovalLine> }> {
  const meta = await readSignatureMeta(join(ctx.workDir, SIGNATURES, String(ctx.rank)));
  const removals = new Map<number, RemovalLine>();
  const file = join(ctx.workDir, CLUSTERS, `removals-${ctx.rank}.jsonl`);
  if (!existsSync(file)) throw new CosmoError(`dedup: ${file} is missing; rerun the dedup-clusters step`);
  for await (const { value } of readJsonl<RemovalLine>(file)) removals.set(value.i, value);
  return { ids: meta.ids, removals };
}

/** Pass 2 on this thread: reread the input and split it into kept and removed records. */
async function splitRecords(
  ids: readonly string[],
  removals: ReadonlyMap<number, RemovalLine>,
  out: { kept: JsonlWriter; removed: JsonlWriter },
  ctx: TaskContext,
): Promise<void> {
  let i = 0;
  for await (const s of inputOf(ctx)) {
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

export const dedupStage: StageDef = {
  name: 'dedup',
  enabled: (cfg) => cfg.dedup.enabled,
  tasks: (cfg) => cfg.dedup.tasks,
  async runTask(cfg, ctx) {
    if (cfg.dedup.tasks > 1) {
      const { ids, removals } = await shardedRemovals(cfg, ctx);
      await writeTaskShards(ctx.outputDir, ctx.rank, 'removed', (kept, removed) => splitRecords(ids, removals, { kept, removed }, ctx));
      return;
    }
    await withPool(cfg, async (pool) => {
      const { ids, removals, batches } = await onePass(cfg, ctx, pool);
      await writeTaskShards(ctx.outputDir, ctx.rank, 'removed', async (kept, removed) => {
        if (!pool || !batches) return splitRecords(ids, removals, { kept, removed }, ctx);
        const docs = await splitJsonl(batches, pool, ids, removals, { kept, removed }, ctx);
        if (docs !== ids.length) throw new CosmoError(`dedup: task ${ctx.rank} read ${docs} documents but the signatures have ${ids.length}; the input changed`);
        ctx.stats.inc('docs', docs);
      });
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
};

export const DEDUP_STAGES: readonly StageDef[] = [dedupSignaturesStage, dedupBucketsStage, dedupClustersStage, dedupStage];

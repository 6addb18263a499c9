/**
 * Dedup throughput, recall and memory on ~1 KB documents of real text.
 *   npm run build && npx tsx bench/dedup.ts [docs=100000]    (RUNS=n CLI runs, default 3; SKIP_IN_PROCESS=1)
 * First as users run it: `cosmo dedup corpus.yaml` from the compiled dist/ as a process, on a
 * planted near-duplicate corpus (bench/dedup-corpus.ts) of 20,000 and `docs` documents, one pass
 * and four sharded steps (dedup.tasks 2, 2 at a time): process wall time, the stage
 * time it reports, docs/s, peak RSS, recall of planted copies by band of true Jaccard and false
 * merges; then recall and false merges at several signature-agreement thresholds.
 * Then in-process: MinHash signatures/s on one core, the one-pass dedup stage end to end (JSONL
 * in and out; with its default worker threads and on the main thread alone), the four sharded
 * steps 2 tasks at a time, and dedup memory per document at N and 2N docs.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseConfig } from '../src/pipeline/corpus.js';
import { writeShard } from '../src/io/shards.js';
import { runPipeline } from '../src/pipeline/run.js';
import { silentLogger } from '../src/util/log.js';
import { MinHasher } from '../src/dedup/minhash.js';
import { SignatureBuilder } from '../src/dedup/signatures.js';
import { EdgeFinder, cluster } from '../src/dedup/cluster.js';
import { DEDUP_STAGES, exactEntries } from '../src/dedup/stage.js';
import { defaultThreads } from '../src/util/runtime.js';
import { editWords, rng, seedTexts, spamAssassinBodies } from '../test/dedup/planted.js';
import { plantedCorpus, score, type PlantedDoc, type Removal } from './dedup-corpus.js';
import { timedCosmo } from './lib.js';

const N = Number(process.argv[2] ?? 100_000);
const r = rng(1);

/** Real text cut at word boundaries into ~1 KB pieces, then edited copies until there are `n`. */
function makeDocs(n: number): { id: string; text: string }[] {
  const pieces: string[] = [];
  for (const t of [...spamAssassinBodies(20), ...seedTexts(20)]) {
    const flat = t.replace(/\s+/g, ' ');
    for (let at = 0; at + 800 < flat.length; ) {
      const end = flat.indexOf(' ', at + 1000);
      pieces.push(flat.slice(at, end < 0 ? undefined : end));
      if (end < 0) break;
      at = end + 1;
    }
  }
  const vocab = pieces.slice(0, 100).flatMap((p) => p.split(' '));
  const docs = pieces.slice(0, n).map((text, i) => ({ id: `doc-${String(i).padStart(7, '0')}`, text }));
  while (docs.length < n) {
    const src = pieces[Math.floor(r() * pieces.length)]!;
    docs.push({ id: `doc-${String(docs.length).padStart(7, '0')}`, text: editWords(src, r() * 0.3, vocab, r) });
  }
  return docs;
}

const used = () => {
  (globalThis as { gc?: () => void }).gc?.();
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
};

/** In-process dedup (signatures + buckets + clusters) of `docs`; returns bytes held per document at the end. */
function dedupInMemory(docs: { id: string; text: string }[]): { seconds: number; bytesPerDoc: number; removed: number } {
  const before = used();
  const t0 = performance.now();
  const builder = new SignatureBuilder(new MinHasher({ ngram: 5, bands: 14, rows: 8, seed: 1 }), true);
  for (const d of docs) builder.add(d.id, d.text);
  const s = builder.out;
  const finder = new EdgeFinder(s.docs, 0.7, (doc) => s.signature(doc));
  finder.addExact(exactEntries(s.exact.view(), 0));
  for (const b of s.bands) finder.addBand(b.view());
  const { removed } = cluster(s.ids, [finder.edges.view()]);
  const seconds = (performance.now() - t0) / 1000;
  const bytesPerDoc = (used() - before) / docs.length;
  // Keep the structures alive until measured.
  if (removed.length < 0 || s.docs !== docs.length) throw new Error('unreachable');
  return { seconds, bytesPerDoc, removed: removed.length };
}

async function stageRun(
  docs: { id: string; text: string }[],
  tasks: number,
  workers: number,
  threads?: number,
): Promise<{ seconds: number; steps: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'cosmo-bench-dedup-'));
  const perShard = Math.ceil(docs.length / 4);
  for (let i = 0; i < 4; i++) await writeShard(join(dir, 'filter', `${i}.jsonl`), docs.slice(i * perShard, (i + 1) * perShard));
  const cfg = parseConfig(
    { seeds: [{ kind: 'web', path: 'unused' }], output: dir, dedup: { tasks, ...(threads === undefined ? {} : { threads }) }, executor: { workers } },
    { file: join(dir, 'corpus.yaml'), baseDir: dir },
  );
  const t0 = performance.now();
  const results = await runPipeline(cfg, { only: DEDUP_STAGES.map((s) => s.name), log: silentLogger });
  const seconds = (performance.now() - t0) / 1000;
  rmSync(dir, { recursive: true, force: true });
  return { seconds, steps: results.map((r) => `${r.stage} ${(r.duration_ms / 1000).toFixed(1)} s`).join(', ') };
}

function signatureThreadsNote(): string {
  const threads = defaultThreads(1);
  return threads ? `${threads} worker threads beside the main thread` : 'one core: no worker threads';
}

/** Dedup memory per document, measured in a fresh process so that nothing else is on the heap. */
function memoryPerDoc(n: number): number {
  const out = execFileSync(process.execPath, [...process.execArgv, '--expose-gc', fileURLToPath(import.meta.url), String(n), 'memory'], {
    encoding: 'utf8',
  });
  return Number(out.trim().split('\n').at(-1));
}

if (process.argv[3] === 'memory') {
  const docs = makeDocs(N);
  dedupInMemory(docs.slice(0, 2000)); // JIT and lookup tables out of the way
  console.log(dedupInMemory(docs).bytesPerDoc);
  process.exit(0);
}


// ---- As users run it: cosmo dedup (dist/) as a process on a planted corpus.
const RUNS = Number(process.env.RUNS ?? 3);

/** Removed documents (id and survivor) from a dedup output folder. */
function removals(out: string): Removal[] {
  const dir = join(out, 'dedup', 'removed');
  return readdirSync(dir)
    .filter((f) => f.endsWith('.jsonl'))
    .flatMap((f) =>
      readFileSync(join(dir, f), 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as Removal),
    );
}

/** Stage seconds from the summary cosmo prints ("  dedup   1.4s  ..."), summed over the steps. */
function stageSeconds(out: string): number {
  let total = 0;
  for (const m of out.matchAll(/^ {2}dedup[\w-]*\s+([\d.]+)s/gm)) total += Number(m[1]);
  return total;
}

async function cliRuns(docs: PlantedDoc[]): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'cosmo-bench-dedup-cli-'));
  const perShard = Math.ceil(docs.length / 4);
  for (let i = 0; i < 4; i++) await writeShard(join(dir, 'input', `${i}.jsonl`), docs.slice(i * perShard, (i + 1) * perShard).map(({ id, text }) => ({ id, text })));
  const setups = [
    { name: 'one pass', dedup: '{ tasks: 1 }', executor: '' },
    { name: '4 sharded steps (tasks 2, 2 workers)', dedup: '{ tasks: 2 }', executor: 'executor: { workers: 2 }' },
  ];
  const kb = docs.reduce((n, d) => n + d.text.length, 0) / docs.length / 1024;
  console.log(`\ncosmo dedup (dist/) on ${docs.length.toLocaleString('en')} docs of ${kb.toFixed(2)} KB, ${docs.filter((d) => d.kind).length} planted copies`);
  const walls: Record<string, number> = {};
  for (const setup of setups) {
    for (let run = 1; run <= RUNS; run++) {
      const out = join(dir, 'out');
      rmSync(out, { recursive: true, force: true });
      mkdirSync(out);
      // The input stands where the filter stage leaves it.
      execFileSync('ln', ['-s', join(dir, 'input'), join(out, 'filter')]);
      writeFileSync(join(dir, 'corpus.yaml'), `seeds: [{ kind: web, path: unused.jsonl }]\noutput: out\ndedup: ${setup.dedup}\n${setup.executor}\n`);
      const load = loadavg()[0]!.toFixed(2);
      const t = timedCosmo(dir, ['dedup', 'corpus.yaml'], true);
      const stage = stageSeconds(readFileSync(join(dir, 'stdout.txt'), 'utf8'));
      const s = score(docs, removals(out));
      walls[setup.name] = Math.min(walls[setup.name] ?? Infinity, t.wall);
      console.log(
        `  ${setup.name}, run ${run}: ${t.wall.toFixed(2)} s wall (${Math.round(docs.length / t.wall).toLocaleString('en')} docs/s), ` +
          `stage ${stage.toFixed(1)} s (${Math.round(docs.length / stage).toLocaleString('en')} docs/s), peak RSS ${t.rssMb.toFixed(0)} MB (load ${load}); ` +
          `recall ${s.bands.map((b) => `${b.name} ${b.recall.toFixed(3)}`).join(', ')}; false merges ${s.falseMerges} (${(100 * s.falseMergeRate).toFixed(3)}%)`,
      );
    }
  }
  const [one, sharded] = setups.map((x) => walls[x.name]!);
  console.log(`  sharded / one pass, best wall: ${(sharded! / one!).toFixed(2)}x`);
  rmSync(dir, { recursive: true, force: true });
}

/** Recall and false merges at each signature-agreement threshold (in process: the same functions as the stage). */
function thresholdCurve(docs: PlantedDoc[]): void {
  const builder = new SignatureBuilder(new MinHasher({ ngram: 5, bands: 14, rows: 8, seed: 1 }), true);
  for (const d of docs) builder.add(d.id, d.text);
  const s = builder.out;
  console.log(`\nsignature-agreement threshold (dedup.threshold) on ${docs.length.toLocaleString('en')} docs: recall by true Jaccard, false merges`);
  for (const threshold of [0, 0.5, 0.6, 0.65, 0.7, 0.75, 0.8]) {
    const finder = new EdgeFinder(s.docs, threshold, (doc) => s.signature(doc));
    finder.addExact(exactEntries(s.exact.view(), 0));
    for (const b of s.bands) finder.addBand(b.view());
    const { removed } = cluster(s.ids, [finder.edges.view()]);
    const sc = score(docs, removed.map((x) => ({ id: s.ids[x.doc]!, duplicate_of: s.ids[x.of]! })));
    console.log(`  ${threshold.toFixed(2)}: ${sc.bands.map((b) => `${b.name} ${b.recall.toFixed(3)} (${b.found}/${b.copies})`).join(', ')}; false merges ${sc.falseMerges} (${(100 * sc.falseMergeRate).toFixed(3)}%)`);
  }
}

{
  const big = plantedCorpus(N);
  await cliRuns(big.slice(0, 20_000));
  await cliRuns(big);
  thresholdCurve(big);
  if (process.env.SKIP_IN_PROCESS) process.exit(0);
}

// ---- In process.
const half = makeDocs(N);
const kb = half.reduce((n, d) => n + d.text.length, 0) / N / 1024;
console.log(`dedup benchmark: ${N} docs of ${kb.toFixed(2)} KB on average`);

// 1. Signatures alone, one core (warm up the JIT first).
{
  const hasher = new MinHasher({ ngram: 5, bands: 14, rows: 8, seed: 1 });
  const sig = new Uint32Array(hasher.hashes);
  for (const d of half.slice(0, 5000)) hasher.hash(d.text, sig);
  const t0 = performance.now();
  for (const d of half) {
    hasher.hash(d.text, sig);
    hasher.bandKeys(sig);
  }
  const s = (performance.now() - t0) / 1000;
  console.log(`minhash signatures, 1 core:         ${Math.round(N / s).toLocaleString('en')} docs/s`);
}

// 2. Dedup in memory (signatures, buckets, clusters).
const mem = dedupInMemory(half);
console.log(`dedup in memory, 1 core:            ${Math.round(N / mem.seconds).toLocaleString('en')} docs/s (${mem.removed} removed)`);

// 3. The pipeline stage end to end, JSONL in and out: one pass (the default config: worker threads
// beside the main thread), one pass on the main thread alone, then four sharded steps on 2 workers.
const one = await stageRun(half, 1, 1);
console.log(`dedup stage, one pass, 1 process:   ${Math.round(N / one.seconds).toLocaleString('en')} docs/s (${signatureThreadsNote()})`);
const mainOnly = await stageRun(half, 1, 1, 0);
console.log(`dedup stage, one pass, main thread: ${Math.round(N / mainOnly.seconds).toLocaleString('en')} docs/s (threads: 0)`);
const two = await stageRun(half, 2, 2);
console.log(
  `dedup stage, 4 steps on 2 workers:  ${Math.round(N / two.seconds).toLocaleString('en')} docs/s ` +
    `(${two.steps}; ratio to one pass ${(one.seconds / two.seconds).toFixed(2)})`,
);

// 4. Memory per document at N and 2N: equal figures mean memory grows linearly.
const m1 = memoryPerDoc(N);
const m2 = memoryPerDoc(2 * N);
console.log(`dedup memory per doc at ${N}: ${Math.round(m1)} B; at ${2 * N}: ${Math.round(m2)} B (ratio ${(m2 / m1).toFixed(2)})`);

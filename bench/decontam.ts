/**
 * Decontamination benchmark: index build time for all ten benchmarks (target < 5 s) and samples
 * checked per second (target >= 5,000/s) on generated-style samples of real seed prose, clean and
 * with 1% planted contamination, in the default and the cosmopedia modes.
 *
 * Then, as users run it: `cosmo contamination` from the compiled dist/ (run `npm run build` first) as a
 * process, three runs per mode, on 3,000 samples of 200 to 3,000 words: 1,000 contaminated in four
 * ways (an item verbatim, its question with the gold answer, its lines reordered, its options as a
 * list) and 2,000 hard clean ones (sharing one 10-word fragment, or a 6-word overlap, with an item),
 * printing wall time, samples/s, peak RSS, and recall / false positives by kind.
 *
 *   npx tsx bench/decontam.ts [samples=20000]    (RUNS=n CLI runs per mode, default 3; KEEP=1 keeps the corpus)
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadBenchmarkDir, type BenchmarkItem } from '../src/decontaminate/benchmarks.js';
import { Decontaminator, type DecontamMode } from '../src/decontaminate/decontaminator.js';
import { sharedPath, hasSharedData } from '../test/helpers/shared-data.js';
import { plant, rng, sampleItems, seedParagraphs, VARIANTS } from '../test/decontaminate/planted-corpus.js';
import { timedCosmo } from './lib.js';

/** Wall-clock and CPU milliseconds (the CPU figure is steadier on a shared, busy machine). */
const clock = () => ({ wall: performance.now(), cpu: process.cpuUsage().user / 1000 });
const since = (c: { wall: number; cpu: number }) => ({ wall: performance.now() - c.wall, cpu: process.cpuUsage().user / 1000 - c.cpu });
const secs = (ms: number) => (ms / 1000).toFixed(2);

if (!hasSharedData) {
  console.error(`shared data not found at ${sharedPath()}; set COSMO_SHARED_DATA`);
  process.exit(1);
}
const total = Number(process.argv[2] ?? 20_000);
const runs = Number(process.env.RUNS ?? 3);

let c = clock();
const loaded = await loadBenchmarkDir(sharedPath('bench'));
const load = since(c);
const index: Record<string, { ms: { wall: number; cpu: number }; dc: Decontaminator }> = {};
for (const mode of ['drop', 'cosmopedia'] as DecontamMode[]) {
  c = clock();
  const dc = new Decontaminator(loaded.items, { mode });
  index[mode] = { ms: since(c), dc };
}
const s = index.drop!.dc.summary;
const build = index.drop!.ms;
console.log(`benchmarks: ${loaded.sources.length} files, ${s.items} items (${s.indexed} indexed), ${s.ngrams} distinct n-grams`);
console.log(
  `index build, all ten benchmarks (target < 5 s): load ${secs(load.wall)} s + index ${secs(build.wall)} s = ${secs(load.wall + build.wall)} s wall; ` +
    `${secs(load.cpu + build.cpu)} s CPU (cosmopedia-mode index ${secs(index.cosmopedia!.ms.wall)} s wall)`,
);

// Samples: two or three real seed paragraphs (~1-2 KB), like a short generated text.
const r = rng(11);
const paragraphs = seedParagraphs();
const prose = () => Array.from({ length: 2 + Math.floor(r() * 2) }, () => paragraphs[Math.floor(r() * paragraphs.length)]!).join('\n\n');
const clean = Array.from({ length: total }, prose);
const planted = sampleItems(loaded.items, Math.ceil(total / 100 / 10), r).map((it, i) => plant(it, VARIANTS[i % 3]!, paragraphs, r));
const mixed = clean.slice(0, total - planted.length);
planted.forEach((p, i) => mixed.splice(Math.floor((i * mixed.length) / planted.length) + i, 0, p));
const kb = clean.reduce((n, x) => n + x.length, 0) / clean.length / 1024;
console.log(`samples: ${total}, mean ${kb.toFixed(2)} KB; mixed set has ${planted.length} planted (${((100 * planted.length) / total).toFixed(1)}%)`);

const rates: Record<string, number> = {};
for (const mode of ['drop', 'cosmopedia'] as const) {
  for (const [name, set] of [['clean', clean], ['1% contaminated', mixed]] as const) {
    const dc = index[mode]!.dc;
    for (const x of set.slice(0, 500)) dc.check(x); // warm up
    let found = 0;
    c = clock();
    for (const x of set) if (dc.check(x).contaminated) found++;
    const took = since(c);
    rates[`${mode} ${name}`] = set.length / (took.wall / 1000);
    const per = (ms: number) => Math.round(set.length / (ms / 1000)).toLocaleString('en').padStart(8);
    console.log(`${mode.padEnd(10)} ${name.padEnd(16)} ${per(took.wall)} samples/s wall, ${per(took.cpu)} per CPU-second  (${found} flagged)`);
  }
}
console.log(`default / cosmopedia throughput on clean samples: ${(rates['drop clean']! / rates['cosmopedia clean']!).toFixed(2)}x (target for both: >= 5,000 samples/s)`);

// ---- As users run it: the CLI on mixed-length samples with four kinds of contamination and hard negatives.
type Kind = 'verbatim' | 'question_answer' | 'reordered' | 'options_list' | 'fragment_10' | 'overlap_6' | 'clean';
const shuffle = <T>(xs: T[]): T[] => {
  for (let i = xs.length - 1; i > 0; i--) {
    const j = Math.floor(r() * (i + 1));
    [xs[i], xs[j]] = [xs[j]!, xs[i]!];
  }
  return xs;
};
/** Seed prose of `words` words: whole paragraphs, the last one cut to fit (some are whole articles). */
const proseOf = (words: number) => {
  const out: string[] = [];
  for (let n = 0; n < words; ) {
    const p = paragraphs[Math.floor(r() * paragraphs.length)]!.split(/\s+/);
    out.push(p.slice(0, words - n).join(' '));
    n += p.length;
  }
  return out;
};
const lines = (it: BenchmarkItem) => it.text.split('\n');
function leak(it: BenchmarkItem, kind: Kind): string {
  const question = it.prompt ?? lines(it)[0]!;
  const words = it.text.split(/\s+/);
  const at = Math.floor(r() * Math.max(1, words.length - 10));
  switch (kind) {
    case 'verbatim':
      return it.text;
    case 'question_answer':
      return `${question}\nAnswer: ${it.answer ?? ''}`;
    case 'reordered': {
      const parts = it.text.split(/(?<=[.?!])\s+|\n/).filter(Boolean);
      return parts.length > 1 ? shuffle(parts).join(' ') : it.text;
    }
    case 'options_list':
      return [question, ...lines(it).slice(1).map((o) => `- ${o}`)].join('\n');
    case 'fragment_10':
      return words.slice(at, at + 10).join(' ');
    default:
      return words.slice(at, at + 6).join(' ');
  }
}
const all = loaded.items;
const longItems = all.filter((it) => it.text.split(/\s+/).length >= 30);
const kinds: Kind[] = ['verbatim', 'question_answer', 'reordered', 'options_list'];
const corpus: { id: string; text: string; kind: Kind; item?: string }[] = [];
for (let i = 0; i < 3000; i++) {
  const contaminated = i < 1000;
  const kind: Kind = contaminated ? kinds[i % 4]! : i < 2000 ? (i % 2 ? 'fragment_10' : 'overlap_6') : 'clean';
  // Hard negatives take long items, so one fragment stays well under half of the item.
  const pool = contaminated ? all : longItems;
  const it = kind === 'clean' ? undefined : pool[Math.floor(r() * pool.length)]!;
  const body = proseOf(200 + Math.floor(r() * 2800));
  if (it) body.splice(Math.floor(r() * body.length), 0, leak(it, kind));
  corpus.push({ id: `s${i}`, text: body.join('\n\n'), kind, item: contaminated ? it!.id : undefined });
}
const dir = mkdtempSync(join(tmpdir(), 'cosmo-bench-decontam-'));
writeFileSync(join(dir, 'data.jsonl'), corpus.map((x) => JSON.stringify(x)).join('\n') + '\n');
const lengths = corpus.map((x) => x.text.split(/\s+/).length);
const words = lengths.reduce((n, x) => n + x, 0);
console.log(
  `\nas users run it: cosmo contamination (dist/) on ${corpus.length} samples of ${Math.min(...lengths)} to ${Math.max(...lengths)} words (mean ${Math.round(words / corpus.length)}); ` +
    `1,000 contaminated (4 kinds), 2,000 hard clean`,
);
// The fixed cost of a run (process start, the benchmarks' index), from runs on one sample, so that
// the checking rate can be told apart from it: the first builds the index and stores it in a cache
// of this benchmark's own, the second reads it back, as every later run does.
writeFileSync(join(dir, 'one.jsonl'), JSON.stringify(corpus[corpus.length - 1]) + '\n');
process.env.COSMO_CACHE = join(dir, 'cache');
for (const mode of ['drop', 'cosmopedia']) {
  const one = () => timedCosmo(dir, ['contamination', 'one.jsonl', '--benchmarks', sharedPath('bench'), '--mode', mode, '--json'], true).wall;
  const build = one();
  const fixed = one();
  console.log(`  ${mode.padEnd(10)} fixed cost (start and index; one sample): ${build.toFixed(2)} s building and storing the index, ${fixed.toFixed(2)} s reading it back`);
  for (let run = 1; run <= runs; run++) {
    const load = loadavg()[0]!.toFixed(2);
    rmSync(join(dir, 'hits.jsonl'), { force: true });
    const t = timedCosmo(dir, ['contamination', 'data.jsonl', '--benchmarks', sharedPath('bench'), '--mode', mode, '--json', '--matches', 'hits.jsonl'], true);
    const hits = new Map(
      readFileSync(join(dir, 'hits.jsonl'), 'utf8').split('\n').filter(Boolean).map((l) => {
        const h = JSON.parse(l) as { id: string; decontam: { item_id: string } };
        return [h.id, h.decontam.item_id] as const;
      }),
    );
    const byKind = (['verbatim', 'question_answer', 'reordered', 'options_list', 'fragment_10', 'overlap_6', 'clean'] as Kind[]).map((k) => {
      const of = corpus.filter((x) => x.kind === k);
      const flagged = of.filter((x) => hits.has(x.id)).length;
      return kinds.includes(k) ? `${k} recall ${(flagged / of.length).toFixed(3)}` : `${k} ${flagged} FP of ${of.length}`;
    });
    console.log(
      `  ${mode.padEnd(10)} run ${run}: ${t.wall.toFixed(2)} s wall (index read included), ${Math.round(corpus.length / t.wall)} samples/s; ` +
        `checking ${Math.round(corpus.length / Math.max(0.01, t.wall - fixed))} samples/s beyond the fixed cost, ` +
        `peak RSS ${t.rssMb.toFixed(0)} MB (load ${load}); ${byKind.join(', ')}`,
    );
  }
}
// Threads pay on large inputs: the set five times over, on the main thread and on 2 worker threads.
writeFileSync(join(dir, 'five.jsonl'), readFileSync(join(dir, 'data.jsonl'), 'utf8').repeat(5));
for (const threads of [0, 2]) {
  const load = loadavg()[0]!.toFixed(2);
  const t = timedCosmo(dir, ['contamination', 'five.jsonl', '--benchmarks', sharedPath('bench'), '--json', '--threads', String(threads)], true);
  console.log(`  drop, ${corpus.length * 5} samples, --threads ${threads}: ${t.wall.toFixed(2)} s wall, ${Math.round((corpus.length * 5) / t.wall)} samples/s, peak RSS ${t.rssMb.toFixed(0)} MB (load ${load})`);
}
// The same samples in this process, checking only (the index is built above), and where the time
// goes by kind of sample: a candidate item costs far more than the search that finds it.
for (const mode of ['drop', 'cosmopedia'] as const) {
  const byKind = new Map<Kind, { n: number; ms: number; candidates: number; words: number }>();
  const t0 = performance.now();
  for (const x of corpus) {
    const t = performance.now();
    const v = index[mode]!.dc.check(x.text);
    const k = byKind.get(x.kind) ?? { n: 0, ms: 0, candidates: 0, words: 0 };
    k.n++;
    k.ms += performance.now() - t;
    k.candidates += v.candidates;
    k.words += x.text.split(/\s+/).length;
    byKind.set(x.kind, k);
  }
  console.log(`  in-process ${mode}: ${Math.round(corpus.length / ((performance.now() - t0) / 1000))} samples/s (checking only)`);
  for (const [kind, k] of byKind)
    console.log(`    ${kind.padEnd(16)} ${Math.round((k.ms * 1000) / k.n)} us a sample, ${(k.candidates / k.n).toFixed(1)} candidate items, ${Math.round(k.words / k.n)} words`);
}
if (process.env.KEEP) console.log(`corpus kept in ${dir}`);
else rmSync(dir, { recursive: true, force: true });

/**
 * Decontamination benchmark: index build time for all ten benchmarks (target < 5 s) and samples
 * checked per second (target >= 5,000/s) on generated-style samples of real seed prose, clean and
 * with 1% planted contamination, in the default and the cosmopedia modes.
 *
 *   npx tsx bench/decontam.ts [samples=20000]
 */
import { loadBenchmarkDir } from '../src/decontaminate/benchmarks.js';
import { Decontaminator, type DecontamMode } from '../src/decontaminate/decontaminator.js';
import { sharedPath, hasSharedData } from '../test/helpers/shared-data.js';
import { plant, rng, sampleItems, seedParagraphs, VARIANTS } from '../test/decontaminate/planted-corpus.js';

/** Wall-clock and CPU milliseconds (the CPU figure is steadier on a shared, busy machine). */
const clock = () => ({ wall: performance.now(), cpu: process.cpuUsage().user / 1000 });
const since = (c: { wall: number; cpu: number }) => ({ wall: performance.now() - c.wall, cpu: process.cpuUsage().user / 1000 - c.cpu });
const secs = (ms: number) => (ms / 1000).toFixed(2);

if (!hasSharedData) {
  console.error(`shared data not found at ${sharedPath()}; set COSMO_SHARED_DATA`);
  process.exit(1);
}
const total = Number(process.argv[2] ?? 20_000);

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

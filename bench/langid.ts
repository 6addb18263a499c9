/**
 * The filter stage's language check (fastText lid.176 as WebAssembly), as users run it: `cosmo filter`
 * as a process on ~2 KB samples of real web text, with `filter.language` on and off, and the
 * identifier alone in this process for comparison.
 *   npx tsx bench/langid.ts [samples=20000] [--runs 3]
 * Prints samples/s per run with the load average, and the ratio of the two CLI runs: the share of
 * the stage's time the check costs. Ratios within one run mean more than absolute figures on a
 * shared machine.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { languageIdentifier } from '../src/filter/language.js';
import { collect, readAll } from '../src/io/shards.js';
import type { Sample } from '../src/records/types.js';
import { timedCosmo, writeSamples } from './lib.js';

const { values, positionals } = parseArgs({ allowPositionals: true, options: { runs: { type: 'string', default: '3' } } });
const n = Number(positionals[0] ?? 20_000);
const runs = Number(values.runs);
const dir = mkdtempSync(join(tmpdir(), 'cosmo-bench-langid-'));
await writeSamples(join(dir, 'out/generate'), n, 4);
console.log(`language check bench: ${n} samples of ~1.5 KB real web text, ${runs} run(s)`);

function corpus(language: boolean) {
  writeFileSync(
    join(dir, 'corpus.yaml'),
    ['name: bench', 'output: out', 'seeds: [{ kind: web, path: unused.jsonl }]', `filter: { tasks: 2, language: { enabled: ${language} } }`, 'executor: { workers: 2 }', ''].join('\n'),
  );
  rmSync(join(dir, 'out/filter'), { recursive: true, force: true });
  rmSync(join(dir, 'out/.cosmo/stages/filter.json'), { force: true });
}

for (let i = 1; i <= runs; i++) {
  const load = loadavg()[0]!.toFixed(2);
  const took: Record<string, { wall: number; cpu: number }> = {};
  for (const on of [true, false]) {
    corpus(on);
    took[on ? 'on' : 'off'] = timedCosmo(dir, ['filter', 'corpus.yaml']);
  }
  const line = (k: string) => `${(n / took[k]!.wall).toFixed(0)} samples/s (${took[k]!.wall.toFixed(1)} s wall, ${(n / took[k]!.cpu).toFixed(0)} per CPU-second)`;
  console.log(`  cli run ${i}: language on ${line('on')}; off ${line('off')}; on/off wall ${(took.on!.wall / took.off!.wall).toFixed(2)}x (load ${load})`);
}

// The identifier alone, in this process: load once, then one call per sample.
const texts = (await collect(readAll<Sample>(join(dir, 'out/generate')))).map((s) => s.text);
let t = performance.now();
const lid = await languageIdentifier();
console.log(`in-process: model loaded in ${(performance.now() - t).toFixed(0)} ms`);
for (let i = 1; i <= runs; i++) {
  const load = loadavg()[0]!.toFixed(2);
  t = performance.now();
  const found = new Map<string, number>();
  for (const text of texts) {
    const { language } = await lid.identify(text);
    found.set(language, (found.get(language) ?? 0) + 1);
  }
  const s = (performance.now() - t) / 1000;
  console.log(`  run ${i}: ${(texts.length / s).toFixed(0)} samples/s (${s.toFixed(1)} s; ${[...found].map(([l, c]) => `${l} ${c}`).join(', ')}) (load ${load})`);
}
rmSync(dir, { recursive: true, force: true });

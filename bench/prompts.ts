/**
 * Prompt building throughput on the real shared seed files (OpenStax, wikiHow, web, Alpaca):
 * loads the seeds of examples/prompts-100k.yaml, then builds its 100,000 prompts several times and
 * prints prompts/s for the build alone and for build + writing the JSONL shards.
 *   npx tsx bench/prompts.ts [--runs 3]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { loadConfig } from '../src/pipeline/corpus.js';
import { corpusEnv, resolvePath } from '../src/pipeline/env.js';
import { JsonlWriter } from '../src/io/jsonl-writer.js';
import { loadSeeds } from '../src/seeds/load.js';
import { buildFromSeeds, shardRange } from '../src/prompts/stage.js';
import type { SeedRecord } from '../src/records/types.js';

const runs = Number(process.argv[process.argv.indexOf('--runs') + 1]) || 3;
const cfg = loadConfig(resolve(import.meta.dirname, '../examples/prompts-100k.yaml'));
if (process.env.COSMO_SHARED_DATA) {
  // Point the example's relative seed paths at the shared data given in the environment.
  for (const s of cfg.seeds) s.path = s.path.replace(/^(\.\.\/)+shared\/data/, process.env.COSMO_SHARED_DATA);
}

const t = performance.now();
const seeds: SeedRecord[] = [];
for (const src of cfg.seeds) for await (const s of loadSeeds(src, resolvePath(cfg, src.path))) seeds.push(s);
console.log(`seeds: ${seeds.length} loaded in ${((performance.now() - t) / 1000).toFixed(2)} s`);

const out = mkdtempSync(join(tmpdir(), 'cosmo-bench-prompts-'));
const rates = { build: [] as number[], total: [] as number[], buildCpu: [] as number[] };
for (let r = 0; r < runs; r++) {
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  const set = await buildFromSeeds(cfg.prompts, corpusEnv(cfg), seeds);
  const t1 = performance.now();
  const c1 = process.cpuUsage(c0);
  for (let rank = 0; rank < cfg.prompts.tasks; rank++) {
    const [a, b] = shardRange(set.size, rank, cfg.prompts.tasks);
    const w = await JsonlWriter.open(join(out, `${rank}.jsonl`));
    for (const p of set.records(a, b)) await w.write(p);
    await w.commit();
  }
  const t2 = performance.now();
  const cpu = (c1.user + c1.system) / 1e6;
  rates.build.push(set.size / ((t1 - t0) / 1000));
  rates.buildCpu.push(set.size / cpu);
  rates.total.push(set.size / ((t2 - t0) / 1000));
  console.log(
    `run ${r + 1}: ${set.size} prompts, build ${((t1 - t0) / 1000).toFixed(2)} s (${cpu.toFixed(2)} s CPU), ` +
      `build + write ${((t2 - t0) / 1000).toFixed(2)} s`,
  );
}
rmSync(out, { recursive: true, force: true });
const best = (xs: number[]) => Math.max(...xs);
console.log(`prompts/s, build only (best of ${runs}):            ${best(rates.build).toFixed(0)}`);
console.log(`prompts per CPU-second, build only (best of ${runs}): ${best(rates.buildCpu).toFixed(0)}`);
console.log(`prompts/s, build + write ${cfg.prompts.tasks} shards (best of ${runs}): ${best(rates.total).toFixed(0)}`);
console.log(`target: 50000 prompts/s. Writing costs ${(best(rates.build) / best(rates.total)).toFixed(2)}x the build alone.`);

/**
 * Export throughput and memory as users run it: `cosmo export corpus.yaml` as a process, on JSONL
 * shards of ~2 KB samples made of real text (the shared C4 / Dolma seeds), at 100k and 1M rows.
 *   npx tsx bench/export.ts [rows=100000,1000000] [--runs 3] [--tasks 2]
 * Prints, per size and run: rows/s of wall time, rows per CPU-second (all processes), and the peak
 * RSS of the largest process (the target: >= 100k rows/s per core, peak RSS < 1 GB and flat from
 * 100k to 1M rows); then the same stage in-process for comparison. Ratios within one run mean more
 * than absolute figures on a shared machine; the load average is printed with each run.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { parseConfig } from '../src/pipeline/corpus.js';
import { runPipeline } from '../src/pipeline/run.js';
import { silentLogger } from '../src/util/log.js';
import { timedCosmo, writeSamples } from './lib.js';

const { values, positionals } = parseArgs({ allowPositionals: true, options: { runs: { type: 'string', default: '3' }, tasks: { type: 'string', default: '2' } } });
const sizes = (positionals[0] ?? '100000,1000000').split(',').map(Number);
const runs = Number(values.runs);
const tasks = Number(values.tasks);
const SHARDS = 8;

function corpusFile(dir: string): string {
  const file = join(dir, 'corpus.yaml');
  writeFileSync(
    file,
    [
      'name: bench',
      'output: out',
      'seeds: [{ kind: web, path: unused.jsonl }]',
      'filter: { enabled: false }',
      `export: { tasks: ${tasks} }`,
      `executor: { workers: ${tasks} }`,
      '',
    ].join('\n'),
  );
  return file;
}

/** One `cosmo export` process, from a clean export folder. */
function cliRun(dir: string) {
  rmSync(join(dir, 'out/export'), { recursive: true, force: true });
  rmSync(join(dir, 'out/.cosmo/stages/export.json'), { force: true });
  return timedCosmo(dir, ['export', 'corpus.yaml']);
}

async function main() {
  console.log(`export bench: ${runs} run(s) per size, export.tasks = workers = ${tasks}, ${SHARDS} input shards`);
  for (const n of sizes) {
    const dir = mkdtempSync(join(tmpdir(), 'cosmo-bench-export-'));
    const t = performance.now();
    const bytes = await writeSamples(join(dir, 'out/dedup'), n, SHARDS);
    console.log(`\n${n} rows: ${(bytes / 1e9).toFixed(2)} GB of JSONL input, written in ${((performance.now() - t) / 1000).toFixed(1)} s`);
    corpusFile(dir);
    for (let i = 1; i <= runs; i++) {
      const load = loadavg()[0]!.toFixed(2);
      const { wall, cpu, rssMb } = cliRun(dir);
      console.log(
        `  cli run ${i}: ${wall.toFixed(1)} s wall, ${(n / wall).toFixed(0)} rows/s, ${(n / cpu).toFixed(0)} rows per CPU-second, ` +
          `peak RSS ${rssMb.toFixed(0)} MB (load ${load})`,
      );
    }
    // The same stage in this process, for comparison with the CLI figure (no process start, no workers).
    const cfg = parseConfig(
      { name: 'bench', output: join(dir, 'out'), seeds: [{ kind: 'web', path: 'unused.jsonl' }], filter: { enabled: false }, export: { tasks: 1 } },
      { file: join(dir, 'corpus.yaml'), baseDir: dir },
    );
    rmSync(join(dir, 'out/export'), { recursive: true, force: true });
    rmSync(join(dir, 'out/.cosmo/stages/export.json'), { force: true });
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    await runPipeline(cfg, { only: ['export'], log: silentLogger });
    const secs = (performance.now() - t0) / 1000;
    const cpu = (() => {
      const c = process.cpuUsage(c0);
      return (c.user + c.system) / 1e6;
    })();
    console.log(`  in-process, 1 task: ${secs.toFixed(1)} s, ${(n / secs).toFixed(0)} rows/s, ${(n / cpu).toFixed(0)} rows per CPU-second of this process`);
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();

/**
 * Export throughput and memory as users run it: `cosmo export corpus.yaml` as a process, on JSONL
 * shards of ~2 KB samples made of real text (the shared C4 / Dolma seeds), at 100k and 1M rows.
 *   npx tsx bench/export.ts [rows=100000,1000000] [--runs 3] [--tasks 2]
 * Prints, per size and run: rows/s of wall time, rows per CPU-second (all processes), and the peak
 * RSS of the largest process (the target: >= 100k rows/s per core, peak RSS < 1 GB and flat from
 * 100k to 1M rows); then the same stage in-process for comparison. Ratios within one run mean more
 * than absolute figures on a shared machine; the load average is printed with each run.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { JsonlWriter } from '../src/io/jsonl-writer.js';
import { parseConfig } from '../src/pipeline/corpus.js';
import { runPipeline } from '../src/pipeline/run.js';
import { silentLogger } from '../src/util/log.js';
import { hasSharedData, sharedPath } from '../test/helpers/shared-data.js';
import { rng } from '../test/helpers/rng.js';

const { values, positionals } = parseArgs({ allowPositionals: true, options: { runs: { type: 'string', default: '3' }, tasks: { type: 'string', default: '2' } } });
const sizes = (positionals[0] ?? '100000,1000000').split(',').map(Number);
const runs = Number(values.runs);
const tasks = Number(values.tasks);
const ROOT = resolve(import.meta.dirname, '..');
const SHARDS = 8;

/** Words of real web text, to make samples of realistic length and compressibility. */
function words(): string[] {
  if (!hasSharedData) throw new Error('bench/export.ts needs the shared seed data (COSMO_SHARED_DATA)');
  const out: string[] = [];
  for (const f of ['seed/web/c4_demo.jsonl', 'seed/web/dolma_cc_en_head-0091.jsonl']) {
    for (const line of readFileSync(sharedPath(f), 'utf8').split('\n')) if (line.trim()) out.push(...(JSON.parse(line) as { text: string }).text.split(/\s+/));
  }
  return out.filter(Boolean);
}

/** `n` samples of ~2 KB (a ~1.5 KB text, its prompt and provenance) in SHARDS JSONL shards under `dir`. */
async function writeSamples(dir: string, n: number): Promise<number> {
  const vocab = words();
  const r = rng(7);
  const span = (chars: number) => {
    let at = Math.floor(r() * (vocab.length - 400));
    let s = '';
    while (s.length < chars) s += vocab[at++] + ' ';
    return s.trimEnd();
  };
  mkdirSync(dir, { recursive: true });
  const writers = await Promise.all(Array.from({ length: SHARDS }, (_, i) => JsonlWriter.open(join(dir, `${i}.jsonl`))));
  for (let i = 0; i < n; i++) {
    await writers[i % SHARDS]!.write({
      id: `s${String(i).padStart(8, '0')}`,
      prompt: `Write an educational piece related to the following text snippet: ${span(250)}`,
      seed_id: `seed-${i % 50_000}`,
      seed_data: span(120),
      seed_source: 'web',
      format: 'textbook_academic',
      audience: 'college',
      template_id: 'web.textbook_academic',
      template_version: 1,
      language: 'en',
      text: span(1500),
      token_length: 350,
      model: 'bench-model',
      finish_reason: 'stop',
      usage: { prompt_tokens: 120, completion_tokens: 350 },
      gen_params: { temperature: 0.6, top_p: 0.95, max_tokens: 1024 },
      engine: 'http://gpu01:8000/v1',
      latency_ms: 1234,
      created_at: '2026-12-01T00:00:00.000Z',
    });
  }
  for (const w of writers) await w.commit();
  return Number(execFileSync('du', ['-sb', dir], { encoding: 'utf8' }).split('\t')[0]);
}

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

/** One `cosmo export` process under GNU time: wall and CPU seconds (children included) and the largest process's peak RSS in MB. */
function cliRun(dir: string): { wall: number; cpu: number; rssMb: number } {
  rmSync(join(dir, 'out/export'), { recursive: true, force: true });
  rmSync(join(dir, 'out/.cosmo/stages/export.json'), { force: true });
  execFileSync('/usr/bin/time', ['-o', 'time.txt', '-f', 'TIME %e %U %S %M', process.execPath, join(ROOT, 'bin/cosmo.js'), 'export', 'corpus.yaml'], {
    cwd: dir,
    stdio: ['ignore', 'ignore', 'inherit'],
    env: { ...process.env, COSMO_LOG: 'warn' },
  });
  const text = readFileSync(join(dir, 'time.txt'), 'utf8');
  const m = /TIME ([\d.]+) ([\d.]+) ([\d.]+) (\d+)/.exec(text);
  if (!m) throw new Error(`no timing in ${text}`);
  return { wall: Number(m[1]), cpu: Number(m[2]) + Number(m[3]), rssMb: Number(m[4]) / 1024 };
}

async function main() {
  console.log(`export bench: ${runs} run(s) per size, export.tasks = workers = ${tasks}, ${SHARDS} input shards`);
  for (const n of sizes) {
    const dir = mkdtempSync(join(tmpdir(), 'cosmo-bench-export-'));
    const t = performance.now();
    const bytes = await writeSamples(join(dir, 'out/dedup'), n);
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

/**
 * `cosmo view` as users run it: the compiled CLI as a process over an export of N rows (~1.5 KB of
 * real web text each, zstd Parquet), asked over HTTP what its page asks: the first page, a filtered
 * page, a page sorted by length, searches for a common, a rare and an absent word, with a filter
 * and a sort, and the count behind a search: once while the viewer builds its catalog (SQL over the
 * export) and three times with it. The figures are milliseconds of wall time at the client.
 *
 *   npm run build && [KEEP=DIR] npx tsx bench/view.ts [ROWS=100000,1000000]
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { queryRows, sqlString } from '../src/io/parquet.js';
import { writeSamples } from './lib.js';

const SIZES = (process.argv[2] ?? '100000,1000000').split(',').map(Number);
const RUNS = Number(process.env.RUNS ?? 3);
const CLI = resolve(import.meta.dirname, '../dist/cli/main.js');

/**
 * An export folder of `rows` rows: 100k generated samples, copied with new ids up to the size, with
 * lengths from 200 to 1,500 characters and four audiences and three formats spread over the rows, so
 * that a filter and a sort by length have something to do.
 */
async function makeExport(dir: string, rows: number): Promise<void> {
  const base = join(dir, 'base');
  await writeSamples(base, Math.min(rows, 100_000), 4);
  mkdirSync(join(dir, 'out', 'export'), { recursive: true });
  const copies = Math.ceil(rows / 100_000);
  const h = `hash(id || '-' || k)`;
  await queryRows(
    `COPY (SELECT * REPLACE (id || '-' || k AS id, left(text, 200 + (${h} % 1300)::INTEGER) || ' (copy ' || k || ')' AS text, ` +
      `['high_school_students', 'college', 'researchers', 'young_children'][1 + (${h} % 4)::INTEGER] AS audience, ` +
      `['textbook_academic', 'blogpost', 'wikihow'][1 + (${h} % 3)::INTEGER] AS format) ` +
      `FROM read_json(${sqlString(join(base, '*.jsonl'))}, format = 'newline_delimited'), range(${copies}) t(k) LIMIT ${rows}) ` +
      `TO ${sqlString(join(dir, 'out', 'export', '000-00000.parquet'))} (FORMAT parquet, COMPRESSION zstd)`,
  );
  rmSync(base, { recursive: true, force: true });
}

async function timed(url: string): Promise<{ ms: number; body: unknown }> {
  const t0 = performance.now();
  const res = await fetch(url);
  const body = await res.json();
  if (!res.ok) throw new Error(`${url}: ${res.status} ${JSON.stringify(body)}`);
  return { ms: performance.now() - t0, body };
}

/** `cosmo view` on `dir` as a process; its URL once it listens, and the seconds that took. */
async function startView(dir: string): Promise<{ url: string; ready: number; stop: () => void }> {
  const t0 = performance.now();
  const child = spawn(process.execPath, [CLI, 'view', join(dir, 'out'), '--port', '0'], { stdio: ['ignore', 'pipe', 'inherit'] });
  // A request that fails ends the bench: the viewer must not outlive it.
  process.once('exit', () => child.kill('SIGTERM'));
  const url = await new Promise<string>((res, rej) => {
    let out = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /at (http:\/\/\S+)/.exec(out);
      if (m) res(m[1]!);
    });
    child.on('exit', (code) => rej(new Error(`cosmo view exited with ${code}`)));
  });
  // This client's first fetch sets up its HTTP machinery (~0.3 s); not the server's time.
  await timed(`${url}/api/info`);
  return { url, ready: (performance.now() - t0) / 1000, stop: () => child.kill('SIGTERM') };
}

/** Seconds until the viewer's catalog is ready, polled every 100 ms. */
async function catalogReady(url: string): Promise<number> {
  const t0 = performance.now();
  for (;;) {
    const { body } = await timed(`${url}/api/info`);
    const state = (body as { catalog: { state: string } }).catalog.state;
    if (state === 'ready') return (performance.now() - t0) / 1000;
    if (state === 'failed') throw new Error('the catalog failed; see the viewer log');
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function measure(url: string, requests: [string, (run: number) => string][], runs: number, first = 0): Promise<void> {
  for (const [name, path] of requests) {
    const ms: number[] = [];
    let found = '';
    for (let run = first; run < first + runs; run++) {
      const { ms: took, body } = await timed(`${url}${path(run)}`);
      ms.push(took);
      const b = body as { rows?: unknown[]; total?: number };
      found += `${found ? '/' : ''}${b.total !== undefined ? b.total.toLocaleString('en') : (b.rows?.length ?? 0)}`;
    }
    console.log(`  ${name.padEnd(28)} ${ms.map((m) => `${m.toFixed(0).padStart(5)} ms`).join(', ')}   (${name.startsWith('count') ? 'counted' : 'rows'}: ${found})`);
  }
}

for (const rows of SIZES) {
  // KEEP=DIR keeps each export under DIR for the next run; its catalog is made again every run.
  const dir = process.env.KEEP ? join(process.env.KEEP, String(rows)) : mkdtempSync(join(tmpdir(), 'cosmo-bench-view-'));
  if (!existsSync(join(dir, 'out', 'export'))) await makeExport(dir, rows);
  rmSync(join(dir, 'out', 'view'), { recursive: true, force: true });
  // Words of 10+ letters from four texts: each found in a few rows at most, so a search for it reads them all.
  const picked = await queryRows(`SELECT text FROM read_parquet(${sqlString(join(dir, 'out', 'export', '*.parquet'))}) WHERE file_row_number IN (777, 1777, 2777, 3777)`);
  const rare = picked.map((p) => String(p.text).split(/[^A-Za-z]+/).reduce((a, b) => (b.length > a.length ? b : a), ''));
  // A search's matches are kept for its count and later pages, so every run asks for another word
  // (the fourth while the catalog is built).
  const requests: [string, (run: number) => string][] = [
    ['first page', () => '/api/rows?page=0&size=20'],
    ['page 50', () => '/api/rows?page=50&size=20'],
    ['filtered (audience)', () => '/api/rows?page=0&size=20&audience=college'],
    ['sorted by length', () => '/api/rows?page=0&size=20&sort=long'],
    ['filtered, sorted by length', () => '/api/rows?page=0&size=20&sort=short&format=blogpost'],
    ['search, common word', (i) => `/api/rows?page=0&size=20&q=${['the', 'and', 'with', 'for'][i % 4]}`],
    ['search, rare word', (i) => `/api/rows?page=0&size=20&q=${rare[i % 4]}`],
    ['search, absent word', (i) => `/api/rows?page=0&size=20&q=${['zanzibarine', 'quixotrial', 'marmaladist', 'plumbicorn'][i % 4]}`],
    ['search, filtered', (i) => `/api/rows?page=0&size=20&q=${rare[i % 4]}&audience=college`],
    ['search, sorted by length', (i) => `/api/rows?page=0&size=20&q=${rare[i % 4]}&sort=long`],
    ['count of a search', (i) => `/api/count?q=${['education', 'water', 'history', 'music'][i % 4]}`],
  ];
  console.log(`\ncosmo view (dist/) on ${rows.toLocaleString('en')} rows (rare words: ${rare.join(', ')}; load ${loadavg()[0]!.toFixed(2)})`);
  const first = await startView(dir);
  console.log(`  listening after ${first.ready.toFixed(1)} s; while the catalog is built (SQL over the export, one run each):`);
  await measure(first.url, requests, 1, 3);
  console.log(`  catalog built ${(await catalogReady(first.url)).toFixed(1)} s after that; with it (load ${loadavg()[0]!.toFixed(2)}):`);
  await measure(first.url, requests, RUNS);
  first.stop();
  const again = await startView(dir);
  console.log(`  started again: listening after ${again.ready.toFixed(1)} s, kept catalog loaded ${(await catalogReady(again.url)).toFixed(1)} s after that`);
  await measure(again.url, requests.slice(0, 1), RUNS);
  again.stop();
  if (!process.env.KEEP) rmSync(dir, { recursive: true, force: true });
}

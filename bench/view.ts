/**
 * `cosmo view` as users run it: the compiled CLI as a process over an export of N rows (~1.5 KB of
 * real web text each, zstd Parquet), asked over HTTP what its page asks: the first page, a filtered
 * page, a page sorted by length, a search for a common and for a rare word, and the count behind a
 * search. Three runs of each request; the figures are milliseconds of wall time at the client.
 *
 *   npm run build && npx tsx bench/view.ts [ROWS=100000,1000000]
 */
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { queryRows, sqlString } from '../src/io/parquet.js';
import { writeSamples } from './lib.js';

const SIZES = (process.argv[2] ?? '100000,1000000').split(',').map(Number);
const RUNS = Number(process.env.RUNS ?? 3);
const CLI = resolve(import.meta.dirname, '../dist/cli/main.js');

/** An export folder of `rows` rows: 100k generated samples, copied with new ids up to the size. */
async function makeExport(dir: string, rows: number): Promise<void> {
  const base = join(dir, 'base');
  await writeSamples(base, Math.min(rows, 100_000), 4);
  mkdirSync(join(dir, 'out', 'export'), { recursive: true });
  const copies = Math.ceil(rows / 100_000);
  await queryRows(
    `COPY (SELECT * REPLACE (id || '-' || k AS id, text || ' (copy ' || k || ')' AS text) FROM read_json(${sqlString(join(base, '*.jsonl'))}, format = 'newline_delimited'), range(${copies}) t(k) LIMIT ${rows}) ` +
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

for (const rows of SIZES) {
  const dir = mkdtempSync(join(tmpdir(), 'cosmo-bench-view-'));
  await makeExport(dir, rows);
  const t0 = performance.now();
  const child = spawn(process.execPath, [CLI, 'view', join(dir, 'out'), '--port', '0'], { stdio: ['ignore', 'pipe', 'inherit'] });
  const url = await new Promise<string>((res, rej) => {
    let out = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /at (http:\/\/\S+)/.exec(out);
      if (m) res(m[1]!);
    });
    child.on('exit', (code) => rej(new Error(`cosmo view exited with ${code}`)));
  });
  console.log(`\ncosmo view (dist/) on ${rows.toLocaleString('en')} rows: ready in ${((performance.now() - t0) / 1000).toFixed(1)} s (load ${loadavg()[0]!.toFixed(2)})`);
  // This client's first fetch sets up its HTTP machinery (~0.3 s); not the server's time.
  await timed(`${url}/api/info`);
  const requests: [string, string][] = [
    ['first page', '/api/rows?page=0&size=20'],
    ['page 50', '/api/rows?page=50&size=20'],
    ['filtered (audience)', '/api/rows?page=0&size=20&audience=college'],
    ['sorted by length', '/api/rows?page=0&size=20&sort=long'],
    ['search, common word', '/api/rows?page=0&size=20&q=the'],
    ['search, rare word', '/api/rows?page=0&size=20&q=zanzibarine'],
    ['count of a search', '/api/count?q=education'],
  ];
  for (const [name, path] of requests) {
    const ms: number[] = [];
    for (let run = 0; run < RUNS; run++) ms.push((await timed(`${url}${path}`)).ms);
    console.log(`  ${name.padEnd(22)} ${ms.map((m) => `${m.toFixed(0)} ms`).join(', ')}`);
  }
  child.kill('SIGTERM');
  rmSync(dir, { recursive: true, force: true });
}

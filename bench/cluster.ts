/**
 * Clustering time and memory as users run it: `cosmo cluster docs.jsonl --out DIR --no-label` as a
 * process on web-like documents of ~1 KB (SpamAssassin mail bodies and the shared web and OpenStax
 * seeds, cut into pieces, with edited copies beyond what they hold), without labelling.
 *   npx tsx bench/cluster.ts [docs=5000,20000,100000] [--embedder tfidf|glove] [--runs 1]
 * Prints per size: wall and CPU seconds, peak RSS of the process, clusters found, and the load.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { editWords, rng, seedTexts, spamAssassinBodies } from '../test/dedup/planted.js';

const { values, positionals } = parseArgs({ allowPositionals: true, options: { embedder: { type: 'string', default: 'tfidf' }, runs: { type: 'string', default: '1' } } });
const sizes = (positionals[0] ?? '5000,20000,100000').split(',').map(Number);
const ROOT = resolve(import.meta.dirname, '..');

function docs(n: number): string[] {
  const r = rng(3);
  const pieces: string[] = [];
  for (const t of [...spamAssassinBodies(20), ...seedTexts(20)]) {
    const flat = t.replace(/\s+/g, ' ');
    for (let at = 0; at + 600 < flat.length; at += 1000) pieces.push(flat.slice(at, at + 1000));
  }
  const vocab = pieces.slice(0, 100).flatMap((p) => p.split(' '));
  const out = pieces.slice(0, n);
  while (out.length < n) out.push(editWords(pieces[Math.floor(r() * pieces.length)]!, r() * 0.3, vocab, r));
  return out;
}

console.log(`cluster bench: embedder ${values.embedder}, no labelling, ${values.runs} run(s) per size`);
for (const n of sizes) {
  const dir = mkdtempSync(join(tmpdir(), 'cosmo-bench-cluster-'));
  writeFileSync(join(dir, 'docs.jsonl'), docs(n).map((text, i) => JSON.stringify({ id: `d${i}`, text })).join('\n') + '\n');
  for (let run = 1; run <= Number(values.runs); run++) {
    const load = loadavg()[0]!.toFixed(2);
    rmSync(join(dir, 'out'), { recursive: true, force: true });
    const stdout = execFileSync(
      '/usr/bin/time',
      ['-o', 'time.txt', '-f', 'TIME %e %U %S %M', process.execPath, join(ROOT, 'bin/cosmo.js'), 'cluster', 'docs.jsonl', '--out', 'out', '--no-label', '--embedder', values.embedder!],
      { cwd: dir, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], maxBuffer: 64 << 20 },
    );
    const [, wall, user, sys, rss] = /TIME ([\d.]+) ([\d.]+) ([\d.]+) (\d+)/.exec(readFileSync(join(dir, 'time.txt'), 'utf8'))!;
    const clusters = /in (\d+) clusters \((\d+) noise\)/.exec(stdout);
    console.log(
      `  ${n} docs, run ${run}: ${Number(wall).toFixed(1)} s wall, ${(Number(user) + Number(sys)).toFixed(1)} s CPU, peak RSS ${(Number(rss) / 1024).toFixed(0)} MB, ` +
        `${clusters?.[1]} clusters (load ${load})`,
    );
  }
  rmSync(dir, { recursive: true, force: true });
}

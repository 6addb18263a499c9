/**
 * Mixing at scale, as users run it: `cosmo mix corpus.yaml` from the compiled dist/ as a process,
 * the corpus's samples (~400 characters of real web text each, where dedup leaves them) with a real
 * source of JSONL files (~600 characters a row), 50/50 by tokens counted with SmolLM2's tokenizer.
 * Prints wall and stage time, rows/s, peak RSS (memory must stay bounded as rows grow) and the
 * achieved ratios, for one task and for two tasks on two workers. Needs ../shared/data.
 *
 *   npm run build && npx tsx bench/mix.ts [ROWS=1000000]     (RUNS=3 by default)
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { JsonlWriter } from '../src/io/jsonl-writer.js';
import { sharedPath } from '../test/helpers/shared-data.js';
import { textSpans, timedCosmo } from './lib.js';

const ROWS = Number(process.argv[2] ?? 1_000_000);
const RUNS = Number(process.env.RUNS ?? 3);
const SMOLLM2 = sharedPath('tokenizers/smollm2-135m-tokenizer.json');

async function writeRows(dir: string, n: number, files: number, chars: number, seed: number, row: (i: number, text: string) => object): Promise<void> {
  const span = textSpans(seed);
  mkdirSync(dir, { recursive: true });
  const writers = await Promise.all(Array.from({ length: files }, (_, i) => JsonlWriter.open(join(dir, `${i}.jsonl`))));
  for (let i = 0; i < n; i++) await writers[i % files]!.write(row(i, span(chars)));
  for (const w of writers) await w.commit();
}

const dir = mkdtempSync(join(tmpdir(), 'cosmo-bench-mix-'));
await writeRows(join(dir, 'samples'), ROWS / 2, 4, 400, 11, (i, text) => ({ id: `s${i}`, text }));
await writeRows(join(dir, 'web'), ROWS / 2, 8, 600, 12, (i, text) => ({ id: `w${i}`, text }));
const bytes = Number(execFileSync('du', ['-sb', dir], { encoding: 'utf8' }).split('\t')[0]);
console.log(`cosmo mix (dist/) on ${ROWS.toLocaleString('en')} rows (${(bytes / 1e6).toFixed(0)} MB): corpus samples and a JSONL web source, 50/50 by SmolLM2 tokens`);
for (const setup of [
  { name: '1 task', tasks: 1, executor: '' },
  { name: '2 tasks on 2 workers', tasks: 2, executor: 'executor: { workers: 2 }' },
]) {
  for (let run = 1; run <= RUNS; run++) {
    const out = join(dir, 'out');
    rmSync(out, { recursive: true, force: true });
    mkdirSync(out);
    execFileSync('ln', ['-s', join(dir, 'samples'), join(out, 'dedup')]);
    writeFileSync(
      join(dir, 'corpus.yaml'),
      `seeds: [{ kind: web, path: unused.jsonl }]\noutput: out\ndecontaminate: { enabled: false }\n` +
        `mix: { enabled: true, tokenizer: ${SMOLLM2}, tasks: ${setup.tasks}, sources: [{ name: cosmo, weight: 1 }, { name: web, path: web, weight: 1 }] }\n${setup.executor}\n`,
    );
    const load = loadavg()[0]!.toFixed(2);
    const t = timedCosmo(dir, ['mix', 'corpus.yaml'], true);
    const stdout = readFileSync(join(dir, 'stdout.txt'), 'utf8');
    const stage = Number(/^ {2}mix\s+([\d.]+)s/m.exec(stdout)?.[1]);
    const summary = JSON.parse(readFileSync(join(out, 'mix/summary.json'), 'utf8')) as { documents: number; tokens: number; sources: { name: string; achieved_share: number }[] };
    console.log(
      `  ${setup.name}, run ${run}: ${t.wall.toFixed(1)} s wall, stage ${stage.toFixed(1)} s: ${Math.round(ROWS / stage).toLocaleString('en')} rows read/s, ` +
        `${summary.documents.toLocaleString('en')} rows and ${(summary.tokens / 1e6).toFixed(1)} M tokens mixed (${summary.sources.map((s) => `${s.name} ${(100 * s.achieved_share).toFixed(2)}%`).join(', ')}); ` +
        `CPU ${t.cpu.toFixed(1)} s, peak RSS ${t.rssMb.toFixed(0)} MB (load ${load})`,
    );
  }
}
rmSync(dir, { recursive: true, force: true });

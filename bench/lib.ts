/** What the CLI benchmarks share: samples made of real text, and one timed `cosmo` process. */
import { execFileSync } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { JsonlWriter } from '../src/io/jsonl-writer.js';
import { hasSharedData, sharedPath } from '../test/helpers/shared-data.js';
import { rng } from '../test/helpers/rng.js';

const ROOT = resolve(import.meta.dirname, '..');

/** Words of real web text, to make samples of realistic length and compressibility. */
function words(): string[] {
  if (!hasSharedData) throw new Error('this benchmark needs the shared seed data (COSMO_SHARED_DATA)');
  const out: string[] = [];
  for (const f of ['seed/web/c4_demo.jsonl', 'seed/web/dolma_cc_en_head-0091.jsonl']) {
    for (const line of readFileSync(sharedPath(f), 'utf8').split('\n')) if (line.trim()) out.push(...(JSON.parse(line) as { text: string }).text.split(/\s+/));
  }
  return out.filter(Boolean);
}

/** Spans of real web text of about `chars` characters, from seeded places. */
export function textSpans(seed: number): (chars: number) => string {
  const vocab = words();
  const r = rng(seed);
  return (chars) => {
    let at = Math.floor(r() * (vocab.length - 400));
    let s = '';
    while (s.length < chars) s += vocab[at++ % vocab.length] + ' ';
    return s.trimEnd();
  };
}

/** `n` generated samples of ~2 KB (a ~1.5 KB text, its prompt and provenance) in `shards` JSONL shards under `dir`; returns their bytes. */
export async function writeSamples(dir: string, n: number, shards: number): Promise<number> {
  const span = textSpans(7);
  mkdirSync(dir, { recursive: true });
  const writers = await Promise.all(Array.from({ length: shards }, (_, i) => JsonlWriter.open(join(dir, `${i}.jsonl`))));
  for (let i = 0; i < n; i++) {
    await writers[i % shards]!.write({
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

/**
 * One `cosmo ARGS` process in `dir` under GNU time: wall and CPU seconds (children included) and the
 * largest process's peak RSS in MB; its output goes to `stdout.txt` there. With `built`, the compiled
 * `dist/` runs, as an installed package does (no TypeScript compiled on the fly); `npm run build` first.
 */
export function timedCosmo(dir: string, args: string[], built = false): { wall: number; cpu: number; rssMb: number } {
  const cli = built ? join(ROOT, 'dist/cli/main.js') : join(ROOT, 'bin/cosmo.js');
  if (built && !existsSync(cli)) throw new Error(`${cli} is missing: run npm run build first`);
  const stdout = openSync(join(dir, 'stdout.txt'), 'w');
  try {
    execFileSync('/usr/bin/time', ['-o', 'time.txt', '-f', 'TIME %e %U %S %M', process.execPath, cli, ...args], {
      cwd: dir,
      stdio: ['ignore', stdout, 'inherit'],
      env: { ...process.env, COSMO_LOG: 'warn' },
    });
  } finally {
    closeSync(stdout);
  }
  const text = readFileSync(join(dir, 'time.txt'), 'utf8');
  const m = /TIME ([\d.]+) ([\d.]+) ([\d.]+) (\d+)/.exec(text);
  if (!m) throw new Error(`no timing in ${text}`);
  return { wall: Number(m[1]), cpu: Number(m[2]) + Number(m[3]), rssMb: Number(m[4]) / 1024 };
}

/**
 * Tokenizing for training, with the SmolLM2 tokenizer on real text (needs ../shared/data).
 *
 * In process: cosmo's tokenizer (the library's pre-tokenizers and BPE behind a word cache) against
 * @huggingface/tokenizers alone, on the unique real seed texts, the first pass (cold cache) and a
 * second one; both must give the same ids.
 * As users run it: `cosmo tokenize corpus.yaml` from the compiled dist/ as a process, on N generated
 * samples of ~1.5 KB of real web text (bench/lib.ts), one task and two tasks on two workers: wall,
 * stage time, tokens/s and tokens/s per core, peak RSS, the load.
 *
 *   npm run build && npx tsx bench/tokenize.ts [N=50000]     (RUNS=3 by default)
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Tokenizer } from '@huggingface/tokenizers';
import { tokenizerFromJson } from '../src/engines/tokenizer.js';
import { sharedPath } from '../test/helpers/shared-data.js';
import { timedCosmo, writeSamples } from './lib.js';

const N = Number(process.argv[2] ?? 50_000);
const RUNS = Number(process.env.RUNS ?? 3);
const SMOLLM2 = sharedPath('tokenizers/smollm2-135m-tokenizer.json');

function realTexts(): string[] {
  const out: string[] = [];
  for (const f of ['seed/web/c4_demo.jsonl', 'seed/openstax/openstax_toc_intros.jsonl', 'seed/web/dolma_cc_en_head-0091.jsonl', 'seed/web/dolma_cc_en_head-0174.jsonl']) {
    for (const line of readFileSync(sharedPath(f), 'utf8').split('\n').filter(Boolean)) {
      const j = JSON.parse(line) as { text?: string; abstract?: string };
      const t = j.text ?? j.abstract;
      if (t) out.push(t);
    }
  }
  return out;
}

function inProcess(): void {
  const texts = realTexts();
  const chars = texts.reduce((n, t) => n + t.length, 0);
  const time = (encode: (t: string) => number[]) => {
    const t0 = performance.now();
    let tokens = 0;
    for (const t of texts) tokens += encode(t).length;
    return { tokens, s: (performance.now() - t0) / 1000 };
  };
  const lib = new Tokenizer(JSON.parse(readFileSync(SMOLLM2, 'utf8')), {});
  const ours = tokenizerFromJson(SMOLLM2);
  const cold = time((t) => ours.encode(t));
  const warm = time((t) => ours.encode(t));
  const library = time((t) => lib.encode(t, { add_special_tokens: false }).ids);
  const same = texts.every((t) => {
    const a = ours.encode(t);
    const b = lib.encode(t, { add_special_tokens: false }).ids;
    return a.length === b.length && a.every((x, i) => x === b[i]);
  });
  const rate = (r: { tokens: number; s: number }) => `${Math.round(r.tokens / r.s).toLocaleString('en')} tokens/s`;
  console.log(`in process, one core, ${texts.length.toLocaleString('en')} real documents, ${(chars / 1e6).toFixed(2)} M chars, ${cold.tokens.toLocaleString('en')} tokens (load ${loadavg()[0]!.toFixed(2)}):`);
  console.log(`  cosmo, first pass (cold word cache): ${rate(cold)}; second pass: ${rate(warm)}`);
  console.log(`  @huggingface/tokenizers alone: ${rate(library)}; cosmo cold / library: ${(library.s / cold.s).toFixed(1)}x; same ids: ${same}`);
}

async function cli(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'cosmo-bench-tokenize-'));
  const bytes = await writeSamples(join(dir, 'input'), N, 4);
  console.log(`\ncosmo tokenize (dist/) on ${N.toLocaleString('en')} samples (${(bytes / 1e6).toFixed(0)} MB of shards, ~1.5 KB of real web text each), datatrove format`);
  const setups = [
    { name: '1 task', extra: 'tasks: 1', executor: '' },
    { name: '2 tasks on 2 workers', extra: 'tasks: 2', executor: 'executor: { workers: 2 }' },
  ];
  for (const setup of setups) {
    for (let run = 1; run <= RUNS; run++) {
      const out = join(dir, 'out');
      rmSync(out, { recursive: true, force: true });
      mkdirSync(out);
      // The samples stand where dedup leaves them.
      execFileSync('ln', ['-s', join(dir, 'input'), join(out, 'dedup')]);
      writeFileSync(
        join(dir, 'corpus.yaml'),
        `seeds: [{ kind: web, path: unused.jsonl }]\noutput: out\ndecontaminate: { enabled: false }\ntokenize: { enabled: true, tokenizer: ${SMOLLM2}, ${setup.extra} }\n${setup.executor}\n`,
      );
      const load = loadavg()[0]!.toFixed(2);
      const t = timedCosmo(dir, ['tokenize', 'corpus.yaml'], true);
      const stdout = readFileSync(join(dir, 'stdout.txt'), 'utf8');
      const stage = Number(/^ {2}tokenize\s+([\d.]+)s/m.exec(stdout)?.[1]);
      const tokens = Number(/tokens=(\d+)/.exec(stdout)?.[1]);
      const cores = setup.name.startsWith('2') ? 2 : 1;
      console.log(
        `  ${setup.name}, run ${run}: ${t.wall.toFixed(2)} s wall (${Math.round(tokens / t.wall).toLocaleString('en')} tokens/s), stage ${stage.toFixed(2)} s: ` +
          `${Math.round(tokens / stage).toLocaleString('en')} tokens/s, ${Math.round(tokens / stage / cores).toLocaleString('en')} per core; ${tokens.toLocaleString('en')} tokens, ` +
          `CPU ${t.cpu.toFixed(1)} s, peak RSS ${t.rssMb.toFixed(0)} MB (load ${load})`,
      );
    }
  }
  rmSync(dir, { recursive: true, force: true });
}

inProcess();
await cli();

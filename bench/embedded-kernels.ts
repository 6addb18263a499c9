/**
 * Where the embedded engine's time goes inside llama.cpp (#17, item 7), for 1, 2, 4 and 8 sequences
 * on one thread, each in a process of its own:
 *  - how node-llama-cpp composes the batches: how many sequences each decode call carries;
 *  - generated tokens/s;
 *  - a `perf` profile of that process: milliseconds per generated token in each llama.cpp/ggml
 *    function (model load and prompt evaluation included, a few percent).
 * bench/embedded.ts measures the same through cosmo's engine; this says why the figures are what
 * they are. Needs Linux `perf` allowed to sample user space (kernel.perf_event_paranoid <= 2).
 *
 *   npx tsx bench/embedded-kernels.ts [--sequences 1,2,4,8] [--tokens 200] [--type q8_0|f32]
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { writeTestModel, type WeightType } from '../src/engines/gguf.js';

const { values } = parseArgs({
  options: {
    sequences: { type: 'string', default: '1,2,4,8' },
    tokens: { type: 'string', default: '200' },
    type: { type: 'string', default: 'q8_0' },
    child: { type: 'string' },
    model: { type: 'string' },
  },
});
const tokens = Number(values.tokens);
const HZ = 1000;

/** In a child process: generate `tokens` tokens on each of `sequences` sequences at once; print what happened as JSON. */
async function child(sequences: number, modelPath: string): Promise<void> {
  const { getLlama, LlamaCompletion } = await import('node-llama-cpp');
  const llama = await getLlama({ gpu: false });
  const model = await llama.loadModel({ modelPath });
  const perBatch = new Map<number, number>();
  const context = await model.createContext({
    sequences,
    contextSize: 1024 * sequences,
    threads: 1,
    batching: {
      // node-llama-cpp's default share of the batch, counting the sequences of each decode call.
      itemPrioritizationStrategy: ({ items, size }) => {
        perBatch.set(items.length, (perBatch.get(items.length) ?? 0) + 1);
        return items.map((item) => ({ item, processAmount: Math.min(item.tokens.length, Math.floor(size / items.length)) }));
      },
    },
  });
  const completions = Array.from({ length: sequences }, () => new LlamaCompletion({ contextSequence: context.getSequence() }));
  const t0 = performance.now();
  const texts = await Promise.all(completions.map((c, i) => c.generateCompletion(`Write a textbook section about topic number ${i}.`, { maxTokens: tokens, temperature: 0.8 })));
  const secs = (performance.now() - t0) / 1000;
  const generated = texts.reduce((n, t) => n + model.tokenize(t).length, 0);
  console.log(JSON.stringify({ secs, generated, perBatch: Object.fromEntries(perBatch) }));
  await context.dispose();
  await model.dispose();
  await llama.dispose();
}

if (values.child) {
  await child(Number(values.child), values.model!);
  process.exit(0);
}

if (spawnSync('perf', ['--version']).status !== 0) {
  console.error('this benchmark needs Linux perf (apt-get install linux-perf)');
  process.exit(1);
}
console.log(`load average ${loadavg()[0]!.toFixed(1)} on ${availableParallelism()} cores`);
const dir = mkdtempSync(join(tmpdir(), 'cosmo-bench-kernels-'));
try {
  const tokenizer = resolve(import.meta.dirname, '../../shared/data/tokenizers/smollm2-135m-tokenizer.json');
  const info = await writeTestModel(join(dir, 'model.gguf'), { preset: 'smollm2-135m', tokenizer, type: values.type as WeightType });
  console.log(`model: ${info.preset} shape, ${(info.params / 1e6).toFixed(1)}M params, ${(info.bytes / 1e6).toFixed(0)} MB ${info.type.toUpperCase()}; ${tokens} tokens a sequence, 1 thread`);
  let single = 0;
  for (const sequences of values.sequences.split(',').map(Number)) {
    const data = join(dir, `perf-${sequences}.data`);
    const out = execFileSync(
      'perf',
      ['record', '-q', '-F', String(HZ), '-o', data, '--', process.execPath, '--import', 'tsx', fileURLToPath(import.meta.url), '--child', String(sequences), '--model', info.path, '--tokens', String(tokens)],
      { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] },
    );
    const run = JSON.parse(out.trim().split('\n').at(-1)!) as { secs: number; generated: number; perBatch: Record<string, number> };
    const tps = run.generated / run.secs;
    single ||= tps;
    const batches = Object.entries(run.perBatch).map(([items, n]) => `${n} x ${items}`).join(', ');
    console.log(`\n${sequences} sequence(s): ${tps.toFixed(1)} tok/s (${(tps / single).toFixed(2)}x the first row); decode calls by sequences carried: ${batches}`);
    // Samples per function of llama.cpp's own libraries, as milliseconds per generated token.
    const report = execFileSync('perf', ['report', '-i', data, '--stdio', '-n', '--sort', 'dso,sym'], { encoding: 'utf8', maxBuffer: 1 << 26, stdio: ['ignore', 'pipe', 'ignore'] });
    const rows = report
      .split('\n')
      .map((l) => /^\s*[\d.]+%\s+(\d+)\s+(\S+)\s+\[\.\]\s+(.*)$/.exec(l))
      .filter((m): m is RegExpExecArray => m !== null && /^lib(ggml|llama)/.test(m[2]!));
    const msPerToken = (samples: number) => (samples * 1000) / HZ / run.generated;
    const total = rows.reduce((n, m) => n + Number(m[1]), 0);
    console.log(`  llama.cpp/ggml: ${msPerToken(total).toFixed(2)} ms a token, of which:`);
    for (const m of rows.slice(0, 6)) console.log(`  ${msPerToken(Number(m[1])).toFixed(2).padStart(7)} ms  ${m[3]!.replace(/\(anonymous namespace\)::/g, '').slice(0, 90)}  (${m[2]})`);
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}

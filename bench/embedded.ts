/**
 * Embedded engine throughput (issues #2, #17): generated tokens/s of the embedded engine on a
 * SmolLM2-135M-shaped model (random Q8_0 weights, the real vocabulary), as a grid of contexts x
 * threads x sequences, with enough concurrent requests to keep every sequence busy, and the
 * process's CPU milliseconds per token beside it. The grid is run `--repeat` times over, each
 * setting once per pass, so that a slower minute of a shared machine falls on every setting alike;
 * each row gives the mean and the range. Target: >= 1.5x the best single-sequence setting.
 *
 *   npx tsx bench/embedded.ts [--contexts 1,2] [--threads 1,2] [--sequences 1,2,4,8] [--tokens 200] [--rounds 2]
 *                             [--repeat 3] [--type q8_0|f32] [--context 1024] [--batch-size N] [--temperature 0.8] [--tokenizer F]
 *
 * Ratios are to 1 context x 1 thread x 1 sequence measured in this run (figures from other runs or
 * machines do not compare). bench/embedded-kernels.ts says where the time goes inside llama.cpp.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { createEmbeddedEngine } from '../src/engines/embedded.js';
import { writeTestModel, type WeightType } from '../src/engines/gguf.js';

const { values } = parseArgs({
  options: {
    contexts: { type: 'string', default: '1,2' },
    threads: { type: 'string', default: '1,2' },
    repeat: { type: 'string', default: '3' },
    context: { type: 'string', default: '1024' },
    tokens: { type: 'string', default: '200' },
    rounds: { type: 'string', default: '2' },
    sequences: { type: 'string', default: '1,2,4,8' },
    'batch-size': { type: 'string' },
    temperature: { type: 'string', default: '0.8' },
    type: { type: 'string', default: 'q8_0' },
    tokenizer: {
      type: 'string',
      default: resolve(import.meta.dirname, '../../shared/data/tokenizers/smollm2-135m-tokenizer.json'),
    },
  },
});
const contextCounts = values.contexts.split(',').map(Number);
const threadCounts = values.threads.split(',').map(Number);
const repeat = Number(values.repeat);
const tokens = Number(values.tokens);
const rounds = Number(values.rounds);
const batchSize = values['batch-size'] ? Number(values['batch-size']) : undefined;
const seqCounts = values.sequences.split(',').map(Number);

// llama.cpp's worker threads spin while they wait for each other: when other processes want the
// same cores, more than one thread per context collapses (10x slower was seen on a busy 2-core box).
const loadNote = () => `load average ${loadavg()[0]!.toFixed(1)} on ${availableParallelism()} cores`;
console.log(loadNote());

const dir = mkdtempSync(join(tmpdir(), 'cosmo-bench-embedded-'));
try {
  let t = Date.now();
  const info = await writeTestModel(join(dir, 'smollm2-135m-random.gguf'), { preset: 'smollm2-135m', tokenizer: values.tokenizer, type: values.type as WeightType });
  console.log(
    `model: ${info.preset} shape, ${(info.params / 1e6).toFixed(1)}M params, ${(info.bytes / 1e6).toFixed(0)} MB ${info.type.toUpperCase()}, ` +
      `written in ${((Date.now() - t) / 1000).toFixed(1)} s`,
  );

  // Contexts use a core each at one thread: more threads a context than the cores hold is left out.
  type Setting = { contexts: number; threads: number; sequences: number };
  const settings: Setting[] = [{ contexts: 1, threads: 1, sequences: 1 }];
  for (const contexts of contextCounts)
    for (const threads of threadCounts)
      for (const sequences of seqCounts)
        if (contexts * threads <= Math.max(availableParallelism(), threads) && !(contexts === 1 && threads === 1 && sequences === 1)) settings.push({ contexts, threads, sequences });
  const label = (x: Setting) => `${x.contexts} x ${x.threads} x ${x.sequences}`;

  const results = new Map<string, { tps: number[]; cpuMs: number[] }>();
  for (let pass = 1; pass <= repeat; pass++) {
    for (const setting of settings) {
      const engine = await createEmbeddedEngine({
        type: 'embedded',
        model: info.path,
        ...setting,
        context_size: Number(values.context),
        gpu: false,
        ...(batchSize ? { batch_size: batchSize } : {}),
      });
      try {
        const ask = (i: number, max: number) =>
          engine.complete({
            messages: [{ role: 'user', content: `Write a textbook section about topic number ${i} for college students.` }],
            params: { temperature: Number(values.temperature), top_p: 0.95, max_tokens: max, seed: i },
          });
        await Promise.all(Array.from({ length: setting.contexts }, (_, i) => ask(-1 - i, 8))); // warm-up: first decode allocates buffers
        const n = engine.concurrency * rounds;
        t = Date.now();
        const cpu0 = process.cpuUsage();
        const done = await Promise.all(Array.from({ length: n }, (_, i) => ask(i, tokens)));
        const secs = (Date.now() - t) / 1000;
        const cpu = process.cpuUsage(cpu0);
        const generated = done.reduce((a, r) => a + r.usage.completion_tokens, 0);
        // CPU of every thread of this process (llama.cpp's included) per generated token.
        const cpuMs = (cpu.user + cpu.system) / 1000 / generated;
        const r = results.get(label(setting)) ?? results.set(label(setting), { tps: [], cpuMs: [] }).get(label(setting))!;
        r.tps.push(generated / secs);
        r.cpuMs.push(cpuMs);
        console.log(`pass ${pass}, ${label(setting)} (contexts x threads x sequences): ${n} requests, ${generated} tokens in ${secs.toFixed(1)} s = ${(generated / secs).toFixed(1)} tok/s, ${cpuMs.toFixed(1)} ms CPU a token`);
      } finally {
        await engine.close();
      }
    }
  }

  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  const base = mean(results.get(label(settings[0]!))!.tps);
  console.log(`\n| contexts | threads | sequences | tokens/s, mean of ${repeat} (range) | CPU ms/token | vs 1 x 1 x 1 |`);
  console.log('| --- | --- | --- | --- | --- | --- |');
  let best = settings[0]!;
  for (const x of settings) {
    const r = results.get(label(x))!;
    if (mean(r.tps) > mean(results.get(label(best))!.tps)) best = x;
    console.log(
      `| ${x.contexts} | ${x.threads} | ${x.sequences} | ${mean(r.tps).toFixed(1)} (${Math.min(...r.tps).toFixed(0)}-${Math.max(...r.tps).toFixed(0)}) | ` +
        `${mean(r.cpuMs).toFixed(1)} | ${(mean(r.tps) / base).toFixed(2)}x |`,
    );
  }
  console.log(`\nbest: ${label(best)} (contexts x threads x sequences) = ${mean(results.get(label(best))!.tps).toFixed(1)} tok/s, ${(mean(results.get(label(best))!.tps) / base).toFixed(2)}x one sequence on one thread (target >= 1.5x)`);
  console.log(`${loadNote()}${loadavg()[0]! > availableParallelism() ? ': the machine was busy, figures are not comparable' : ''}`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}

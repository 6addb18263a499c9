/**
 * Embedded engine throughput (issues #2, #17): generated tokens/s of one llama.cpp context on a
 * SmolLM2-135M-shaped model (random Q8_0 weights, the real vocabulary), as a grid of threads x
 * sequences, with enough concurrent requests to keep every sequence busy, and the process's CPU
 * seconds per token beside it. Target: N sequences >= 1.5x the best single-sequence setting.
 *
 *   npx tsx bench/embedded.ts [--threads 1,2] [--sequences 1,2,4,8] [--tokens 200] [--rounds 2] [--type q8_0|f32]
 *                             [--context 1024] [--batch-size N] [--temperature 0.8] [--tokenizer F]
 *
 * Ratios are to the 1-sequence row with the same threads and to 1 sequence on 1 thread, measured in
 * this run (figures from other runs or machines do not compare).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { createEmbeddedEngine } from '../src/engines/embedded.js';
import { writeTestModel, type WeightType } from '../src/engines/gguf.js';

const { values } = parseArgs({
  options: {
    threads: { type: 'string', default: '1,2' },
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
const threadCounts = values.threads.split(',').map(Number);
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

  const runs: { sequences: number; threads: number }[] = [];
  if (!threadCounts.includes(1)) runs.push({ sequences: 1, threads: 1 });
  for (const threads of threadCounts) for (const s of seqCounts) runs.push({ sequences: s, threads });

  const rows: { sequences: number; threads: number; requests: number; tokens: number; secs: number; tps: number; cpuMs: number }[] = [];
  for (const run of runs) {
    t = Date.now();
    const engine = await createEmbeddedEngine({
      type: 'embedded',
      model: info.path,
      threads: run.threads,
      sequences: run.sequences,
      context_size: Number(values.context),
      gpu: false,
      ...(batchSize ? { batch_size: batchSize } : {}),
    });
    const loadMs = Date.now() - t;
    try {
      const ask = (i: number, max: number) =>
        engine.complete({
          messages: [{ role: 'user', content: `Write a textbook section about topic number ${i} for college students.` }],
          params: { temperature: Number(values.temperature), top_p: 0.95, max_tokens: max, seed: i },
        });
      await ask(-1, 8); // warm-up: first decode allocates buffers
      const n = run.sequences * rounds;
      t = Date.now();
      const cpu0 = process.cpuUsage();
      const results = await Promise.all(Array.from({ length: n }, (_, i) => ask(i, tokens)));
      const secs = (Date.now() - t) / 1000;
      const cpu = process.cpuUsage(cpu0);
      const generated = results.reduce((a, r) => a + r.usage.completion_tokens, 0);
      // CPU of every thread of this process (llama.cpp's included) per generated token.
      const cpuMs = (cpu.user + cpu.system) / 1000 / generated;
      rows.push({ ...run, requests: n, tokens: generated, secs, tps: generated / secs, cpuMs });
      console.log(
        `sequences ${run.sequences}, threads ${run.threads}: ${n} requests, ${generated} tokens in ${secs.toFixed(1)} s ` +
          `= ${(generated / secs).toFixed(1)} tok/s, ${cpuMs.toFixed(1)} ms CPU a token (load ${loadMs} ms)`,
      );
    } finally {
      await engine.close();
    }
  }

  const base = (th: number) => rows.find((r) => r.sequences === 1 && r.threads === th)?.tps;
  console.log('\n| sequences | threads | requests | tokens | seconds | tokens/s | CPU ms/token | vs 1 sequence, same threads | vs 1 seq/1 thread |');
  console.log('| --- | --- | --- | --- | --- | --- | --- | --- | --- |');
  for (const r of rows) {
    const b = base(r.threads);
    const b1 = base(1);
    console.log(
      `| ${r.sequences} | ${r.threads} | ${r.requests} | ${r.tokens} | ${r.secs.toFixed(1)} | ${r.tps.toFixed(1)} | ${r.cpuMs.toFixed(1)} | ` +
        `${b ? (r.tps / b).toFixed(2) + 'x' : '-'} | ${b1 ? (r.tps / b1).toFixed(2) + 'x' : '-'} |`,
    );
  }
  const best = rows.reduce((a, r) => (r.tps > a.tps ? r : a));
  const b1 = base(1)!;
  console.log(
    `\nbest: ${best.sequences} sequences x ${best.threads} threads = ${best.tps.toFixed(1)} tok/s, ` +
      `${(best.tps / b1).toFixed(2)}x one sequence on one thread (target >= 1.5x)`,
  );
  console.log(`${loadNote()}${loadavg()[0]! > availableParallelism() ? ': the machine was busy, figures are not comparable' : ''}`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}

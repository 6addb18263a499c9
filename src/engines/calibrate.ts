/**
 * `threads`, `sequences` and `contexts: auto` for the embedded engine: measured, not guessed.
 * Whether several sequences decoded together beat one, and whether a second thread or a second
 * context helps, depends on the model, the CPU (or GPU) and what else runs: on a 2-core VM one
 * context gained nothing from a second thread or more sequences for SmolLM2-135M, and two contexts
 * of one thread each gave ~1.5x (bench/embedded.ts, bench/embedded-kernels.ts say why); on a GPU
 * batching pays many times.
 *
 * At the first load of a model on a machine, a few settings are timed for about a second each:
 * threads 1, 2, 4, 8 (up to the cores) with one sequence, then, with the best threads, 2, 4, 8
 * sequences until one is slower, then 2, 3, … contexts (up to the cores over the threads) until one
 * is slower. The best is kept in `<cache>/calibration.json`, keyed by the model file (path, size,
 * modification time), the CPU, the core count and the GPU, and used from then on.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, homedir } from 'node:os';
import { dirname, join } from 'node:path';
import type { Logger } from '../util/log.js';

export interface CalibrationPoint {
  threads: number;
  sequences: number;
  contexts: number;
  tokens_per_s: number;
}

export interface Calibration {
  threads: number;
  sequences: number;
  contexts: number;
  /** Every setting timed, in the order it was. */
  figures: CalibrationPoint[];
  at: string;
}

/** Times `contexts` contexts of `threads` threads × `sequences` sequences: generated tokens per second. */
export type Measure = (threads: number, sequences: number, contexts: number) => Promise<number>;

/** What the config fixed; the rest is timed. */
export interface Fixed {
  threads?: number;
  sequences?: number;
  contexts?: number;
}

export const calibrationFile = (): string => join(process.env.COSMO_CACHE ?? join(homedir(), '.cache', 'cosmo'), 'calibration.json');

/** What makes a calibration hold: the model file, the machine, and what the config fixed. */
export function calibrationKey(modelPath: string, gpu: string, fixed: Fixed): string {
  const st = statSync(modelPath);
  const cpu = cpus()[0]?.model ?? 'unknown cpu';
  return createHash('sha256')
    .update(JSON.stringify([modelPath, st.size, st.mtimeMs, cpu, availableParallelism(), gpu, fixed.threads ?? 'auto', fixed.sequences ?? 'auto', fixed.contexts ?? 'auto']))
    .digest('hex')
    .slice(0, 32);
}

/** The kept calibration for `key`, or a new one measured with `measure` and kept. */
export async function calibrated(key: string, fixed: Fixed, measure: Measure, log: Logger, file = calibrationFile()): Promise<Calibration & { kept: boolean }> {
  let all: Record<string, Calibration> = {};
  try {
    if (existsSync(file)) all = JSON.parse(readFileSync(file, 'utf8')) as Record<string, Calibration>;
  } catch {
    // A damaged file is measured again and replaced.
  }
  const kept = all[key];
  if (kept) return { ...kept, kept: true };
  log.info('calibrating threads, sequences and contexts for this model on this machine (once, a few seconds)');
  const figures: CalibrationPoint[] = [];
  const time = async (threads: number, sequences: number, contexts: number) => {
    const point = { threads, sequences, contexts, tokens_per_s: Math.round((await measure(threads, sequences, contexts)) * 10) / 10 };
    figures.push(point);
    return point;
  };
  const cores = availableParallelism();
  let best = await time(fixed.threads ?? 1, fixed.sequences ?? 1, fixed.contexts ?? 1);
  if (fixed.threads === undefined)
    for (const t of [2, 4, 8].filter((t) => t <= cores)) {
      const p = await time(t, best.sequences, best.contexts);
      if (p.tokens_per_s > best.tokens_per_s) best = p;
    }
  // Then more sequences, then more contexts, each up to the first count that is not faster: more
  // will not be either.
  if (fixed.sequences === undefined)
    for (const s of [2, 4, 8]) {
      const p = await time(best.threads, s, best.contexts);
      if (p.tokens_per_s <= best.tokens_per_s) break;
      best = p;
    }
  if (fixed.contexts === undefined)
    for (let c = 2; c * best.threads <= cores; c++) {
      const p = await time(best.threads, best.sequences, c);
      if (p.tokens_per_s <= best.tokens_per_s) break;
      best = p;
    }
  const result: Calibration = { threads: best.threads, sequences: best.sequences, contexts: best.contexts, figures, at: new Date().toISOString() };
  all[key] = result;
  mkdirSync(dirname(file), { recursive: true });
  const tmp = `${file}.tmp-${process.pid}`;
  writeFileSync(tmp, JSON.stringify(all, null, 1));
  renameSync(tmp, file);
  log.info('calibrated', {
    threads: result.threads,
    sequences: result.sequences,
    contexts: result.contexts,
    figures: figures.map((f) => `${f.contexts}x${f.threads}tx${f.sequences}s=${f.tokens_per_s}`).join(' '),
  });
  return { ...result, kept: false };
}

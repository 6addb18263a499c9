import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { CosmoError } from './errors.js';

/**
 * Child processes and worker threads run with the same runtime as this process: the compiled
 * `dist/` as it is, or, in a source checkout, the TypeScript through tsx. tsx is found from this
 * file, never from the current folder, so cosmo starts its workers from wherever it is run.
 */

/** Whether this process runs cosmo from its TypeScript source (a checkout, tests) rather than from dist/. */
export const fromSource = import.meta.url.endsWith('.ts');

/** The file URL of a tsx export (`.` is the loader for `--import`; `./esm/api` registers it in a worker thread). */
export function tsxEntry(subpath: '.' | './esm/api'): string {
  let pkgFile: string;
  try {
    pkgFile = createRequire(fileURLToPath(import.meta.url)).resolve('tsx/package.json');
  } catch {
    throw new CosmoError('cosmo runs from its source here and needs tsx to start workers; run `npm ci` in the checkout');
  }
  const pkg = JSON.parse(readFileSync(pkgFile, 'utf8')) as { exports: Record<string, string | { import: string | { default: string } }> };
  const entry = pkg.exports[subpath];
  const rel = typeof entry === 'string' ? entry : typeof entry?.import === 'string' ? entry.import : entry?.import?.default;
  if (!rel) throw new CosmoError(`cannot find tsx's "${subpath}" export in ${pkgFile}`);
  return pathToFileURL(join(dirname(pkgFile), rel)).href;
}

/** The node command line that runs a module of this package in a new process, with the same runtime as this one. */
export function nodeCommandFor(moduleUrl: URL): string[] {
  const path = fileURLToPath(moduleUrl);
  return path.endsWith('.ts') ? [process.execPath, '--import', tsxEntry('.'), path] : [process.execPath, path];
}

/** A module beside `base` (`import.meta.url`), as .ts from source and .js from dist/. */
export const siblingModule = (name: string, base: string): URL => new URL(`./${name}.${base.endsWith('.ts') ? 'ts' : 'js'}`, base);

/**
 * A worker thread running `moduleUrl`: the compiled .js as it is; from source (tsx, vitest) the .ts
 * through tsx's loader, registered inside the worker, since Node 20 does not apply the parent's
 * loader hooks or `--import tsx` in execArgv to worker threads.
 */
export function startWorkerThread(moduleUrl: URL, workerData: unknown): Worker {
  if (!moduleUrl.pathname.endsWith('.ts')) return new Worker(moduleUrl, { workerData });
  const code = `import(${JSON.stringify(tsxEntry('./esm/api'))}).then((api) => { api.register(); return import(${JSON.stringify(moduleUrl.href)}); });`;
  return new Worker(code, { eval: true, workerData });
}

/**
 * Worker threads for a task when its config leaves it open: the cores it may use (its share of the
 * machine when `concurrentTasks` run at once), at most 4, and 0 on a single core.
 */
export function defaultThreads(concurrentTasks: number): number {
  const cores = Math.floor(availableParallelism() / Math.max(1, concurrentTasks));
  return cores <= 1 ? 0 : Math.min(cores, 4);
}

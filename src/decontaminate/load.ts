import { existsSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import type { Logger } from '../util/log.js';
import { benchmarkNameOf, loadBenchmarkDir, loadItemTexts, loadTextBenchmark, type BenchmarkItem } from './benchmarks.js';
import type { DecontamConfig } from './config.js';
import { Decontaminator, type DecontamOptions } from './decontaminator.js';
import { cacheKey, cacheRoot, readCached, writeCached } from './cache.js';

/** Whether the config names anything to check against. */
export const hasBenchmarks = (c: DecontamConfig) => c.benchmarks_dir !== undefined || c.extra.length > 0 || c.items.length > 0;

export function optionsOf(c: DecontamConfig): DecontamOptions {
  return {
    ngram: c.ngram,
    minNgram: Math.min(c.min_ngram, c.ngram),
    threshold: c.threshold,
    mode: c.mode,
    minBlock: c.min_block,
    questionMinWords: c.question_min_words,
    partThreshold: c.part_threshold,
    cutMinWords: c.cut_min_words,
    maxItemsPerNgram: c.max_items_per_ngram,
  };
}

/** Makes a config path absolute (against the corpus file's folder; the current one by default). */
type Resolve = (path: string) => string;
const fromHere: Resolve = (p) => (isAbsolute(p) ? p : resolve(p));

/** The benchmark files and folders the config names, absolute. */
export function benchmarkPaths(c: DecontamConfig, resolvePath: Resolve = fromHere): string[] {
  const files = [...c.extra.map((e) => resolvePath(typeof e === 'string' ? e : e.path)), ...c.items.map(resolvePath)];
  return c.benchmarks_dir === undefined ? files : [resolvePath(c.benchmarks_dir), ...files];
}

/** Every benchmark item the config names: the folder's known benchmarks, the extra files, then the prebuilt item texts. */
export async function loadConfiguredBenchmarks(c: DecontamConfig, resolvePath: Resolve = fromHere, log?: Logger): Promise<BenchmarkItem[]> {
  const items: BenchmarkItem[] = [];
  if (c.benchmarks_dir !== undefined) {
    const dir = resolvePath(c.benchmarks_dir);
    const loaded = await loadBenchmarkDir(dir, c.benchmarks);
    items.push(...loaded.items);
    if (loaded.ignored.length) log?.warn('benchmark folder entries not recognised, ignored', { dir, entries: loaded.ignored.join(', ') });
  }
  for (const extra of c.extra) {
    const spec = typeof extra === 'string' ? { path: extra, field: 'text' } : extra;
    const file = resolvePath(spec.path);
    items.push(...(await loadTextBenchmark(file, ('name' in spec && spec.name) || benchmarkNameOf(file), spec.field)));
  }
  for (const file of c.items) items.push(...(await loadItemTexts(resolvePath(file))));
  return items;
}

/** The cache entry of the index these settings build from these files (none when the cache is off). */
function indexKey(c: DecontamConfig, resolvePath: Resolve): string | undefined {
  const { benchmarks, extra } = c;
  return c.cache ? cacheKey(benchmarkPaths(c, resolvePath), { benchmarks, extra, options: optionsOf(c) }) : undefined;
}

/**
 * Whether the configured benchmarks can be read, checked before a run: by reading them (~1.3 s for
 * all ten, bz2 included), unless the cache holds an index built from these very files (their sizes
 * and times are in its name), which says they were read whole before.
 */
export async function checkBenchmarks(c: DecontamConfig, resolvePath: Resolve = fromHere): Promise<void> {
  const key = indexKey(c, resolvePath);
  if (key && existsSync(join(cacheRoot(), key, 'state.json'))) return;
  await loadConfiguredBenchmarks(c, resolvePath);
}

/** Load the configured benchmarks and index them, or read the index a run before built from the same files (`cache`). */
export async function buildDecontaminator(c: DecontamConfig, resolvePath: Resolve = fromHere, log?: Logger): Promise<Decontaminator> {
  const started = Date.now();
  const options = optionsOf(c);
  const key = indexKey(c, resolvePath);
  const cached = key ? readCached(key) : undefined;
  const dc = cached ?? new Decontaminator(await loadConfiguredBenchmarks(c, resolvePath, log), options);
  if (key && !cached) writeCached(key, dc);
  const { items, indexed, ngrams } = dc.summary;
  log?.info('benchmarks indexed', { items, indexed, ngrams, ms: Date.now() - started, from: cached ? 'cache' : 'files', ...(key ? { cache: join(cacheRoot(), key) } : {}) });
  return dc;
}

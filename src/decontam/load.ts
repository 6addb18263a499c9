import type { CorpusConfig } from '../config/schema.js';
import { resolvePath } from '../config/load.js';
import type { Logger } from '../util/log.js';
import { benchmarkNameOf, loadBenchmarkDir, loadTextBenchmark, type BenchmarkItem } from './benchmarks.js';
import type { DecontamConfig } from './config.js';
import { Decontaminator, type DecontamOptions } from './decontaminator.js';

/** Whether the config names anything to check against. */
export const hasBenchmarks = (c: DecontamConfig) => c.benchmarks_dir !== undefined || c.extra.length > 0;

export function optionsOf(c: DecontamConfig): DecontamOptions {
  return {
    ngram: c.ngram,
    minNgram: Math.min(c.min_ngram, c.ngram),
    threshold: c.threshold,
    mode: c.mode,
    minBlock: c.min_block,
    questionMinWords: c.question_min_words,
    cutMinWords: c.cut_min_words,
    maxItemsPerNgram: c.max_items_per_ngram,
  };
}

/** Every benchmark item the config names: the folder's known benchmarks, then the extra files. */
export async function loadConfiguredBenchmarks(cfg: Pick<CorpusConfig, 'base_dir' | 'decontaminate'>, log?: Logger): Promise<BenchmarkItem[]> {
  const c = cfg.decontaminate;
  const items: BenchmarkItem[] = [];
  if (c.benchmarks_dir !== undefined) {
    const dir = resolvePath(cfg, c.benchmarks_dir);
    const loaded = await loadBenchmarkDir(dir, c.benchmarks);
    items.push(...loaded.items);
    if (loaded.ignored.length) log?.warn('benchmark folder entries not recognised, ignored', { dir, entries: loaded.ignored.join(', ') });
  }
  for (const extra of c.extra) {
    const spec = typeof extra === 'string' ? { path: extra, field: 'text' } : extra;
    const file = resolvePath(cfg, spec.path);
    items.push(...(await loadTextBenchmark(file, ('name' in spec && spec.name) || benchmarkNameOf(file), spec.field)));
  }
  return items;
}

/** Load the configured benchmarks and index them. */
export async function buildDecontaminator(cfg: Pick<CorpusConfig, 'base_dir' | 'decontaminate'>, log?: Logger): Promise<Decontaminator> {
  const started = Date.now();
  const items = await loadConfiguredBenchmarks(cfg, log);
  const dc = new Decontaminator(items, optionsOf(cfg.decontaminate));
  log?.info('benchmarks indexed', {
    items: dc.summary.items,
    indexed: dc.summary.indexed,
    ngrams: dc.summary.ngrams,
    ms: Date.now() - started,
  });
  return dc;
}

import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Stats } from '../exec/stats.js';
import { writeFileAtomic, writeJsonAtomic } from '../io/atomic.js';
import type { DecontamConfig } from './config.js';
import type { IndexSummary } from './decontaminator.js';

/** What one task leaves beside its shard: the items it matched, so unique counts merge across tasks. */
export interface TaskMatches {
  index: IndexSummary;
  /** Per benchmark, the ids of items found in this task's samples (sorted, unique). */
  matched: Record<string, string[]>;
}

export const matchesFile = (outputDir: string, rank: number) => join(outputDir, 'matched', `${rank}.json`);

export interface BenchmarkRow {
  benchmark: string;
  /** Items in the benchmark files, and how many have enough words to be indexed. */
  items: number;
  indexed: number;
  /** Samples removed (drop modes) or cut (cut mode) because of this benchmark. */
  samples_removed: number;
  samples_cut: number;
  /** Distinct benchmark items found in the corpus: Cosmopedia's "unique benchmark items". */
  unique_items: number;
  /** How the benchmark's item texts were built (what a sample is compared with). */
  item_texts?: string;
}

export interface DecontamReport {
  mode: DecontamConfig['mode'];
  ngram: number;
  threshold: number;
  samples: { checked: number; kept: number; removed: number; cut: number };
  benchmarks: BenchmarkRow[];
}

/** The tasks' matched-item files, merged: the index summary and the distinct items per benchmark. */
export function mergeTaskMatches(outputDir: string, worldSize: number): { index?: IndexSummary; matched: Map<string, Set<string>> } {
  let index: IndexSummary | undefined;
  const matched = new Map<string, Set<string>>();
  for (let rank = 0; rank < worldSize; rank++) {
    const file = matchesFile(outputDir, rank);
    if (!existsSync(file)) continue;
    const t = JSON.parse(readFileSync(file, 'utf8')) as TaskMatches;
    index ??= t.index;
    for (const [bench, ids] of Object.entries(t.matched)) {
      const set = matched.get(bench) ?? new Set<string>();
      ids.forEach((id) => set.add(id));
      matched.set(bench, set);
    }
  }
  return { index, matched };
}

/** The per-benchmark report from merged counters (see Tally) and matched items. */
export function buildReport(
  c: Pick<DecontamConfig, 'mode' | 'ngram' | 'threshold'>,
  stats: Stats,
  unique: Map<string, Set<string>>,
  index: IndexSummary | undefined,
): DecontamReport {
  const names = new Set([...Object.keys(index?.benchmarks ?? {}), ...unique.keys()]);
  const benchmarks = [...names].map((benchmark) => ({
    benchmark,
    items: index?.benchmarks[benchmark]?.items ?? 0,
    indexed: index?.benchmarks[benchmark]?.indexed ?? 0,
    samples_removed: stats.get(`removed.${benchmark}`),
    samples_cut: stats.get(`cut.${benchmark}`),
    unique_items: unique.get(benchmark)?.size ?? 0,
    ...(index?.benchmarks[benchmark]?.built ? { item_texts: index.benchmarks[benchmark].built } : {}),
  }));
  return {
    mode: c.mode,
    ngram: c.ngram,
    threshold: c.threshold,
    samples: { checked: stats.get('checked'), kept: stats.get('kept'), removed: stats.get('removed'), cut: stats.get('cut') },
    benchmarks,
  };
}

/** A name from a config or a file, as Markdown text: no markup, no HTML, no table breaks. */
export const markdownText = (s: string) => s.replace(/[\\`*[\]|<>~]/g, (c) => `\\${c}`).replace(/[\r\n]+/g, ' ');

/** The report as a Markdown table, like the one in Cosmopedia's write-up. */
export function reportMarkdown(r: DecontamReport): string {
  const pct = (n: number) => (r.samples.checked ? ((100 * n) / r.samples.checked).toFixed(3) : '0') + '%';
  const lines = [
    '# Decontamination report',
    '',
    `Mode \`${r.mode}\`, ${r.ngram}-grams, overlap threshold ${r.threshold}.`,
    '',
    `Checked ${r.samples.checked} samples: kept ${r.samples.kept}, removed ${r.samples.removed} (${pct(r.samples.removed)})` +
      (r.mode === 'cut' ? `, cut ${r.samples.cut} (${pct(r.samples.cut)}).` : '.'),
    '',
    `| Benchmark | Items (indexed) | Samples removed |${r.mode === 'cut' ? ' Samples cut |' : ''} Unique items matched |`,
    `| --- | ---: | ---: |${r.mode === 'cut' ? ' ---: |' : ''} ---: |`,
    ...r.benchmarks.map(
      (b) =>
        `| ${markdownText(b.benchmark)} | ${b.items} (${b.indexed}) | ${b.samples_removed} |${r.mode === 'cut' ? ` ${b.samples_cut} |` : ''} ${b.unique_items} |`,
    ),
    '',
    `Items with too few words to index (fewer than the n-gram length${r.mode === 'cosmopedia' ? '' : ', or than min_ngram for short questions'}) cannot be matched.`,
    '',
    'Each benchmark item is compared as:',
    '',
    ...r.benchmarks.map((b) => `- ${markdownText(b.benchmark)}: ${markdownText(b.item_texts ?? 'unknown')}`),
    '',
  ];
  return lines.join('\n');
}

export async function writeReport(r: DecontamReport, outputDir: string): Promise<void> {
  await writeJsonAtomic(join(outputDir, 'report.json'), r);
  await writeFileAtomic(join(outputDir, 'report.md'), reportMarkdown(r));
}

/**
 * The dataset card (README.md): YAML front matter the Hugging Face Hub reads (configs, features that
 * match the files' schema exactly, splits and sizes, license, language, task, tags), then how the
 * data was made: models, engines, the prompt mix, the seed sources and their licenses, what the
 * filter dropped, the duplicate rate, the decontamination table and the pipeline config. A card
 * names no machine paths and no endpoint addresses: the config comes scrubbed, and engines are
 * named by kind.
 */
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import type { Stats, StatsJson } from '../exec/stats.js';
import { writeFileAtomic } from '../io/atomic.js';
import { queryRows, sqlString } from '../io/parquet.js';
import { CosmoError } from '../util/errors.js';
import { EXPORT_COLUMNS } from './columns.js';
import type { ExportConfig } from './config.js';

/** The models the rows came from, from the `model.<name>` counters the export tasks keep. */
export const modelsOf = (stats: Stats): string[] =>
  Object.keys(stats.counters)
    .filter((k) => k.startsWith('model.'))
    .map((k) => k.slice('model.'.length))
    .sort();

/** What the decontaminate stage's report.json holds that a card shows. */
interface DecontamSummary {
  mode: string;
  ngram: number;
  threshold: number;
  samples: { checked: number; removed: number; cut: number };
  benchmarks: { benchmark: string; items: number; samples_removed: number; samples_cut: number; unique_items: number }[];
}

export interface CardInput {
  name: string;
  formats: ExportConfig['formats'];
  card: ExportConfig['card'];
  /** The corpus config without local paths or addresses (CorpusEnv.publicConfig). */
  config: unknown;
  stats: Stats;
  /** What the cleaning stages left, when they ran. */
  filter?: StatsJson;
  dedup?: StatsJson;
  decontaminate?: DecontamSummary;
}

/** A Hugging Face feature for a DuckDB column type, as a card's `dataset_info.features` writes it. */
export function hfFeature(name: string, duckType: string): Record<string, unknown> {
  if (duckType.endsWith('[]')) return { name, sequence: hfDtype(duckType.slice(0, -2)) };
  return { name, dtype: hfDtype(duckType) };
}

function hfDtype(type: string): string {
  const dtype = { VARCHAR: 'string', INTEGER: 'int32', BIGINT: 'int64', SMALLINT: 'int16', TINYINT: 'int8', DOUBLE: 'float64', FLOAT: 'float32', BOOLEAN: 'bool', JSON: 'string' }[type];
  if (!dtype) throw new CosmoError(`dataset card: no Hugging Face feature type for the column type ${type}`);
  return dtype;
}

/** The Hub's size bucket for a row count. */
function sizeCategory(n: number): string {
  const buckets: [number, string][] = [
    [1e3, 'n<1K'],
    [1e4, '1K<n<10K'],
    [1e5, '10K<n<100K'],
    [1e6, '100K<n<1M'],
    [1e7, '1M<n<10M'],
    [1e8, '10M<n<100M'],
    [1e9, '100M<n<1B'],
  ];
  return buckets.find(([limit]) => n < limit)?.[1] ?? 'n>1B';
}

/** A Markdown table cell: no markup, no line breaks. */
const cell = (v: unknown) => String(v ?? '').replace(/[\\`*[\]|<>~]/g, (c) => `\\${c}`).replace(/[\r\n]+/g, ' ');
const pct = (n: number, of: number) => (of && n ? `${((100 * n) / of).toFixed(n / of < 0.001 ? 3 : 1)}%` : '0%');
const num = (n: number) => n.toLocaleString('en-US');

/** Write README.md into the export folder `dir`. */
export async function writeDatasetCard(dir: string, input: CardInput): Promise<void> {
  const files = readdirSync(dir).filter((f) => f.endsWith('.parquet') || f.endsWith('.jsonl.gz')).sort();
  const parquet = files.filter((f) => f.endsWith('.parquet')).map((f) => join(dir, f));
  const source = parquet.length
    ? `read_parquet([${parquet.map(sqlString).join(', ')}])`
    : `read_json([${files.map((f) => sqlString(join(dir, f))).join(', ')}], format='newline_delimited')`;
  // The schema as the files have it (Parquet), or as the JSON rows are written.
  const schema = parquet.length
    ? (await queryRows(`DESCRIBE SELECT * FROM ${source}`)).map((r) => [String(r.column_name), String(r.column_type)] as const)
    : Object.entries(EXPORT_COLUMNS);
  const rows = input.stats.get('rows');
  const count = async (column: string, limit = 20) =>
    rows === 0 ? [] : (await queryRows(`SELECT "${column}" AS v, count(*)::BIGINT AS n FROM ${source} GROUP BY ALL ORDER BY n DESC, v LIMIT ${limit}`)).map((r) => ({ v: r.v as string | null, n: Number(r.n) }));
  const languages = (await count('language', 50)).filter((l) => typeof l.v === 'string' && /^[a-z]{2,3}$/.test(l.v) && l.n >= rows * 0.01).map((l) => l.v!);
  const downloadSize = files.reduce((n, f) => n + statSync(join(dir, f)).size, 0);
  const datasetSize = parquet.length
    ? Number((await queryRows(`SELECT coalesce(sum(total_uncompressed_size), 0)::BIGINT AS n FROM parquet_metadata([${parquet.map(sqlString).join(', ')}])`))[0]?.n ?? 0)
    : downloadSize;

  const front = {
    ...(input.card.pretty_name && { pretty_name: input.card.pretty_name }),
    license: input.card.license,
    language: input.card.language ?? (languages.length ? languages : ['en']),
    task_categories: ['text-generation'],
    tags: ['synthetic', 'cosmo'],
    size_categories: [sizeCategory(rows)],
    configs: [{ config_name: 'default', data_files: [{ split: 'train', path: parquet.length ? '*.parquet' : '*.jsonl.gz' }] }],
    dataset_info: {
      features: schema.map(([name, type]) => hfFeature(name, type)),
      splits: [{ name: 'train', num_bytes: datasetSize, num_examples: rows }],
      download_size: downloadSize,
      dataset_size: datasetSize,
    },
  };

  const config = (input.config ?? {}) as { generate?: { engines?: { type?: string; server?: string }[] }; seeds?: { name?: string; kind?: string; path?: string; license?: string }[] };
  const engineKinds = [...new Set((config.generate?.engines ?? []).map((e) => (e.type === 'embedded' ? 'llama.cpp (embedded)' : `an OpenAI-compatible server${e.server && e.server !== 'auto' ? ` (${e.server})` : ''}`)))];
  const table = (title: string, rowsOf: { v: unknown; n: number }[]) =>
    rowsOf.length ? [`| ${title} | samples | share |`, '| --- | ---: | ---: |', ...rowsOf.map((r) => `| ${cell(r.v ?? '(none)')} | ${num(r.n)} | ${pct(r.n, rows)} |`), ''] : [];
  const body: string[] = [
    `# ${input.card.pretty_name ?? input.name}`,
    '',
    input.card.description ?? 'A synthetic corpus built with [cosmo](https://www.npmjs.com/package/cosmo).',
    '',
    `- rows: ${num(rows)}`,
    `- tokens (generated): ${num(input.stats.get('tokens'))}`,
    `- files: ${num(input.stats.get('files'))}`,
    `- models: ${modelsOf(input.stats).join(', ') || '(none)'}`,
    `- engines: ${engineKinds.join(', ') || '(none)'}`,
    '',
    "The first six columns are Cosmopedia's (`prompt, text, token_length, audience, format, seed_data`); the rest record provenance.",
    '',
    '## Prompt mix',
    '',
    ...table('format', await count('format')),
    ...table('audience', await count('audience')),
    ...table('seed source', await count('seed_source')),
    ...table('template', await count('template_id')),
    ...table('language', await count('language')),
    '## Seed sources',
    '',
    '| source | kind | license |',
    '| --- | --- | --- |',
    ...(config.seeds ?? []).map((s) => `| ${cell(s.name ?? String(s.path ?? '').split('/').pop())} | ${cell(s.kind)} | ${cell(s.license ?? 'not stated: check the source before you share')} |`),
    '',
    '## Cleaning',
    '',
    ...cleaning(input),
    '## Pipeline config',
    '',
    '```yaml',
    stringify(input.config).trimEnd(),
    '```',
    '',
  ];
  await writeFileAtomic(join(dir, 'README.md'), `---\n${stringify(front)}---\n\n${body.join('\n')}`);
}

/** What the filter, dedup and decontamination stages did, as far as they ran. */
function cleaning(input: CardInput): string[] {
  const out: string[] = [];
  if (input.filter) {
    const c = input.filter.counters;
    const drops = Object.entries(c).filter(([k]) => k.startsWith('dropped.'));
    const seen = c.samples ?? 0;
    out.push(`Filter: ${num(seen)} samples checked, ${num(c.kept ?? 0)} kept.${drops.length ? ' Dropped:' : ''}`, '');
    if (drops.length) out.push('| reason | samples | share |', '| --- | ---: | ---: |', ...drops.sort((a, b) => b[1] - a[1]).map(([k, n]) => `| ${cell(k.slice(8))} | ${num(n)} | ${pct(n, seen)} |`), '');
  } else out.push('Filter: not run.', '');
  if (input.dedup) {
    const c = input.dedup.counters;
    const removed = (c.docs ?? 0) - (c.kept ?? 0);
    const kinds = Object.entries(c).filter(([k, n]) => k.startsWith('removed.') && n > 0);
    out.push(
      `Near-duplicates (MinHash): ${num(removed)} of ${num(c.docs ?? 0)} samples removed (${pct(removed, c.docs ?? 0)})${kinds.length ? `: ${kinds.map(([k, n]) => `${k.slice(8)} ${num(n)}`).join(', ')}` : ''}.`,
      '',
    );
  } else out.push('Near-duplicates: not removed.', '');
  const d = input.decontaminate;
  if (d) {
    out.push(
      `Decontamination (mode \`${d.mode}\`, ${d.ngram}-grams, threshold ${d.threshold}): ${num(d.samples.checked)} samples checked, ${num(d.samples.removed)} removed${d.mode === 'cut' ? `, ${num(d.samples.cut)} cut` : ''}.`,
      '',
      '| benchmark | items | samples removed | unique items matched |',
      '| --- | ---: | ---: | ---: |',
      ...d.benchmarks.map((b) => `| ${cell(b.benchmark)} | ${num(b.items)} | ${num(b.samples_removed + b.samples_cut)} | ${num(b.unique_items)} |`),
      '',
    );
  } else out.push('Decontamination: not run.', '');
  return out;
}

import { join } from 'node:path';
import { stringify } from 'yaml';
import type { Stats } from '../exec/stats.js';
import { writeFileAtomic } from '../io/atomic.js';
import { EXPORT_COLUMNS } from './columns.js';

/** The models the rows came from, from the `model.<name>` counters the export tasks keep. */
export const modelsOf = (stats: Stats): string[] =>
  Object.keys(stats.counters)
    .filter((k) => k.startsWith('model.'))
    .map((k) => k.slice('model.'.length))
    .sort();

/**
 * A Hugging Face dataset card: YAML front matter (configs, columns, counts) and the pipeline config
 * as the corpus file says it, without local paths or endpoint addresses (`config` comes scrubbed).
 */
export async function writeDatasetCard(dir: string, card: { name: string; formats: string[]; config: unknown }, stats: Stats): Promise<void> {
  const pattern = card.formats.includes('parquet') ? '*.parquet' : '*.jsonl.gz';
  const front = {
    license: 'other',
    task_categories: ['text-generation'],
    tags: ['synthetic', 'cosmo'],
    configs: [{ config_name: 'default', data_files: [{ split: 'train', path: pattern }] }],
    dataset_info: {
      features: Object.entries(EXPORT_COLUMNS).map(([name, type]) => (type.endsWith('[]') ? { name, sequence: duckToHf(type.slice(0, -2)) } : { name, dtype: duckToHf(type) })),
      splits: [{ name: 'train', num_examples: stats.get('rows') }],
    },
  };
  const body = [
    `# ${card.name}`,
    '',
    `Synthetic corpus built with [cosmo](https://www.npmjs.com/package/cosmo).`,
    '',
    `- rows: ${stats.get('rows')}`,
    `- tokens (generated): ${stats.get('tokens')}`,
    `- files: ${stats.get('files')}`,
    `- models: ${modelsOf(stats).join(', ') || '(none)'}`,
    '',
    'The first six columns are Cosmopedia\'s (`prompt, text, token_length, audience, format, seed_data`); the rest record provenance.',
    '',
    '## Pipeline config',
    '',
    '```yaml',
    stringify(card.config).trimEnd(),
    '```',
    '',
  ].join('\n');
  await writeFileAtomic(join(dir, 'README.md'), `---\n${stringify(front)}---\n\n${body}`);
}

function duckToHf(type: string): string {
  return { VARCHAR: 'string', INTEGER: 'int32', DOUBLE: 'float64', BOOLEAN: 'bool' }[type] ?? 'string';
}

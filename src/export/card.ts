import { join } from 'node:path';
import { stringify } from 'yaml';
import type { CorpusConfig } from '../config/schema.js';
import type { Stats } from '../exec/stats.js';
import { writeFileAtomic } from '../io/atomic.js';
import { EXPORT_COLUMNS } from './stage.js';

/** A Hugging Face dataset card: YAML front matter (configs, columns, counts) and the pipeline config. */
export async function writeDatasetCard(cfg: CorpusConfig, dir: string, stats: Stats): Promise<void> {
  const front = {
    license: 'other',
    task_categories: ['text-generation'],
    tags: ['synthetic', 'cosmo'],
    configs: [{ config_name: 'default', data_files: [{ split: 'train', path: '*.parquet' }] }],
    dataset_info: {
      features: Object.entries(EXPORT_COLUMNS).map(([name, type]) => ({ name, dtype: duckToHf(type) })),
      splits: [{ name: 'train', num_examples: stats.get('rows') }],
    },
  };
  // Keep what the card records of the config free of local paths' secrets: keys are never in it anyway.
  const { base_dir: _b, output_dir: _o, ...config } = cfg;
  const body = [
    `# ${cfg.name}`,
    '',
    `Synthetic corpus built with [cosmo](https://www.npmjs.com/package/cosmo).`,
    '',
    `- rows: ${stats.get('rows')}`,
    `- tokens (generated): ${stats.get('tokens')}`,
    `- models: ${[...new Set(cfg.generate.engines.map((e) => e.model))].join(', ')}`,
    '',
    'The first six columns are Cosmopedia\'s (`prompt, text, token_length, audience, format, seed_data`); the rest record provenance.',
    '',
    '## Pipeline config',
    '',
    '```yaml',
    stringify(config).trimEnd(),
    '```',
    '',
  ].join('\n');
  await writeFileAtomic(join(dir, 'README.md'), `---\n${stringify(front)}---\n\n${body}`);
}

function duckToHf(type: string): string {
  return { VARCHAR: 'string', INTEGER: 'int32', DOUBLE: 'float64' }[type] ?? 'string';
}

import type { ParquetColumns } from '../io/parquet.js';
import type { Sample } from '../records/types.js';

/** Cosmopedia's columns first, so existing loaders work, then provenance. */
export const EXPORT_COLUMNS: ParquetColumns = {
  prompt: 'VARCHAR',
  text: 'VARCHAR',
  token_length: 'INTEGER',
  audience: 'VARCHAR',
  format: 'VARCHAR',
  seed_data: 'VARCHAR',
  id: 'VARCHAR',
  seed_id: 'VARCHAR',
  seed_source: 'VARCHAR',
  topic: 'VARCHAR',
  language: 'VARCHAR',
  template_id: 'VARCHAR',
  template_version: 'INTEGER',
  model: 'VARCHAR',
  engine: 'VARCHAR',
  finish_reason: 'VARCHAR',
  prompt_tokens: 'INTEGER',
  temperature: 'DOUBLE',
  top_p: 'DOUBLE',
  max_tokens: 'INTEGER',
  created_at: 'VARCHAR',
};

export function toExportRow(s: Sample): Record<string, unknown> {
  return {
    ...s,
    topic: s.topic ?? null,
    prompt_tokens: s.usage?.prompt_tokens ?? null,
    temperature: s.gen_params?.temperature ?? null,
    top_p: s.gen_params?.top_p ?? null,
    max_tokens: s.gen_params?.max_tokens ?? null,
  };
}

/** The sample fields the export reads, with DuckDB types: the columns' sources. */
export const SAMPLE_FIELDS: ParquetColumns = {
  ...Object.fromEntries(Object.entries(EXPORT_COLUMNS).filter(([c]) => !['prompt_tokens', 'temperature', 'top_p', 'max_tokens'].includes(c))),
  usage: 'STRUCT(prompt_tokens INTEGER)',
  gen_params: 'STRUCT(temperature DOUBLE, top_p DOUBLE, max_tokens INTEGER)',
  error: 'VARCHAR',
};

/** The export columns as SQL over SAMPLE_FIELDS: what toExportRow does, inside DuckDB. */
export const EXPORT_SELECT = Object.keys(EXPORT_COLUMNS)
  .map((c) => {
    const nested: Record<string, string> = {
      prompt_tokens: 'usage.prompt_tokens',
      temperature: 'gen_params.temperature',
      top_p: 'gen_params.top_p',
      max_tokens: 'gen_params.max_tokens',
    };
    return nested[c] ? `${nested[c]} AS "${c}"` : `"${c}"`;
  })
  .join(', ');

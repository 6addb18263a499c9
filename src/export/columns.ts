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
  /** Grounding (the knowledge stage): the passages retrieved for the prompt, whether the prompt carried them, and how much of the text they support. */
  passage_ids: 'VARCHAR[]',
  grounded: 'BOOLEAN',
  support: 'DOUBLE',
};

export function toExportRow(s: Sample): Record<string, unknown> {
  return {
    ...s,
    topic: s.topic ?? null,
    prompt_tokens: s.usage?.prompt_tokens ?? null,
    temperature: s.gen_params?.temperature ?? null,
    top_p: s.gen_params?.top_p ?? null,
    max_tokens: s.gen_params?.max_tokens ?? null,
    passage_ids: s.grounding ? s.grounding.passages.map((p) => p.id) : null,
    grounded: s.grounding ? s.grounding.in_prompt : null,
    support: (s as { faithfulness?: { support: number } }).faithfulness?.support ?? null,
  };
}

/** Export columns read from inside a sample's nested fields, as DuckDB expressions. */
const NESTED: Record<string, string> = {
  prompt_tokens: 'usage.prompt_tokens',
  temperature: 'gen_params.temperature',
  top_p: 'gen_params.top_p',
  max_tokens: 'gen_params.max_tokens',
  passage_ids: 'list_transform(grounding.passages, p -> p.id)',
  grounded: 'grounding.in_prompt',
  support: 'faithfulness.support',
};

/** The sample fields the export reads, with DuckDB types: the columns' sources. */
export const SAMPLE_FIELDS: ParquetColumns = {
  ...Object.fromEntries(Object.entries(EXPORT_COLUMNS).filter(([c]) => !(c in NESTED))),
  usage: 'STRUCT(prompt_tokens INTEGER)',
  gen_params: 'STRUCT(temperature DOUBLE, top_p DOUBLE, max_tokens INTEGER)',
  grounding: 'STRUCT(in_prompt BOOLEAN, passages STRUCT(id VARCHAR)[])',
  faithfulness: 'STRUCT(support DOUBLE)',
  error: 'VARCHAR',
};

/** The export columns as SQL over SAMPLE_FIELDS: what toExportRow does, inside DuckDB. */
export const EXPORT_SELECT = Object.keys(EXPORT_COLUMNS)
  .map((c) => (NESTED[c] ? `${NESTED[c]} AS "${c}"` : `"${c}"`))
  .join(', ');

/** The export's columns, how to read them from sample shards in DuckDB, and how to make a row of one sample. */
export interface ExportShape {
  columns: ParquetColumns;
  fields: ParquetColumns;
  select: string;
  row(s: Sample): Record<string, unknown>;
}

/**
 * The export's shape, with the columns of structured answers (generate.json_schema: property →
 * DuckDB type) after the others; a property named like a column above is `structured_<name>`.
 */
export function exportShape(structured: ParquetColumns = {}): ExportShape {
  const extra = Object.entries(structured).map(([name, type]) => ({ name, type, column: name in EXPORT_COLUMNS ? `structured_${name}` : name }));
  if (extra.length === 0) return { columns: EXPORT_COLUMNS, fields: SAMPLE_FIELDS, select: EXPORT_SELECT, row: toExportRow };
  return {
    columns: { ...EXPORT_COLUMNS, ...Object.fromEntries(extra.map((e) => [e.column, e.type])) },
    fields: { ...SAMPLE_FIELDS, structured: `STRUCT(${extra.map((e) => `"${e.name}" ${e.type}`).join(', ')})` },
    select: `${EXPORT_SELECT}, ${extra.map((e) => `structured."${e.name}" AS "${e.column}"`).join(', ')}`,
    row: (s) => {
      const r = toExportRow(s);
      for (const e of extra) r[e.column] = s.structured?.[e.name] ?? null;
      return r;
    },
  };
}

import { join } from 'node:path';
import type { StageDef } from '../exec/stage.js';
import { readTaskInput, listShards, collect, readRecords } from '../io/shards.js';
import { writeParquet, type ParquetColumns } from '../io/parquet.js';
import { writeFileAtomic } from '../io/atomic.js';
import { toJsonl } from '../io/jsonl.js';
import type { Sample } from '../records/types.js';
import { CosmoError } from '../util/errors.js';
import { writeDatasetCard } from './card.js';

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

/** Writes the final dataset: task `rank` turns its share of samples into numbered Parquet / JSONL.gz shards. */
export const exportStage: StageDef = {
  name: 'export',
  enabled: () => true,
  tasks: () => 1,
  async runTask(cfg, ctx) {
    if (!ctx.inputDir || listShards(ctx.inputDir).length === 0)
      throw new CosmoError(`export: no samples to export in ${ctx.inputDir ?? '(no input stage)'}; run generate first`);
    const rows: Record<string, unknown>[] = [];
    for await (const s of readTaskInput<Sample>(ctx.inputDir, ctx.rank, ctx.worldSize, { skipBad: ctx.options.skipBad })) {
      // Failed requests stay in generate's output for the record; they are not part of the dataset.
      if (s.error) {
        ctx.stats.inc('failed_skipped');
        continue;
      }
      rows.push(toExportRow(s));
      ctx.stats.inc('rows');
      ctx.stats.inc('tokens', s.token_length);
    }
    const per = cfg.export.shard_rows;
    const shards = Math.max(1, Math.ceil(rows.length / per));
    for (let i = 0; i < shards; i++) {
      const part = rows.slice(i * per, (i + 1) * per);
      const name = `${String(ctx.rank).padStart(3, '0')}-${String(i).padStart(5, '0')}`;
      for (const format of cfg.export.formats) {
        if (format === 'parquet') await writeParquet(join(ctx.outputDir, `${name}.parquet`), part, EXPORT_COLUMNS);
        else await writeFileAtomic(join(ctx.outputDir, `${name}.jsonl.gz`), toJsonl(part));
      }
    }
    ctx.stats.inc('shards', shards);
    ctx.log.info('exported', { rows: rows.length, shards, dir: ctx.outputDir });
  },
  async finalize(cfg, ctx) {
    await writeDatasetCard(cfg, ctx.outputDir, ctx.stats);
  },
};

/** All rows of an exported dataset (tests and `cosmo inspect`). */
export async function readExport(dir: string): Promise<Record<string, unknown>[]> {
  const parquet = listShards(dir).filter((f) => f.endsWith('.parquet'));
  const files = parquet.length ? parquet : listShards(dir);
  const out: Record<string, unknown>[] = [];
  for (const f of files) out.push(...(await collect(readRecords(f))));
  return out;
}

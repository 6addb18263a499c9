import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { datasetSamples, defineStage, type TaskContext } from '../exec/stage.js';
import { GzipJsonlWriter } from '../io/gzip-writer.js';
import { columnsSpec, jsonlToParquet, ParquetFileWriter, queryRows, sqlString, type ParquetColumns } from '../io/parquet.js';
import { collect, listShards, readRecords } from '../io/shards.js';
import { SAMPLE_RECORD } from '../records/check.js';
import { STRUCTURED_COLUMNS_FILE, type Sample } from '../records/types.js';
import { errorMessage } from '../util/errors.js';
import { writeDatasetCard } from './card.js';
import { EXPORT_COLUMNS, exportShape, type ExportShape } from './columns.js';
import { exportSchema, type ExportConfig } from './config.js';

type FileWriter = ParquetFileWriter | GzipJsonlWriter;

/** The files of task `rank`: `<rank>-<index>.<ext>`, numbered so that they sort in row order. */
const prefix = (rank: number) => `${String(rank).padStart(3, '0')}-`;
const fileName = (rank: number, index: number) => `${prefix(rank)}${String(index).padStart(5, '0')}`;

/** The files a task writes at once, one per format, closed together after `shard_rows` rows or `shard_mb` MB. */
class FileSet {
  private files: FileWriter[] = [];
  count = 0;

  constructor(
    private readonly cfg: ExportConfig,
    private readonly dir: string,
    private readonly rank: number,
    private readonly columns: ParquetColumns,
  ) {}

  async write(row: Record<string, unknown>): Promise<void> {
    if (this.files.length === 0) await this.open();
    for (const f of this.files) await f.write(row);
    const first = this.files[0]!;
    if (first.rows >= this.cfg.shard_rows || first.bytes >= this.cfg.shard_mb * 1e6) await this.close();
  }

  async open(): Promise<void> {
    const name = join(this.dir, fileName(this.rank, this.count++));
    for (const format of this.cfg.formats)
      this.files.push(format === 'parquet' ? await ParquetFileWriter.open(`${name}.parquet`, this.columns) : new GzipJsonlWriter(`${name}.jsonl.gz`));
  }

  async close(): Promise<void> {
    for (const f of this.files.splice(0)) await f.close();
  }

  async abort(): Promise<void> {
    for (const f of this.files.splice(0)) await f.abort();
  }
}

/** Record by record: any input format, bad lines named by file and line (or skipped and counted). */
async function exportRecords(cfg: ExportConfig, ctx: TaskContext<Sample>, shape: ExportShape): Promise<number> {
  const files = new FileSet(cfg, ctx.outputDir, ctx.rank, shape.columns);
  try {
    for await (const s of datasetSamples(ctx)) {
      await files.write(shape.row(s));
      ctx.stats.inc('rows');
      ctx.stats.inc('tokens', s.token_length ?? 0);
      ctx.stats.inc(`model.${s.model}`);
    }
    // Every task leaves at least one file, so an empty share still reads as an (empty) dataset.
    if (files.count === 0) await files.open();
    await files.close();
  } catch (err) {
    await files.abort();
    throw err;
  }
  return files.count;
}

/**
 * Whole JSONL shards straight to Parquet in DuckDB (see jsonlToParquet), the common case and twice
 * as fast. Returns undefined when DuckDB refuses the input: the record-by-record path then reads it
 * again and names the bad line.
 */
async function exportShards(cfg: ExportConfig, ctx: TaskContext<Sample>, shards: string[], shape: ExportShape): Promise<number | undefined> {
  const tmp = join(ctx.outputDir, `.${prefix(ctx.rank)}parts`);
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  let parts: string[];
  try {
    parts = await jsonlToParquet({
      files: shards,
      fields: shape.fields,
      select: shape.select,
      // A record without an id or a text is not a sample: stop, and let the careful path say where.
      where: `error IS NULL AND (CASE WHEN id IS NULL OR text IS NULL THEN error('not a sample record') ELSE true END)`,
      dir: tmp,
      fileRows: cfg.shard_rows,
      fileBytes: cfg.shard_mb * 1e6,
    });
  } catch (err) {
    rmSync(tmp, { recursive: true, force: true });
    ctx.log.info('DuckDB could not read the input as samples; reading it record by record', { error: errorMessage(err).split('\n')[0] });
    return undefined;
  }
  ctx.signal.throwIfAborted();
  if (parts.length > 0) {
    const list = `[${parts.map(sqlString).join(', ')}]`;
    for (const r of await queryRows(`SELECT model, count(*)::BIGINT AS n, coalesce(sum(token_length), 0)::BIGINT AS t FROM read_parquet(${list}) GROUP BY model`)) {
      ctx.stats.inc('rows', Number(r.n));
      ctx.stats.inc('tokens', Number(r.t));
      ctx.stats.inc(`model.${r.model}`, Number(r.n));
    }
  }
  // Every field listed, as in the copy: DuckDB reads a JSON record slowly when asked for one field only.
  const [failed] = await queryRows(
    `SELECT count(error)::BIGINT AS n FROM read_json([${shards.map(sqlString).join(', ')}], format='newline_delimited', columns=${columnsSpec(shape.fields)})`,
  );
  if (Number(failed?.n)) ctx.stats.inc('failed_skipped', Number(failed!.n));
  parts.forEach((p, i) => renameSync(p, join(ctx.outputDir, `${fileName(ctx.rank, i)}.parquet`)));
  rmSync(tmp, { recursive: true, force: true });
  if (parts.length === 0) await new FileSet(cfg, ctx.outputDir, ctx.rank, shape.columns).open().then(() => undefined);
  return Math.max(1, parts.length);
}

/**
 * export: the final dataset. Each task streams its share of the samples into numbered Parquet (and/or
 * JSONL.gz) files of bounded size with bounded memory; the card is written once, from every task's
 * stats.
 */
export const exportStage = defineStage({
  name: 'export',
  key: 'export',
  schema: exportSchema.prefault({}),
  description: 'write the dataset as Parquet / JSONL.gz files with a dataset card',
  input: { records: SAMPLE_RECORD },
  reads: ['generate', 'filter', 'dedup', 'decontaminate'],
  // The card's words do not shape the files.
  settings: ({ card: _card, ...files }) => files,
  enabled: () => true,
  tasks: (cfg) => cfg.tasks,
  async runTask(cfg, ctx) {
    // A killed earlier attempt of this task may have left some of its files: they are made again.
    mkdirSync(ctx.outputDir, { recursive: true });
    const mine = prefix(ctx.rank);
    for (const f of readdirSync(ctx.outputDir)) if (f.startsWith(mine) || f.startsWith(`.${mine}`)) rmSync(join(ctx.outputDir, f), { recursive: true, force: true });
    const shards = ctx.inputFiles();
    const direct = shards && !ctx.options.skipBad && cfg.formats.length === 1 && cfg.formats[0] === 'parquet';
    // Structured answers' fields as columns, when generate had a json_schema.
    const structuredFile = join(ctx.dir('generate'), STRUCTURED_COLUMNS_FILE);
    const shape = exportShape(existsSync(structuredFile) ? (JSON.parse(readFileSync(structuredFile, 'utf8')) as ParquetColumns) : {});
    const files = (direct ? await exportShards(cfg, ctx, shards, shape) : undefined) ?? (await exportRecords(cfg, ctx, shape));
    ctx.stats.inc('files', files);
    ctx.log.info('exported', { rows: ctx.stats.get('rows'), files, dir: ctx.outputDir });
  },
  async finalize(cfg, ctx) {
    // What the cleaning stages left, when they ran (a stage that did not run has no such file).
    const upstream = <T>(stage: string, file: string): T | undefined => {
      const path = join(ctx.dir(stage), file);
      return existsSync(path) ? (JSON.parse(readFileSync(path, 'utf8')) as T) : undefined;
    };
    await writeDatasetCard(ctx.outputDir, {
      name: ctx.corpus.name,
      formats: cfg.formats,
      card: cfg.card,
      config: ctx.corpus.publicConfig,
      stats: ctx.stats,
      filter: upstream('filter', 'stats.json'),
      dedup: upstream('dedup', 'stats.json'),
      decontaminate: upstream('decontaminate', 'report.json'),
    });
  },
});

/** All rows of an exported dataset (tests and `cosmo inspect`). */
export async function readExport(dir: string): Promise<Record<string, unknown>[]> {
  const parquet = listShards(dir).filter((f) => f.endsWith('.parquet'));
  const files = parquet.length ? parquet : listShards(dir);
  const out: Record<string, unknown>[] = [];
  for (const f of files) out.push(...(await collect(readRecords(f))));
  return out;
}

export { EXPORT_COLUMNS };

import type { DuckDBConnection, DuckDBInstance } from '@duckdb/node-api';
import { open, rename, rm, type FileHandle } from 'node:fs/promises';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { tempPathFor } from './atomic.js';

/** DuckDB column types by column name, in output order. */
export type ParquetColumns = Record<string, string>;

let db: Promise<DuckDBInstance> | undefined;
let shared: Promise<DuckDBConnection> | undefined;
/**
 * One DuckDB per process, on one thread: a task is the unit of parallelism (several run at once),
 * and for JSON to Parquet a second thread bought no wall time here, only twice the CPU.
 */
function database(): Promise<DuckDBInstance> {
  // Loaded on first use, not with the module: every worker process would pay for it.
  db ??= import('@duckdb/node-api').then(({ DuckDBInstance }) => DuckDBInstance.create(':memory:', { threads: '1', memory_limit: '512MB' }));
  return db;
}
/** The connection for statements run to completion (a COPY, a count): they never overlap a stream's. */
function connection(): Promise<DuckDBConnection> {
  shared ??= database().then((d) => d.connect());
  return shared;
}

export const sqlString = (s: string) => `'${s.replaceAll("'", "''")}'`;

/** DuckDB's struct literal of column types, `{'name': 'TYPE', …}`. */
export const columnsSpec = (columns: ParquetColumns) =>
  `{${Object.entries(columns)
    .map(([name, type]) => `${sqlString(name)}: ${sqlString(type)}`)
    .join(', ')}}`;

/** Rows per Parquet row group: small enough that the writer's buffer stays small, large enough for good compression. */
const ROW_GROUP_ROWS = 20_000;
/** The longest JSON record DuckDB reads (its buffers grow to this). */
const MAX_OBJECT = 32 << 20;

export interface JsonlToParquet {
  /** JSONL files, read in this order. */
  files: string[];
  /** Fields read from each record and their DuckDB types (absent fields are NULL). */
  fields: ParquetColumns;
  /** The SQL select list of the output columns, over `fields`. */
  select: string;
  /** SQL condition a record must meet to be written. */
  where: string;
  /** Folder the files are written to, named `part_0.parquet`, `part_1.parquet`, … */
  dir: string;
  /** A file is closed after about this many rows (whole row groups)… */
  fileRows: number;
  /** …or about this many bytes. */
  fileBytes: number;
}

/**
 * JSONL straight to Parquet inside DuckDB, the file never passing through JavaScript: about twice
 * as fast as parsing it here (decoding 2 KB of UTF-8 a record costs more than the Parquet writer).
 * Any error (a malformed line, a value of the wrong type) is DuckDB's, without a line number.
 * Returns the files written, in order.
 */
export async function jsonlToParquet(o: JsonlToParquet): Promise<string[]> {
  const con = await connection();
  const groups = Math.max(1, Math.round(o.fileRows / ROW_GROUP_ROWS));
  await con.run(
    `COPY (SELECT ${o.select} FROM read_json([${o.files.map(sqlString).join(', ')}], format='newline_delimited', columns=${columnsSpec(o.fields)}, ` +
      `maximum_object_size=${MAX_OBJECT}) WHERE ${o.where}) TO ${sqlString(o.dir)} ` +
      `(FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE ${Math.min(ROW_GROUP_ROWS, o.fileRows)}, ROW_GROUPS_PER_FILE ${groups}, ` +
      `FILE_SIZE_BYTES ${Math.max(1, Math.floor(o.fileBytes))}, FILENAME_PATTERN 'part_{i}', OVERWRITE_OR_IGNORE)`,
  );
  const reader = await con.runAndReadAll(`SELECT file FROM glob(${sqlString(`${o.dir}/part_*.parquet`)})`);
  return reader
    .getRowObjectsJson()
    .map((r) => String(r.file))
    .sort((a, b) => a.localeCompare(b, 'en', { numeric: true }));
}

/** Rows of an SQL query (small results: counts and sums). */
export async function queryRows(sql: string): Promise<Record<string, unknown>[]> {
  const con = await connection();
  return (await con.runAndReadAll(sql)).getRowObjectsJson() as Record<string, unknown>[];
}

/**
 * A statement on a connection of its own: a long one (the COPY of a large dataset) then holds up
 * no query on the shared connection, which waits for the one before it.
 */
export async function runAlone(sql: string): Promise<void> {
  const con = await (await database()).connect();
  try {
    await con.run(sql);
  } finally {
    con.closeSync();
  }
}

/**
 * One zstd Parquet file written row by row with bounded memory: rows are staged as JSONL on disk,
 * and `close()` has DuckDB convert the staging file (streaming, a row group at a time) and rename
 * the result into place. Until then nothing appears under the final name.
 */
export class ParquetFileWriter {
  rows = 0;
  /** Bytes of row data staged so far (uncompressed JSON: the Parquet file comes out smaller). */
  bytes = 0;
  private buffer = '';
  private readonly names: string[];

  private constructor(
    readonly path: string,
    private readonly columns: ParquetColumns,
    private readonly staging: string,
    private readonly fh: FileHandle,
  ) {
    this.names = Object.keys(columns);
  }

  static async open(path: string, columns: ParquetColumns): Promise<ParquetFileWriter> {
    mkdirSync(dirname(path), { recursive: true });
    const staging = `${tempPathFor(path)}.jsonl`;
    return new ParquetFileWriter(path, columns, staging, await open(staging, 'w'));
  }

  async write(row: Record<string, unknown>): Promise<void> {
    const picked: Record<string, unknown> = {};
    for (const name of this.names) picked[name] = row[name] ?? null;
    const line = JSON.stringify(picked) + '\n';
    this.buffer += line;
    this.bytes += line.length;
    this.rows++;
    if (this.buffer.length >= 1 << 20) await this.flush();
  }

  private async flush(): Promise<void> {
    if (!this.buffer) return;
    const chunk = this.buffer;
    this.buffer = '';
    await this.fh.write(chunk);
  }

  async close(): Promise<void> {
    await this.flush();
    await this.fh.close();
    const tmp = tempPathFor(this.path);
    try {
      const con = await connection();
      await con.run(
        `COPY (SELECT * FROM read_json(${sqlString(this.staging)}, format='newline_delimited', columns=${columnsSpec(this.columns)}, maximum_object_size=${MAX_OBJECT})) ` +
          `TO ${sqlString(tmp)} (FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE ${ROW_GROUP_ROWS})`,
      );
      await rename(tmp, this.path);
    } finally {
      await rm(this.staging, { force: true });
      await rm(tmp, { force: true });
    }
  }

  async abort(): Promise<void> {
    await this.fh.close().catch(() => undefined);
    await rm(this.staging, { force: true });
  }
}

/** Write rows to a zstd-compressed Parquet file, atomically, with the given column types. */
export async function writeParquet(path: string, rows: Iterable<Record<string, unknown>>, columns: ParquetColumns): Promise<number> {
  const w = await ParquetFileWriter.open(path, columns);
  try {
    for (const row of rows) await w.write(row);
    await w.close();
  } catch (err) {
    await w.abort();
    throw err;
  }
  return w.rows;
}

/**
 * Rows of an SQL query as plain JSON-compatible objects, streamed in chunks. Each stream has a
 * connection of its own: a connection's next query ends its open stream, which then yields no more
 * rows and no error, so two readers (or a reader and the viewer's queries) sharing one lost rows.
 */
export async function* streamRows(sql: string): AsyncGenerator<Record<string, unknown>> {
  const con = await (await database()).connect();
  try {
    const result = await con.stream(sql);
    for await (const rows of result.yieldRowObjectJson()) {
      for (const row of rows) yield row as Record<string, unknown>;
    }
  } finally {
    con.closeSync();
  }
}

/** Rows of a Parquet file, streamed. */
export function readParquet(path: string): AsyncGenerator<Record<string, unknown>> {
  return streamRows(`SELECT * FROM read_parquet(${sqlString(path)})`);
}

/** Column names and DuckDB types of a Parquet file. */
export async function parquetSchema(path: string): Promise<Record<string, string>> {
  const con = await connection();
  const reader = await con.runAndReadAll(`DESCRIBE SELECT * FROM read_parquet(${sqlString(path)})`);
  const out: Record<string, string> = {};
  for (const row of reader.getRowObjectsJson()) out[String(row.column_name)] = String(row.column_type);
  return out;
}

import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import { rm, writeFile } from 'node:fs/promises';
import { withAtomicPath } from './atomic.js';

/** DuckDB column types by column name, in output order. */
export type ParquetColumns = Record<string, string>;

let shared: Promise<DuckDBConnection> | undefined;
function connection(): Promise<DuckDBConnection> {
  shared ??= DuckDBInstance.create(':memory:').then((db) => db.connect());
  return shared;
}

const sqlString = (s: string) => `'${s.replaceAll("'", "''")}'`;

/** Write rows to a zstd-compressed Parquet file, atomically, with the given column types. */
export async function writeParquet(path: string, rows: Iterable<Record<string, unknown>>, columns: ParquetColumns): Promise<number> {
  let count = 0;
  await withAtomicPath(path, async (tmp) => {
    const staging = `${tmp}.jsonl`;
    const lines: string[] = [];
    for (const row of rows) {
      const picked: Record<string, unknown> = {};
      for (const name of Object.keys(columns)) picked[name] = row[name] ?? null;
      lines.push(JSON.stringify(picked));
      count++;
    }
    await writeFile(staging, lines.join('\n') + (lines.length ? '\n' : ''));
    try {
      const cols = Object.entries(columns)
        .map(([name, type]) => `${sqlString(name)}: ${sqlString(type)}`)
        .join(', ');
      const con = await connection();
      await con.run(
        `COPY (SELECT * FROM read_json(${sqlString(staging)}, format='newline_delimited', columns={${cols}}, maximum_object_size=268435456)) ` +
          `TO ${sqlString(tmp)} (FORMAT parquet, COMPRESSION zstd)`,
      );
    } finally {
      await rm(staging, { force: true });
    }
  });
  return count;
}

/** Rows of a Parquet file as plain JSON-compatible objects, streamed in chunks. */
export async function* readParquet(path: string): AsyncGenerator<Record<string, unknown>> {
  const con = await connection();
  const result = await con.stream(`SELECT * FROM read_parquet(${sqlString(path)})`);
  for await (const rows of result.yieldRowObjectJson()) {
    for (const row of rows) yield row as Record<string, unknown>;
  }
}

/** Column names and DuckDB types of a Parquet file. */
export async function parquetSchema(path: string): Promise<Record<string, string>> {
  const con = await connection();
  const reader = await con.runAndReadAll(`DESCRIBE SELECT * FROM read_parquet(${sqlString(path)})`);
  const out: Record<string, string> = {};
  for (const row of reader.getRowObjectsJson()) out[String(row.column_name)] = String(row.column_type);
  return out;
}

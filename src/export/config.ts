import { z } from 'zod';

export const exportSchema = z.strictObject({
  formats: z.array(z.enum(['parquet', 'jsonl.gz'])).min(1).default(['parquet']),
  /** Tasks the export runs as; each writes its own files, with bounded memory. */
  tasks: z.number().int().positive().default(1),
  /** A file is closed after this many rows… */
  shard_rows: z.number().int().positive().default(100_000),
  /** …or this many MB of row data, whichever comes first (measured uncompressed: the zstd Parquet file comes out smaller). */
  shard_mb: z.number().positive().default(250),
});
export type ExportConfig = z.infer<typeof exportSchema>;

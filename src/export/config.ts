import { z } from 'zod';

export const exportSchema = z.strictObject({
  formats: z.array(z.enum(['parquet', 'jsonl.gz'])).min(1).default(['parquet']),
  /** Rows per output shard. */
  shard_rows: z.number().int().positive().default(100_000),
});
export type ExportConfig = z.infer<typeof exportSchema>;

import { z } from 'zod';
import { SEED_KINDS } from '../records/types.js';

/** One seed source in the corpus file. */
export const seedSourceSchema = z.strictObject({
  /** Name recorded as each record's `source`. Defaults to the file name. */
  name: z.string().optional(),
  kind: z.enum(SEED_KINDS),
  /** A file or a folder of files; relative paths are relative to the corpus file. */
  path: z.string(),
  /** File format; guessed from the extension when absent. */
  format: z.enum(['jsonl', 'json', 'parquet', 'csv', 'text']).optional(),
  /** Field holding the document text (for jsonl/json/parquet/csv). */
  text_field: z.string().default('text'),
  /** Keep at most this many records from this source. */
  limit: z.number().int().positive().optional(),
  /** Web extracts are cut to this many characters (Cosmopedia used 1,000). */
  max_chars: z.number().int().positive().default(1000),
});
export type SeedSourceConfig = z.infer<typeof seedSourceSchema>;

export const seedsSchema = z.array(seedSourceSchema).min(1, 'list at least one seed source');

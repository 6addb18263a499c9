import { z } from 'zod';

export const exportSchema = z.strictObject({
  formats: z.array(z.enum(['parquet', 'jsonl.gz'])).min(1).default(['parquet']),
  /** Tasks the export runs as; each writes its own files, with bounded memory. */
  tasks: z.number().int().positive().default(1),
  /** A file is closed after this many rows… */
  shard_rows: z.number().int().positive().default(100_000),
  /** …or this many MB of row data, whichever comes first (measured uncompressed: the zstd Parquet file comes out smaller). */
  shard_mb: z.number().positive().default(250),
  /** What the dataset card says that cosmo cannot know. */
  card: z
    .strictObject({
      /** The dataset's license (an id the Hub knows: apache-2.0, odc-by, cc-by-4.0, …); it depends on the model's terms and the seeds'. */
      license: z.string().default('other'),
      /** ISO 639-1 codes; default: the languages of at least 1% of the rows. */
      language: z.array(z.string()).optional(),
      pretty_name: z.string().optional(),
      /** The card's opening paragraph. */
      description: z.string().optional(),
    })
    .prefault({}),
});
export type ExportConfig = z.infer<typeof exportSchema>;

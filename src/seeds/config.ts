import { z } from 'zod';

/**
 * Seed adapters: how a source's rows become SeedRecords. Each maps to a record kind:
 * web → web; openstax, course, wikihow and outline → curated; instruct → instruct; math → math; kb → kb.
 */
export const SEED_ADAPTERS = ['web', 'openstax', 'course', 'wikihow', 'instruct', 'math', 'kb', 'outline'] as const;
export type SeedAdapter = (typeof SEED_ADAPTERS)[number];

/** One seed source in the corpus file. */
export const seedSourceSchema = z.strictObject({
  /** Name recorded as each record's `source`. Defaults to the file (or folder) name. */
  name: z.string().optional(),
  kind: z.enum(SEED_ADAPTERS),
  /** A file or a folder of files; relative paths are relative to the corpus file. */
  path: z.string(),
  /** File format; guessed from the extension when absent (.jsonl[.gz], .json, .parquet, .csv, .txt, .yaml). */
  format: z.enum(['jsonl', 'json', 'parquet', 'csv', 'text', 'yaml']).optional(),
  /** Field holding the document text (web, math). Absent: text, content, abstract+intro_paragraphs, question+answer. */
  text_field: z.string().optional(),
  /** Field whose value becomes the seed's topic (used by topic conditioning and balancing). */
  topic_field: z.string().optional(),
  /** Keep only rows whose fields match these regular expressions, e.g. {book: "Calculus|Statistics"}. */
  match: z.record(z.string(), z.string()).optional(),
  /** The source's license (e.g. CC-BY-4.0), shown in the dataset card. */
  license: z.string().optional(),
  /** Keep at most this many records from this source. */
  limit: z.number().int().positive().optional(),
  /** Document extracts (web, math) are cut to this many characters (Cosmopedia used 1,000). */
  max_chars: z.number().int().positive().default(1000),
});
export type SeedSourceConfig = z.infer<typeof seedSourceSchema>;

export const seedsSchema = z.array(seedSourceSchema).min(1, 'list at least one seed source');

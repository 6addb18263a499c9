import { z } from 'zod';
import { seedsSchema } from '../seeds/config.js';
import { promptsSchema } from '../prompts/config.js';
import { generateSchema } from '../generate/config.js';
import { filterSchema } from '../quality/config.js';
import { dedupSchema } from '../dedup/config.js';
import { decontamSchema } from '../decontam/config.js';
import { exportSchema } from '../export/config.js';
import { executorSchema } from '../exec/config.js';

/** The corpus file: one YAML describing seeds, prompts, model, cleaning and export. */
export const corpusSchema = z.strictObject({
  name: z.string().regex(/^[\w.-]+$/, 'use letters, digits, dot, dash or underscore').default('corpus'),
  /** Output folder, relative to the corpus file. Defaults to out/<name>. */
  output: z.string().optional(),
  /** Seed of every random choice, so the same file always yields the same corpus. */
  seed: z.number().int().default(42),
  seeds: seedsSchema,
  prompts: promptsSchema.prefault({}),
  generate: generateSchema.prefault({}),
  filter: filterSchema.prefault({}),
  dedup: dedupSchema.prefault({}),
  decontaminate: decontamSchema.prefault({}),
  export: exportSchema.prefault({}),
  executor: executorSchema.prefault({}),
});

export type CorpusInput = z.input<typeof corpusSchema>;
/** A validated corpus config, with paths resolved against the corpus file's folder. */
export type CorpusConfig = z.output<typeof corpusSchema> & {
  /** Folder relative paths in the file are resolved against. */
  base_dir: string;
  /** Absolute output folder. */
  output_dir: string;
};

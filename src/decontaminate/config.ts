import { z } from 'zod';

/** A user's own benchmark file: JSONL with the memorisable text in `field`. */
const extraBenchmark = z.union([
  z.string(),
  z.strictObject({
    path: z.string(),
    /** Name in the report; defaults to the file name without extension. */
    name: z.string().optional(),
    field: z.string().default('text'),
  }),
]);

export const decontamSchema = z.strictObject({
  enabled: z.boolean().default(true),
  tasks: z.number().int().positive().default(1),
  /**
   * Worker threads that check samples while the task's main thread reads and writes them, sharing
   * one index in memory; 0 checks on the main thread. Unset: none under 24 MiB of input (starting
   * them costs more than they save), else the cores the task may use (its share when several
   * tasks run at once), at most 4, and 0 on a single core. Any value gives the same result.
   */
  threads: z.number().int().min(0).optional(),
  /** Folder of benchmark files (ARC, MMLU, …); relative to the corpus file. Nothing is checked without it or `extra`. */
  benchmarks_dir: z.string().optional(),
  /** Only these benchmarks of the folder (e.g. [mmlu, gsm8k]); all recognised files by default. */
  benchmarks: z.array(z.string()).optional(),
  /** Extra benchmark files (JSONL, relative to the corpus file). */
  extra: z.array(extraBenchmark).default([]),
  /**
   * Prebuilt item texts (JSONL with `text` and `task_name`, as Cosmopedia's evaluation dataset for
   * decontamination), indexed as they are, after the folder and the extra files.
   */
  items: z.array(z.string()).default([]),
  /**
   * Keep the built index on disk (`$COSMO_CACHE/decontaminate`, else `~/.cache/cosmo/decontaminate`)
   * and read it back while the benchmark files, these settings and cosmo's index code stay the same.
   */
  cache: z.boolean().default(true),
  ngram: z.number().int().positive().default(10),
  /** drop/cut modes: items with short questions are indexed by n-grams as long as the question, down to this. */
  min_ngram: z.number().int().positive().default(6),
  /** A sample is contaminated when its overlap score with an item is above this. */
  threshold: z.number().min(0).max(1).default(0.5),
  /**
   * drop: remove contaminated samples, checking every candidate item.
   * cut: cut the contaminated span out and keep the rest (dropped if too little remains).
   * cosmopedia: Cosmopedia's script exactly (first n-gram hit only), to compare with published numbers.
   */
  mode: z.enum(['drop', 'cut', 'cosmopedia']).default('drop'),
  /** Matching blocks must be longer than this many characters to count (Cosmopedia: 5). */
  min_block: z.number().int().nonnegative().default(5),
  /**
   * drop/cut modes also score the question alone when it has at least this many words, so a
   * verbatim question with paraphrased answers is caught (above part_threshold). 0 turns this off.
   */
  question_min_words: z.number().int().nonnegative().default(20),
  /**
   * drop/cut modes: what a part of an item must score to condemn a sample: its question alone (when
   * long enough), its question with the gold answer and without the wrong options, its lines and
   * sentences matched one by one (a copy in another order). Above `threshold`, because half of a
   * short part is a phrase prose shares. 1 turns the parts off.
   */
  part_threshold: z.number().min(0).max(1).default(0.8),
  /** drop/cut modes: n-grams shared by more benchmark items than this are boilerplate and retrieve nothing. */
  max_items_per_ngram: z.number().int().positive().default(50),
  /** cut mode: a sample with fewer words than this left after cutting is dropped instead. */
  cut_min_words: z.number().int().nonnegative().default(50),
});
export type DecontamConfig = z.infer<typeof decontamSchema>;

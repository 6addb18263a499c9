import { z } from 'zod';
import { poolShape } from '../engines/config.js';

const fractions = z.record(z.string().regex(/^\d+$/, 'keys are n-gram sizes'), z.number().min(0).max(1));

/**
 * Gopher's repetition checks (Rae et al. 2021) with the thresholds datatrove's
 * GopherRepetitionFilter and FineWeb use. A check is off at 1.
 */
export const repetitionSchema = z.strictObject({
  enabled: z.boolean().default(true),
  /** Share of lines that repeat an earlier line. */
  dup_line_frac: z.number().min(0).max(1).default(0.3),
  /** Share of paragraphs (blank-line separated) that repeat an earlier one. */
  dup_para_frac: z.number().min(0).max(1).default(0.3),
  /** Share of characters in repeated lines. */
  dup_line_char_frac: z.number().min(0).max(1).default(0.2),
  /** Share of characters in repeated paragraphs. */
  dup_para_char_frac: z.number().min(0).max(1).default(0.2),
  /** Per n: characters covered by the single most frequent word n-gram, over the text's characters. */
  top_ngrams: fractions.default({ 2: 0.2, 3: 0.18, 4: 0.16 }),
  /** Per n: characters in word n-grams that repeat an earlier n-gram, over the text's characters. */
  dup_ngrams: fractions.default({ 5: 0.15, 6: 0.14, 7: 0.13, 8: 0.12, 9: 0.11, 10: 0.1 }),
});

export const boilerplateSchema = z.strictObject({
  /** strip: cut the opener and keep the sample; drop: reject it; off: no check. */
  mode: z.enum(['strip', 'drop', 'off']).default('strip'),
  /** A YAML file of patterns (see templates/filter/boilerplate.yaml), relative to the corpus file. Defaults to the built-in list. */
  patterns_file: z.string().optional(),
  /** More patterns on top of the file's. */
  extra: z
    .array(z.strictObject({ id: z.string(), pattern: z.string(), action: z.enum(['strip', 'drop']).optional() }))
    .default([]),
});

/** The language check: is each sample written in the language its prompt asked for? */
export const languageSchema = z.strictObject({
  enabled: z.boolean().default(true),
  /** drop: reject a sample written in another language; flag: keep it, marked `language_mismatch`. */
  action: z.enum(['drop', 'flag']).default('drop'),
  /**
   * fastText's probability a sample needs before it counts as written in another language. Below it the
   * sample is kept and counted as `detected.uncertain` (short or mixed texts, code, formulas).
   */
  min_confidence: z.number().min(0).max(1).default(0.65),
});

/**
 * The optional LLM judge. Rubrics are data: built-in ones live in templates/filter/judge
 * (educational, adherence, consistency); `file` points at your own YAML of the same shape.
 */
export const judgeSchema = z.strictObject({
  enabled: z.boolean().default(false),
  rubrics: z
    .array(
      z.strictObject({
        id: z.string(),
        /** A rubric YAML file, relative to the corpus file; defaults to the built-in rubric `id`. */
        file: z.string().optional(),
        /** Keep samples scoring at least this; defaults to the rubric's own min_score. */
        min_score: z.number().min(0).max(5).optional(),
        /** Share of the samples this rubric judges (a seeded draw per sample): a costly rubric can measure a sample of the corpus. */
        share: z.number().min(0).max(1).default(1),
      }),
    )
    .min(1)
    .default([{ id: 'educational', share: 1 }]),
  /** The judge's engine pool: the same keys as generate's (engines, endpoints_file, retry, timeout_s, breaker, cache). */
  ...poolShape,
  /** Engines to ask; by default generate's engines and endpoints file. */
  engines: poolShape.engines.optional(),
  /** Judgements in flight at once per task. */
  concurrency: z.number().int().positive().default(16),
  temperature: z.number().min(0).default(0),
  max_tokens: z.number().int().positive().default(256),
  /** Longer texts are cut to this many characters in the judge's prompt. */
  max_text_chars: z.number().int().positive().default(8000),
  /** What to do with a sample the judge could not score (engine down, unparsable answer). */
  on_error: z.enum(['keep', 'drop']).default('keep'),
});

/** The faithfulness check of grounded samples (the knowledge stage): how much of each text its passages support. */
export const faithfulnessSchema = z.strictObject({
  enabled: z.boolean().default(true),
  /**
   * Drop a sample that carried passages in its prompt when under this share of its content-word
   * pairs occur in them (0: measure only). Samples that did not carry them are measured, never dropped.
   */
  min_support: z.number().min(0).max(1).default(0),
  /** Drop such a sample when it states more numbers or dates than this that its passages do not hold (unset: measure only). */
  max_unsupported_numbers: z.number().int().nonnegative().optional(),
});

export const filterSchema = z.strictObject({
  enabled: z.boolean().default(true),
  tasks: z.number().int().positive().default(1),
  /** Drop the samples a person flagged `bad` in `cosmo view` (the output folder's review/flags.jsonl). */
  review: z.boolean().default(true),
  /** Drop samples shorter than this many tokens (Cosmopedia kept >= 150); 0 turns the check off. */
  min_tokens: z.number().int().nonnegative().default(150),
  /** Drop generations cut off by max_tokens. */
  drop_truncated: z.boolean().default(true),
  repetition: repetitionSchema.prefault({}),
  boilerplate: boilerplateSchema.prefault({}),
  language: languageSchema.prefault({}),
  judge: judgeSchema.prefault({}),
  faithfulness: faithfulnessSchema.prefault({}),
});
export type FilterConfig = z.infer<typeof filterSchema>;
export type RepetitionConfig = z.infer<typeof repetitionSchema>;
export type BoilerplateConfig = z.infer<typeof boilerplateSchema>;
export type LanguageConfig = z.infer<typeof languageSchema>;
export type JudgeConfig = z.infer<typeof judgeSchema>;

import { z } from 'zod';
import { SEED_KINDS } from '../records/types.js';

const probability = z.number().min(0).max(1);
/** A list of names (equal weights) or a map of name → weight. */
const weighted = z.union([z.string(), z.array(z.string()).min(1), z.record(z.string(), z.number().positive())]);
export type Weighted = z.infer<typeof weighted>;

/** One line of the mix: which seeds, written in which formats, for which audiences, with what weight. */
export const mixEntrySchema = z.strictObject({
  /** Seeds of this record kind (web, curated, instruct, math, kb)… */
  kind: z.enum(SEED_KINDS).optional(),
  /** …and/or of these sources (the seed source names). */
  source: z.union([z.string(), z.array(z.string())]).optional(),
  /** Only seeds whose meta fields match these regular expressions, e.g. {shape: unit}. */
  match: z.record(z.string(), z.string()).optional(),
  /** Format(s) to write; weights split the entry's weight among them. */
  format: weighted,
  /** Audience(s); absent: the prompts-wide `audiences` the format's templates support. */
  audience: weighted.optional(),
  /** Only these template ids (default: every template that fits). */
  templates: z.array(z.string()).optional(),
  /** Share of the prompts this entry gets, relative to the other entries. */
  weight: z.number().positive().default(1),
});
export type MixEntry = z.infer<typeof mixEntrySchema>;

/** A balancing rule: caps stop an over-represented group crowding out the rest; boosts raise the under-represented. */
export const balanceRuleSchema = z.strictObject({
  /** Group seeds by: topic, source, cluster, kind, or any meta field (e.g. "subject", "meta.book"). */
  by: z.string(),
  /** No group gets more than this many prompts… */
  max: z.number().int().positive().optional(),
  /** …or more than this share of all prompts. */
  max_share: probability.optional(),
  /** natural: groups drawn in proportion to their seeds; even: every group equally often. */
  mode: z.enum(['natural', 'even']).default('natural'),
  /** Group → factor on how often it is drawn (2 = twice as often). */
  boost: z.record(z.string(), z.number().positive()).optional(),
});
export type BalanceRule = z.infer<typeof balanceRuleSchema>;

export const promptsSchema = z.strictObject({
  /** How many shards (and tasks) the prompts are written as; generate's tasks read them. */
  tasks: z.number().int().positive().default(1),
  /** How many prompts to build. Default: one per seed. */
  count: z.number().int().positive().optional(),
  /** The mix of seeds × formats × audiences. Default: each source in its natural format, weighted by its size. */
  mix: z.array(mixEntrySchema).min(1).optional(),
  /** Audiences for mix entries that name none (Cosmopedia's four by default). */
  audiences: weighted.default(['young_children', 'high_school', 'college', 'researchers']),
  /** Target language(s) of the generated text, e.g. "en" or {en: 3, fr: 1}. */
  languages: weighted.default('en'),
  /** Probability that a prompt is conditioned on a topic (", within the context of <topic>"). */
  topic_probability: probability.default(0.5),
  /**
   * Topics for seeds that have none of their own (a topic field or a cluster label wins): each such
   * seed gets the entry nearest to its text, when similar enough (topic_threshold); otherwise none.
   * A list, or a file with one per line.
   */
  topics: z.union([z.array(z.string()).min(1), z.string()]).optional(),
  /** How `topics` are matched to texts: glove (pretrained word vectors, semantic) or tfidf (LSA over the seeds; weak on small corpora). */
  topic_embedder: z.enum(['glove', 'tfidf']).default('glove'),
  /** Cosine similarity a seed's text needs with an entry of `topics` to be given it. */
  topic_threshold: z.number().min(-1).max(1).default(0.35),
  /** Probability that a template with optional reference text includes it (when the seed has one). */
  reference_probability: probability.default(0.5),
  /** Caps and boosts per topic, cluster, source or meta field. */
  balance: z.array(balanceRuleSchema).default([]),
  /** Folder(s) of your own template YAML files; a template with a built-in id overrides it. */
  templates: z.union([z.string(), z.array(z.string())]).optional(),
});
export type PromptsConfig = z.infer<typeof promptsSchema>;

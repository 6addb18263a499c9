import { z } from 'zod';

/**
 * Exact + MinHash LSH dedup. The MinHash defaults are datatrove's: word 5-gram shingles,
 * 14 bands x 8 rows (112 hashes), seed 1. Two documents land in one bucket of a band with
 * probability 1 - (1 - J^rows)^bands for Jaccard J: 0.92 at J = 0.8, 0.99 at 0.85, 0.05 at 0.5.
 */
export const dedupSchema = z.strictObject({
  enabled: z.boolean().default(true),
  /** With more than one task dedup runs as four sharded steps (signatures, buckets, clusters, filter); with one, in one pass. */
  tasks: z.number().int().positive().default(1),
  /**
   * Worker threads that compute MinHash signatures while the task's main thread reads and parses
   * its input; 0 computes them on the main thread. Unset: the cores the task may use (its share of
   * the machine when several tasks run at once), at most 4, and 0 on a single core. Any value gives
   * the same result.
   */
  threads: z.number().int().min(0).optional(),
  /** Remove documents whose normalised text is identical before comparing MinHash signatures. */
  exact: z.boolean().default(true),
  /** Near-duplicate removal with MinHash LSH; off leaves exact dedup only. */
  minhash: z.boolean().default(true),
  /** Word n-gram size of the shingles. */
  ngram: z.number().int().positive().default(5),
  bands: z.number().int().positive().default(14),
  rows: z.number().int().positive().default(8),
  seed: z.number().int().default(1),
  /**
   * A bucket match counts only when the two signatures agree on at least this share of their
   * positions (estimated Jaccard). 0 trusts every bucket match, as datatrove does; at 14x8 that
   * merges 5% of pairs at Jaccard 0.5. At 0.6 recall at Jaccard 0.7-0.8 stays datatrove's (0.81
   * against 0.75 at 0.7) and no document was merged into another's family on 100,000 (see
   * docs/config.md for the whole curve).
   */
  threshold: z.number().min(0).max(1).default(0.6),
});
export type DedupConfig = z.infer<typeof dedupSchema>;

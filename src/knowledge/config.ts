import { z } from 'zod';
import { embedderSchema } from '../embed/config.js';

const probability = z.number().min(0).max(1);
const fieldList = z.union([z.string(), z.array(z.string()).min(1)]);

/** How each prompt gets its passages, and whether it carries them. */
export const retrieveSchema = z.strictObject({
  /** Passages retrieved per prompt. */
  k: z.number().int().positive().default(3),
  /**
   * Passages matching less than this share of the query's weight (its terms' idf) are not used, so a
   * prompt with nothing relevant in the source gets no passages rather than unrelated ones.
   */
  min_match: z.number().min(0).default(0.3),
  /** At most this many tokens of passages go into a prompt (estimated as words × 4/3); the best passages first. */
  max_tokens: z.number().int().positive().default(600),
  /** Probability that a prompt carries its passages as reference material; the rest keep them only as provenance. */
  probability: probability.default(0.5),
  /** The query is the prompt's topic and the first `query_words` words of its seed… */
  query_words: z.number().int().positive().default(48),
  /** …of which the `max_terms` rarest count: common words cost the most postings and decide the least. */
  max_terms: z.number().int().positive().default(8),
  /**
   * At most this many postings of long lists a query reads, those that can add most to a score first
   * (rare terms' lists are read whole): bounds a query's work on a large index. See docs/grounding.md.
   */
  postings: z.number().int().positive().default(30_000),
  /** Reorder BM25's candidates by meaning with an embedder (the cluster stage's: glove, tfidf, gguf, openai). */
  semantic: z
    .strictObject({
      embedder: embedderSchema,
      /** BM25 candidates reordered per prompt. */
      candidates: z.number().int().positive().default(20),
      /** Share of the final score that is the cosine similarity (the rest: BM25, scaled to the best hit). */
      weight: probability.default(0.5),
    })
    .optional(),
  /** The instruction put before the passages in a prompt. */
  instruction: z
    .string()
    .default(
      'Use the reference material below. Stay faithful to it: state no fact, number, date or name that contradicts it, and do not invent details it does not support.',
    ),
});

/**
 * knowledge: a source of passages to ground generation in. Off until `files` are given.
 */
export const knowledgeSchema = z.strictObject({
  /** Files or folders of documents: JSONL, JSONL.gz, Parquet, or plain text (one document a line); relative to the corpus file. */
  files: z.union([z.string(), z.array(z.string()).min(1)]).optional(),
  /** The document's text: a field, or several joined by blank lines (a list field's items too). */
  text_field: fieldList.default('text'),
  /** The document's title, indexed with each of its passages and shown above them: a field, or several joined by ": ". */
  title_field: fieldList.default('title'),
  /** A field holding the document's id; by default its file and line. */
  id_field: z.string().optional(),
  /** Passage size in words: documents are cut into windows of this many words. */
  passage_words: z.number().int().min(16).default(150),
  /** Words each passage shares with the one before it, so a fact on a boundary is whole in one of them. */
  overlap_words: z.number().int().min(0).default(30),
  /** Tasks that index at once; each takes every `tasks`-th file (give at least as many files). */
  tasks: z.number().int().positive().default(1),
  /** A task writes a segment every this many passages: the bound on a build's memory (about 1 KB a passage). */
  segment_passages: z.number().int().positive().default(250_000),
  retrieve: retrieveSchema.prefault({}),
});
export type KnowledgeConfig = z.infer<typeof knowledgeSchema>;
export type RetrieveConfig = z.infer<typeof retrieveSchema>;

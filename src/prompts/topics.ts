import { GloveSifEmbedder } from '../embed/glove.js';
import { TfidfSvdEmbedder } from '../embed/tfidf.js';
import { dot, type Embedder } from '../embed/types.js';
import type { SeedRecord } from '../records/types.js';

export interface TopicMatchReport {
  /** Seeds that had a topic of their own (a topic field, their cluster's label). */
  own: number;
  /** Seeds given the nearest topic of the list. */
  matched: number;
  /** Seeds no topic of the list was near enough: they get no topic clause. */
  unmatched: number;
  embedder: string;
  threshold: number;
  /** Seeds per topic of the list. */
  by_topic: Record<string, number>;
}

export interface TopicMatchOptions {
  /** glove: pretrained word vectors (semantic); tfidf: LSA fitted on the seeds and topics (weak on small corpora). */
  embedder: 'glove' | 'tfidf';
  threshold: number;
}

/**
 * A topic must belong to its seed. A seed keeps its own topic (from its topic field or its
 * cluster's label); one without gets the entry of the user's list nearest to its text by cosine
 * similarity of their embeddings, when that reaches `threshold`; otherwise it gets none, and its
 * prompts carry no topic clause.
 */
export async function matchTopics(seeds: SeedRecord[], topics: string[], o: TopicMatchOptions): Promise<{ seeds: SeedRecord[]; report: TopicMatchReport }> {
  const report: TopicMatchReport = { own: 0, matched: 0, unmatched: 0, embedder: o.embedder, threshold: o.threshold, by_topic: {} };
  const hasOwn = (s: SeedRecord) => typeof s.meta.topic === 'string' && s.meta.topic !== '';
  const todo = seeds.filter((s) => !hasOwn(s));
  report.own = seeds.length - todo.length;
  if (todo.length === 0 || topics.length === 0) {
    report.unmatched = todo.length;
    return { seeds, report };
  }
  const texts = todo.map((s) => s.text);
  const embedder: Embedder = o.embedder === 'glove' ? await GloveSifEmbedder.fit(texts) : TfidfSvdEmbedder.fit([...texts, ...topics], { minDf: 1 });
  report.embedder = embedder.name;
  const dim = embedder.dim;
  const topicVectors = await embedder.embed(topics);
  const seedVectors = await embedder.embed(texts);
  const given = new Map<string, { topic: string; similarity: number }>();
  todo.forEach((s, i) => {
    const v = seedVectors.subarray(i * dim, (i + 1) * dim);
    let best = -1;
    let bestSim = -Infinity;
    topics.forEach((_, t) => {
      const sim = dot(v, topicVectors.subarray(t * dim, (t + 1) * dim));
      if (sim > bestSim) [best, bestSim] = [t, sim];
    });
    if (dim > 0 && bestSim >= o.threshold) given.set(s.id, { topic: topics[best]!, similarity: Math.round(bestSim * 1000) / 1000 });
  });
  const out = seeds.map((s) => {
    const g = given.get(s.id);
    if (!g) return s;
    report.by_topic[g.topic] = (report.by_topic[g.topic] ?? 0) + 1;
    return { ...s, meta: { ...s.meta, topic: g.topic, topic_source: 'list', topic_similarity: g.similarity } };
  });
  report.matched = given.size;
  report.unmatched = todo.length - given.size;
  return { seeds: out, report };
}

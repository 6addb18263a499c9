import type { Embedder } from '../embed/types.js';
import { formatPassages } from '../records/grounding.js';
import { stableDraw, stableId } from '../records/id.js';
import type { GroundingPassage, PromptRecord } from '../records/types.js';
import type { RetrieveConfig } from './config.js';
import { rerank, type KnowledgeIndex } from './search.js';

/** A prompt's query: its topic and the first `words` words of its seed (a title, a unit, an extract). */
export function promptQuery(p: Pick<PromptRecord, 'topic' | 'seed_data'>, words: number): string {
  const seed = (p.seed_data ?? '').split(/\s+/).filter(Boolean).slice(0, words).join(' ');
  return [p.topic, seed].filter(Boolean).join(' ');
}

/** Estimated tokens of a text (about 4/3 a word for English with a modern BPE vocabulary). */
export const estimateTokens = (text: string): number => Math.ceil((text.split(/\s+/).filter(Boolean).length * 4) / 3);

/** The passages that fit the token budget, best first: always at least the best one, cut to the budget if need be. */
export function withinBudget(passages: GroundingPassage[], maxTokens: number): GroundingPassage[] {
  const out: GroundingPassage[] = [];
  let used = 0;
  for (const p of passages) {
    const t = estimateTokens(p.text);
    if (used + t > maxTokens) {
      if (out.length === 0) out.push({ ...p, text: p.text.split(/\s+/).slice(0, Math.floor((maxTokens * 3) / 4)).join(' ') });
      break;
    }
    out.push(p);
    used += t;
  }
  return out;
}

/** The reference block appended to a prompt: after its own text, so prompts sharing a template prefix still share it. */
export function referenceBlock(passages: GroundingPassage[], instruction: string): string {
  return `\n\n${instruction}\n\n${formatPassages(passages)}`;
}

/**
 * Grounds prompts in a knowledge index: each prompt's query retrieves its passages (BM25, then by
 * meaning when an embedder is given); a seeded draw decides whether the prompt carries them. A
 * prompt that carries them gets a new id (its text changed); one that does not keeps its id, so
 * turning grounding on never regenerates the prompts it leaves alone.
 */
export class Grounder {
  constructor(
    private readonly index: KnowledgeIndex,
    private readonly cfg: RetrieveConfig,
    private readonly seed: number,
    private readonly embedder?: Embedder,
  ) {}

  async ground(p: PromptRecord, signal?: AbortSignal): Promise<PromptRecord> {
    const { cfg } = this;
    const query = promptQuery(p, cfg.query_words);
    const semantic = this.embedder && cfg.semantic;
    let hits = this.index.search(query, { k: semantic ? semantic.candidates : cfg.k, minMatch: cfg.min_match, maxTerms: cfg.max_terms, postings: cfg.postings });
    if (semantic) hits = await rerank(hits, query, this.embedder!, semantic.weight, cfg.k, signal);
    const found = hits.map((h) => ({ id: h.passage.id, title: h.passage.title, text: h.passage.text, score: Math.round(h.score * 1000) / 1000 }));
    const passages = withinBudget(found, cfg.max_tokens);
    const inPrompt = passages.length > 0 && stableDraw('ground', this.seed, p.id) < cfg.probability;
    const grounding = { query, passages, in_prompt: inPrompt };
    if (!inPrompt) return { ...p, grounding };
    return {
      ...p,
      id: stableId('grounded', p.id, passages.map((x) => x.id), cfg.instruction),
      prompt: p.prompt + referenceBlock(passages, cfg.instruction),
      grounding,
    };
  }
}

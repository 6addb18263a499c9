import type { Sample } from '../records/types.js';
import { Boilerplate } from './boilerplate.js';
import type { FilterConfig } from './config.js';
import { faithfulness, type Faithfulness } from './faithfulness.js';
import { repetitionFailure } from './repetition.js';

/** Why a sample was dropped; stats count them as `dropped.<reason>`. */
export type RejectReason = 'failed' | 'empty' | 'truncated' | 'boilerplate' | 'too_short' | 'repetition' | 'language' | 'unfaithful' | 'review' | `judge.${string}`;

/** A rejected sample as written to the rejects shard. */
export type RejectedSample = Sample & { reject_reason: RejectReason; reject_detail?: string };

/** A kept sample: one whose opener was stripped says so, and the language found and the judge's scores ride along. */
export type FilteredSample = Sample & {
  filter_edits?: string[];
  judge_scores?: Record<string, number>;
  language_detected?: string;
  language_score?: number;
  /** Set (with action: flag) when the sample is written in another language than its prompt asked for. */
  language_mismatch?: boolean;
  /** How much of a grounded sample its passages support (see faithfulness.ts). */
  faithfulness?: Faithfulness;
};

/** A rejection's `kind` (the boilerplate pattern, the language found) is counted as `<reason>.<kind>`. */
export type Verdict = { keep: true; sample: FilteredSample } | { keep: false; reason: RejectReason; detail?: string; kind?: string };

/**
 * The heuristic checks, in order: failed request, empty text, truncated generation, boilerplate
 * opener (strip or drop), minimum token length, repetition, faithfulness to the passages a grounded
 * prompt carried. The first failure decides the reason.
 */
export class QualityFilter {
  private readonly boilerplate: Boilerplate;

  constructor(
    private readonly cfg: FilterConfig,
    resolvePath: (p: string) => string = (p) => p,
  ) {
    this.boilerplate = Boilerplate.fromConfig(cfg.boilerplate, resolvePath);
  }

  check(s: Sample): Verdict {
    if (s.error || s.finish_reason === 'error') return { keep: false, reason: 'failed', detail: s.error };
    if (typeof s.text !== 'string' || s.text.trim() === '') return { keep: false, reason: 'empty' };
    if (this.cfg.drop_truncated && s.finish_reason === 'length')
      return { keep: false, reason: 'truncated', detail: `finish_reason=length at ${s.token_length} tokens` };
    let sample: FilteredSample = s;
    const opener = this.boilerplate.apply(s.text);
    if (opener.action === 'drop') return { keep: false, reason: 'boilerplate', kind: opener.id, detail: `${opener.id}: "${opener.matched}"` };
    if (opener.stripped.length > 0) {
      if (opener.text.trim() === '') return { keep: false, reason: 'empty', detail: `nothing left after stripping ${opener.stripped.join(', ')}` };
      // Token count of what is left, estimated by its share of characters: no tokenizer is at hand here.
      const tokens = Math.round((s.token_length * opener.text.length) / s.text.length);
      sample = { ...s, text: opener.text, token_length: tokens, filter_edits: opener.stripped.map((id) => `boilerplate:${id}`) };
    }
    if (sample.token_length < this.cfg.min_tokens)
      return { keep: false, reason: 'too_short', detail: `${sample.token_length} < ${this.cfg.min_tokens} tokens` };
    const rep = repetitionFailure(sample.text, this.cfg.repetition);
    if (rep) return { keep: false, reason: 'repetition', detail: rep };
    const f = this.cfg.faithfulness;
    const measured = f.enabled && s.grounding ? faithfulness(sample.text, s.grounding.passages) : undefined;
    if (!measured) return { keep: true, sample };
    if (s.grounding!.in_prompt) {
      if (measured.support < f.min_support) return { keep: false, reason: 'unfaithful', kind: 'support', detail: `support ${measured.support} < ${f.min_support}` };
      if (f.max_unsupported_numbers !== undefined && measured.unsupported_numbers.length > f.max_unsupported_numbers)
        return { keep: false, reason: 'unfaithful', kind: 'numbers', detail: `numbers not in its passages: ${measured.unsupported_numbers.join(', ')}` };
    }
    return { keep: true, sample: { ...sample, faithfulness: measured } };
  }
}

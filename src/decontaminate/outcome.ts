import type { Stats } from '../exec/stats.js';
import type { Decontaminator, Match } from './decontaminator.js';

/** What a removed or cut sample carries about the benchmark items found in it. */
export interface DecontamRecord {
  /** Why the sample was removed; absent on kept (cut) samples. */
  reason?: 'contaminated' | 'too_short_after_cut' | 'still_contaminated';
  /** The best match, for quick reading. */
  benchmark: string;
  item_id: string;
  score: number;
  span: [number, number];
  matched: string;
  /** Every item found (cut mode: every span cut, in cutting order). */
  matches: Match[];
}

/** What becomes of one sample. */
export type Outcome =
  | { kind: 'kept' }
  | { kind: 'cut'; text: string; decontam: DecontamRecord }
  | { kind: 'removed'; decontam: DecontamRecord };

const MAX_MATCHED = 2000;
const clip = (m: Match): Match => (m.matched.length > MAX_MATCHED ? { ...m, matched: m.matched.slice(0, MAX_MATCHED) + '…' } : m);

function record(matches: Match[], reason?: DecontamRecord['reason']): DecontamRecord {
  const best = matches.reduce((a, b) => (b.score > a.score ? b : a));
  return {
    ...(reason ? { reason } : {}),
    benchmark: best.benchmark,
    item_id: best.item_id,
    score: best.score,
    span: best.span,
    matched: clip(best).matched,
    matches: matches.map(clip),
  };
}

/**
 * Where a sample that is not kept as it is goes, and as what: removed, to the `removed` side with
 * what matched; cut, to the output with the cut text and what was cut. Its `token_length` (the
 * model's tokenizer counted it) is scaled by the share of the text kept.
 */
export function placed(s: object, text: string, outcome: Exclude<Outcome, { kind: 'kept' }>): { to: 'output' | 'removed'; record: object } {
  if (outcome.kind === 'removed') return { to: 'removed', record: { ...s, decontam: outcome.decontam } };
  const { token_length: counted } = s as { token_length?: unknown };
  const tokens = typeof counted === 'number' ? Math.round((counted * outcome.text.length) / Math.max(1, text.length)) : undefined;
  return { to: 'output', record: { ...s, text: outcome.text, token_length: tokens, decontam: outcome.decontam } };
}

/** One sample judged: its outcome, the items behind it, and what the check cost. */
export interface Judged {
  outcome: Outcome;
  matches: Match[];
  candidates: number;
  dropReason?: string;
}

/** Check one sample text (on whichever thread holds `dc`). */
export function judge(dc: Decontaminator, text: string): Judged {
  if (dc.options.mode === 'cut') {
    const r = dc.cut(text);
    const base = { matches: r.cuts, candidates: r.verdict.candidates };
    if (r.cuts.length === 0) return { ...base, outcome: { kind: 'kept' } };
    if (r.text !== undefined) return { ...base, outcome: { kind: 'cut', text: r.text, decontam: record(r.cuts) } };
    return { ...base, outcome: { kind: 'removed', decontam: record(r.cuts, r.dropReason) }, dropReason: r.dropReason };
  }
  const v = dc.check(text);
  return {
    matches: v.matches,
    candidates: v.candidates,
    outcome: v.contaminated ? { kind: 'removed', decontam: record(v.matches, 'contaminated') } : { kind: 'kept' },
  };
}

/**
 * Checks sample texts and counts the results: `checked`, `kept`, `removed`, `cut`,
 * `removed.<benchmark>` / `cut.<benchmark>` (a sample counts once per benchmark it matched), and
 * the matched item ids per benchmark, for the unique-items column of the report.
 */
export class Tally {
  readonly matched = new Map<string, Set<string>>();

  constructor(
    readonly dc: Decontaminator,
    readonly stats: Stats,
  ) {}

  check(text: string): Outcome {
    return this.count(judge(this.dc, text));
  }

  /** Count a sample judged here or on a worker thread; returns its outcome. */
  count({ outcome, matches, candidates, dropReason }: Judged): Outcome {
    this.stats.inc('checked');
    this.stats.inc('candidates', candidates);
    if (dropReason) this.stats.inc(`removed_reason.${dropReason}`);
    this.stats.inc(outcome.kind === 'cut' ? 'kept' : outcome.kind);
    if (outcome.kind === 'cut') this.stats.inc('cut');
    if (outcome.kind !== 'kept') {
      for (const bench of new Set(matches.map((m) => m.benchmark))) this.stats.inc(`${outcome.kind}.${bench}`);
      for (const m of matches) {
        const set = this.matched.get(m.benchmark) ?? new Set<string>();
        set.add(m.item_id);
        this.matched.set(m.benchmark, set);
      }
    }
    return outcome;
  }

  /** Matched item ids per benchmark, sorted. */
  matchedIds(): Record<string, string[]> {
    return Object.fromEntries([...this.matched].map(([b, ids]) => [b, [...ids].sort()]));
  }
}

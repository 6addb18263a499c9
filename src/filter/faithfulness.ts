import type { GroundingPassage } from '../records/types.js';
import { terms } from '../util/terms.js';

/**
 * How much of a sample its passages support, measured lexically (fast enough for every sample):
 *
 * - `support`: the share of the sample's content-word pairs (adjacent once function words are
 *   removed: "born in Kentucky" → "born kentucky") that occur in the passages. A text that restates
 *   its passages scores high; one on the same subject that says other things shares words but few
 *   pairs, so it scores low.
 * - numbers and dates: every number of the sample ("1809", "3.5", "42%", "1,000") that the passages
 *   do not contain is listed. Invented figures are the hallucination a reader trusts most.
 * - `unsupported_sentences`: sentences with at least 4 content words of which under a quarter of the
 *   pairs are supported, so a person sees what drifted.
 */
export interface Faithfulness {
  support: number;
  pairs: number;
  numbers: number;
  unsupported_numbers: string[];
  sentences: number;
  unsupported_sentences: number;
}

const NUMBER = /\d+(?:[.,]\d+)*/g;

/** A number as written, without thousands separators or a trailing period: "1,000" and "1000" are one number. */
const normNumber = (s: string) => s.replace(/,(?=\d{3}\b)/g, '').replace(/\.$/, '');

function pairsOf(text: string): string[] {
  const t = terms(text);
  const out: string[] = [];
  for (let i = 1; i < t.length; i++) out.push(`${t[i - 1]} ${t[i]}`);
  return out;
}

/** The measure of a text against passages; with no passages there is nothing to measure against. */
export function faithfulness(text: string, passages: Pick<GroundingPassage, 'text' | 'title'>[]): Faithfulness | undefined {
  if (passages.length === 0) return undefined;
  const source = passages.map((p) => `${p.title}\n${p.text}`).join('\n');
  const known = new Set(pairsOf(source));
  const knownNumbers = new Set((source.match(NUMBER) ?? []).map(normNumber));
  let pairs = 0;
  let supported = 0;
  let sentences = 0;
  let unsupportedSentences = 0;
  for (const sentence of text.split(/(?<=[.!?])\s+|\n+/)) {
    const ps = pairsOf(sentence);
    if (ps.length === 0) continue;
    const hit = ps.reduce((n, p) => n + (known.has(p) ? 1 : 0), 0);
    pairs += ps.length;
    supported += hit;
    if (ps.length >= 3) {
      sentences++;
      if (hit / ps.length < 0.25) unsupportedSentences++;
    }
  }
  const numbers = (text.match(NUMBER) ?? []).map(normNumber);
  const unsupported = [...new Set(numbers.filter((n) => !knownNumbers.has(n)))];
  return {
    support: pairs ? Math.round((supported / pairs) * 1000) / 1000 : 0,
    pairs,
    numbers: numbers.length,
    unsupported_numbers: unsupported.slice(0, 20),
    sentences,
    unsupported_sentences: unsupportedSentences,
  };
}

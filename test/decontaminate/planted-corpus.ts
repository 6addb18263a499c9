/**
 * Generated-style texts for decontamination tests and the benchmark: real seed prose (OpenStax
 * intros, C4, Alpaca answers, Wikipedia) around real benchmark items that are planted verbatim,
 * reformatted, or with their answers rephrased; and clean texts, including texts on the same topics
 * as the benchmark items (their vocabulary, their correct answer alone, OpenStax on the subject).
 */
import { readFileSync } from 'node:fs';
import type { BenchmarkItem } from '../../src/decontaminate/benchmarks.js';
import { sharedPath } from '../helpers/shared-data.js';
import { rng } from '../helpers/rng.js';

export { rng };

const jsonl = (file: string) =>
  readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Record<string, unknown>);

/** Real prose, one paragraph per entry: OpenStax section intros, C4 pages, Alpaca answers, Wikipedia. */
export function seedParagraphs(): string[] {
  const paras: string[] = [];
  for (const r of jsonl(sharedPath('seed/openstax/openstax_toc_intros.jsonl'))) {
    if (typeof r.abstract === 'string' && r.abstract) paras.push(r.abstract);
    for (const p of (r.intro_paragraphs as string[] | undefined) ?? []) paras.push(p);
  }
  for (const r of jsonl(sharedPath('seed/web/c4_demo.jsonl'))) paras.push(...String(r.text).split(/\n+/));
  const alpaca = JSON.parse(readFileSync(sharedPath('seed/instruct/alpaca_en_demo.json'), 'utf8')) as { output: string }[];
  for (const a of alpaca) paras.push(a.output);
  paras.push(...readFileSync(sharedPath('seed/web/wiki_demo.txt'), 'utf8').split(/\n+/));
  // Keep real paragraphs, not headings or one-liners; the same preface recurs across books.
  return [...new Set(paras.map((p) => p.trim()).filter((p) => p.split(/\s+/).length >= 25))];
}

/** Whole clean documents: every OpenStax section, C4 page, Alpaca answer and Wikipedia article. */
export function cleanDocuments(): string[] {
  const docs: string[] = [];
  for (const r of jsonl(sharedPath('seed/openstax/openstax_toc_intros.jsonl')))
    docs.push([r.title, r.abstract, ...((r.intro_paragraphs as string[] | undefined) ?? [])].filter(Boolean).join('\n\n'));
  for (const r of jsonl(sharedPath('seed/web/c4_demo.jsonl'))) docs.push(String(r.text));
  const alpaca = JSON.parse(readFileSync(sharedPath('seed/instruct/alpaca_en_demo.json'), 'utf8')) as { instruction: string; output: string }[];
  for (const a of alpaca) docs.push(`${a.instruction}\n\n${a.output}`);
  docs.push(...readFileSync(sharedPath('seed/web/wiki_demo.txt'), 'utf8').split(/\n{2,}/));
  return docs.filter((d) => d.split(/\s+/).length >= 40);
}

export type Variant = 'verbatim' | 'reformatted' | 'rephrased';
export const VARIANTS: Variant[] = ['verbatim', 'reformatted', 'rephrased'];

const pick = <T>(r: () => number, xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;

/** The item's options: the lines of its text after the prompt. */
function optionsOf(item: BenchmarkItem): string[] {
  if (item.prompt === undefined || !item.text.startsWith(item.prompt)) return [];
  return item.text.slice(item.prompt.length).split('\n').filter(Boolean);
}

/** The item as a textbook would typeset it: other case, punctuation, line breaks and option letters. */
function reformat(item: BenchmarkItem, r: () => number): string {
  const options = optionsOf(item);
  let question = item.prompt && options.length ? item.prompt : item.text;
  const caseStyle = pick(r, ['upper', 'lower', 'title', 'keep']);
  if (caseStyle === 'upper') question = question.toUpperCase();
  else if (caseStyle === 'lower') question = question.toLowerCase();
  else if (caseStyle === 'title') question = question.replace(/\b\w/g, (c) => c.toUpperCase());
  question = question.replace(/[?.!]\s*$/, pick(r, ['', ' ?', ':', '...'])).replace(/, /g, pick(r, [' - ', '; ', ', ']));
  // A line break somewhere in the middle, as a narrow column would wrap it.
  const words = question.split(' ');
  if (words.length > 6) words.splice(Math.floor(words.length / 2), 0, '\n');
  question = words.join(' ');
  if (!options.length) return `**${question}**`;
  const labels = pick(r, [
    (i: number) => `${'ABCDE'[i]}) `,
    (i: number) => `(${'abcde'[i]}) `,
    (i: number) => `${i + 1}. `,
    (i: number) => `${'abcde'[i]}) `,
  ]);
  const sep = pick(r, ['\n', '  ', '\n\n']);
  return `${question}\n${options.map((o, i) => labels(i) + o).join(sep)}`;
}

/** The item with new words around it: the question, the options woven into prose, the answer explained anew. */
function rephrase(item: BenchmarkItem, r: () => number): string {
  const options = optionsOf(item);
  const intro = pick(r, ['Here is a question worth thinking about.', 'Let us look at an example from practice.', 'Consider the following.']);
  if (item.benchmark === 'gsm8k')
    return `${intro} ${item.text} To work this out we look at each quantity in turn, combine them carefully, and check the units along the way. Doing so gives a final result of ${item.answer}.`;
  if (!item.prompt || !options.length)
    return `${intro} "${item.text}" Why does this sentence make sense? Think about who would plausibly act this way, and why the other reading sounds odd.`;
  const answer = item.answer ?? options[0]!;
  return (
    `${intro} ${item.prompt} The possible answers are ${options.slice(0, -1).join(', ')}, or ${options.at(-1)}. ` +
    `Looking at each in turn, the one that fits best is "${answer}", because it agrees with what we know about the situation, while the others do not.`
  );
}

export interface PlantedSample {
  text: string;
  /** The planted item's id; undefined for clean samples. */
  item?: string;
  variant?: Variant | 'clean' | 'topic';
}

/** Item text in the variant's form, inside 1-3 seed paragraphs on each side. */
export function plant(item: BenchmarkItem, variant: Variant, paragraphs: readonly string[], r: () => number): string {
  const body = variant === 'verbatim' ? item.text : variant === 'reformatted' ? reformat(item, r) : rephrase(item, r);
  const around = (k: number) => Array.from({ length: k }, () => pick(r, paragraphs));
  return [...around(1 + Math.floor(r() * 3)), body, ...around(1 + Math.floor(r() * 3))].join('\n\n');
}

/**
 * A clean text on the item's topic: seed prose, sentences from half of the item's own content
 * words in another order, and its correct answer alone when that is short (not for HellaSwag,
 * whose endings are often the next item's context).
 */
export function topical(item: BenchmarkItem, paragraphs: readonly string[], r: () => number): string {
  const words = [...new Set(item.text.toLowerCase().match(/[\p{L}\p{N}'-]{4,}/gu) ?? [])];
  for (let i = words.length - 1; i > 0; i--) {
    const j = Math.floor(r() * (i + 1));
    [words[i], words[j]] = [words[j]!, words[i]!];
  }
  const vocabulary = words.slice(0, Math.ceil(words.length / 2));
  const sentences: string[] = [];
  for (let i = 0; i < vocabulary.length; i += 6) sentences.push(`In this unit we touch on ${vocabulary.slice(i, i + 6).join(', ')}.`);
  const answer =
    item.answer && item.benchmark !== 'hellaswag' && item.answer.length * 4 < item.text.length
      ? `A common answer students give here is "${item.answer}".`
      : '';
  return [pick(r, paragraphs), sentences.join(' '), answer, pick(r, paragraphs)].filter(Boolean).join('\n\n');
}

/** `perBenchmark` items of each benchmark, chosen at random. */
export function sampleItems(items: readonly BenchmarkItem[], perBenchmark: number, r: () => number): BenchmarkItem[] {
  const by = new Map<string, BenchmarkItem[]>();
  for (const it of items) {
    const list = by.get(it.benchmark) ?? [];
    list.push(it);
    by.set(it.benchmark, list);
  }
  const out: BenchmarkItem[] = [];
  for (const list of by.values()) {
    const chosen = new Set<number>();
    while (chosen.size < Math.min(perBenchmark, list.length)) chosen.add(Math.floor(r() * list.length));
    for (const i of [...chosen].sort((a, b) => a - b)) out.push(list[i]!);
  }
  return out;
}

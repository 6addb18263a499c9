import { existsSync, readdirSync, statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import Bunzip from 'seek-bzip';
import { readJsonl } from '../io/jsonl.js';
import { CosmoError, InputError } from '../util/errors.js';
import { parseCsv } from './csv.js';

/** One benchmark item, as the text a model would memorise: question (or context) and its answer options. */
export interface BenchmarkItem {
  /** Benchmark name, e.g. `mmlu`; the report groups by it. */
  benchmark: string;
  /** Stable id within the benchmark files, e.g. `arc_easy/17` or `mmlu/anatomy/3`. */
  id: string;
  /** The full memorisable text. */
  text: string;
  /** The question / context alone (a prefix of `text`), when the item has one. */
  prompt?: string;
  /** The correct answer's text, when the benchmark has one. */
  answer?: string;
  /** How this benchmark's item texts are built, for the report (one shared string per benchmark). */
  built?: string;
}

type Row = Record<string, unknown>;

function field<T>(row: Row, key: string, file: string, line: number, check: (v: unknown) => v is T, what: string): T {
  const v = row[key];
  if (!check(v)) throw new InputError(file, line, `field "${key}" must be ${what}, got ${JSON.stringify(v) ?? 'nothing'}`);
  return v;
}
const isString = (v: unknown): v is string => typeof v === 'string';
const isStrings = (v: unknown): v is string[] => Array.isArray(v) && v.length > 0 && v.every(isString);
const isInt = (v: unknown): v is number => Number.isInteger(v);

function gold(row: Row, key: string, count: number, file: string, line: number): number {
  const g = field(row, key, file, line, isInt, 'an integer');
  if (g < 0 || g >= count) throw new InputError(file, line, `field "${key}" is ${g}, outside the ${count} options`);
  return g;
}

const item = (benchmark: string, id: string | number, prompt: string, options: string[], answer: string | undefined, built: string): BenchmarkItem => ({
  benchmark,
  id: `${benchmark}/${id}`,
  prompt,
  text: [prompt, ...options].join('\n'),
  answer,
  built,
});

async function jsonlRows(file: string): Promise<{ line: number; value: Row }[]> {
  const rows: { line: number; value: Row }[] = [];
  for await (const r of readJsonl<Row>(file)) rows.push(r);
  return rows;
}

/** ARC, OpenBookQA, BoolQ: `{query, choices, gold}` (lm-eval style; the "Question:"/"Passage:" labels are dropped). */
export async function loadChoiceQa(file: string, benchmark: string): Promise<BenchmarkItem[]> {
  return (await jsonlRows(file)).map(({ line, value }, i) => {
    const query = field(value, 'query', file, line, isString, 'a string');
    const choices = field(value, 'choices', file, line, isStrings, 'a list of strings');
    const g = gold(value, 'gold', choices.length, file, line);
    // BoolQ: "Passage: …\nQuestion: …"; a passage can itself contain "Question:", so take the last.
    const prompt = query
      .replace(/^\s*(Question|Passage):\s*/, '')
      .replace(/\n\s*Question:\s*(?![\s\S]*\n\s*Question:)/, '\n')
      .replace(/\n\s*Answer:\s*$/, '');
    return item(benchmark, i, prompt, choices, choices[g], 'the question (BoolQ: passage and question), then each option on its own line');
  });
}

/**
 * WinoGrande: the sentence with its blank, then both options, as the benchmark is published. A leak of
 * the sentence completed with either option still matches all of it but the blank and the options.
 */
export async function loadWinogrande(file: string, benchmark = 'winogrande'): Promise<BenchmarkItem[]> {
  return (await jsonlRows(file)).map(({ line, value }, i) => {
    const options = field(value, 'context_options', file, line, isStrings, 'a list of strings');
    const continuation = field(value, 'continuation', file, line, isString, 'a string');
    const g = gold(value, 'gold', options.length, file, line);
    if (options.length !== 2) throw new InputError(file, line, `field "context_options" must hold the sentence with each of 2 options, got ${options.length}`);
    // Both contexts are the sentence up to its blank, filled with one option: the shared words are the
    // sentence, the rest of each context its filler.
    const [a, b] = options as [string, string];
    let common = 0;
    while (common < a.length && a[common] === b[common]) common++;
    const cut = a.lastIndexOf(' ', common) + 1;
    const fillers = options.map((o) => o.slice(cut));
    const sentence = `${a.slice(0, cut)}_ ${continuation}`;
    return { benchmark, id: `${benchmark}/${i}`, prompt: sentence, text: [sentence, ...fillers].join('\n'), answer: fillers[g], built: 'the sentence with its blank (_), then both options' };
  });
}

/** PIQA: `{goal, sol1, sol2}` plus a labels file (`<name>-labels.lst`, one 0/1 a line). */
export async function loadPiqa(file: string, benchmark = 'piqa'): Promise<BenchmarkItem[]> {
  const labelsFile = file.replace(/\.jsonl$/, '-labels.lst');
  if (!existsSync(labelsFile)) throw new CosmoError(`${file}: PIQA needs its labels file ${labelsFile}`);
  const labels = (await readFile(labelsFile, 'utf8')).split(/\r?\n/);
  if (labels.at(-1) === '') labels.pop();
  const rows = await jsonlRows(file);
  if (labels.length !== rows.length)
    throw new InputError(labelsFile, undefined, `has ${labels.length} labels but ${file} has ${rows.length} rows`);
  return rows.map(({ line, value }, i) => {
    const goal = field(value, 'goal', file, line, isString, 'a string');
    const sols = [field(value, 'sol1', file, line, isString, 'a string'), field(value, 'sol2', file, line, isString, 'a string')];
    const label = labels[i]!.trim();
    if (label !== '0' && label !== '1') throw new InputError(labelsFile, i + 1, `label must be 0 or 1, got ${JSON.stringify(label)}`);
    return item(benchmark, i, goal, sols, sols[Number(label)], 'the goal, then both solutions');
  });
}

/** Social IQa: `{context, question, options, answer}`. */
export async function loadSiqa(file: string, benchmark = 'siqa'): Promise<BenchmarkItem[]> {
  return (await jsonlRows(file)).map(({ line, value }, i) => {
    const context = field(value, 'context', file, line, isString, 'a string');
    const question = field(value, 'question', file, line, isString, 'a string');
    const options = field(value, 'options', file, line, isStrings, 'a list of strings');
    const answer = field(value, 'answer', file, line, isString, 'a string');
    return item(benchmark, i, `${context} ${question}`, options, answer, 'context and question, then each option on its own line');
  });
}

/**
 * GSM8K: the question alone, with the final number as its answer. The worked solution is not part of
 * the text: the overlap score divides by the item's length, so a question leaked without its
 * solution would score under the threshold against question + solution.
 */
export async function loadGsm8k(file: string, benchmark = 'gsm8k'): Promise<BenchmarkItem[]> {
  return (await jsonlRows(file)).map(({ line, value }, i) => {
    const question = field(value, 'question', file, line, isString, 'a string');
    const solution = field(value, 'answer', file, line, isString, 'a string');
    const final = /####\s*(.+?)\s*$/.exec(solution)?.[1];
    return { benchmark, id: `${benchmark}/${i}`, text: question, answer: final, built: 'the question alone (the worked solution is left out)' };
  });
}

/** HellaSwag text format (bzip2 or plain): six lines per item: "label: context", gold index, four endings. */
export async function loadHellaswag(file: string, benchmark = 'hellaswag'): Promise<BenchmarkItem[]> {
  const raw = await readFile(file);
  let text: string;
  try {
    text = (file.endsWith('.bz2') ? Bunzip.decode(raw) : raw).toString('utf8');
  } catch (err) {
    throw new InputError(file, undefined, `not a readable bzip2 file (${(err as Error).message})`);
  }
  const lines = text.split(/\r?\n/);
  if (lines.at(-1) === '') lines.pop();
  if (lines.length % 6 !== 0) throw new InputError(file, lines.length, `expected 6 lines per item, but the file has ${lines.length} lines`);
  const items: BenchmarkItem[] = [];
  for (let i = 0; i < lines.length; i += 6) {
    const g = lines[i + 1]!.trim();
    if (!/^[0-3]$/.test(g)) throw new InputError(file, i + 2, `expected the gold ending index 0-3, got ${JSON.stringify(g)}`);
    const endings = lines.slice(i + 2, i + 6);
    items.push(item(benchmark, i / 6, lines[i]!, endings, endings[Number(g)], 'the context, then the four endings'));
  }
  return items;
}

/** MMLU: a folder of `<subject>_test.csv` files, `question,choice0..choice3,answer` (0-3 or A-D). */
export async function loadMmlu(dir: string, benchmark = 'mmlu'): Promise<BenchmarkItem[]> {
  const files = readdirSync(dir)
    .filter((f) => f.endsWith('.csv'))
    .sort();
  if (files.length === 0) throw new CosmoError(`${dir}: no MMLU .csv files`);
  const items: BenchmarkItem[] = [];
  for (const f of files) {
    const file = join(dir, f);
    const subject = f.replace(/(_test|_dev|_val)?\.csv$/, '');
    let rows = parseCsv(await readFile(file, 'utf8'), file);
    if (rows[0]?.fields[0] === 'question') rows = rows.slice(1);
    rows.forEach(({ line, fields }, i) => {
      if (fields.length !== 6) throw new InputError(file, line, `expected 6 columns (question, 4 choices, answer), got ${fields.length}`);
      const a = fields[5]!.trim();
      const g = /^[0-3]$/.test(a) ? Number(a) : 'ABCD'.indexOf(a.toUpperCase());
      if (g < 0 || a.length !== 1) throw new InputError(file, line, `answer must be 0-3 or A-D, got ${JSON.stringify(a)}`);
      const choices = fields.slice(1, 5);
      items.push(item(benchmark, `${subject}/${i}`, fields[0]!, choices, choices[g], 'the question, then the four choices'));
    });
  }
  return items;
}

/** A user's own benchmark: JSONL with the memorisable text in one field. */
export async function loadTextBenchmark(file: string, benchmark: string, textField = 'text'): Promise<BenchmarkItem[]> {
  const built = `field "${textField}" of ${basename(file)}`;
  return (await jsonlRows(file)).map(({ line, value }, i) => ({
    benchmark,
    id: `${benchmark}/${value.id === undefined ? i : String(value.id)}`,
    text: field(value, textField, file, line, isString, 'a string'),
    built,
  }));
}

/**
 * Prebuilt item texts of several benchmarks in one JSONL file, `{text, task_name}` per row, as in
 * Cosmopedia's evaluation dataset for decontamination: each row is indexed as it is, in file order.
 */
export async function loadItemTexts(file: string): Promise<BenchmarkItem[]> {
  const built = `prebuilt, from ${basename(file)}`;
  const seen = new Map<string, number>();
  return (await jsonlRows(file)).map(({ line, value }) => {
    // Cosmopedia's script names a row without task_name "unknown".
    const benchmark = value.task_name === undefined ? 'unknown' : field(value, 'task_name', file, line, isString, 'a string');
    const n = seen.get(benchmark) ?? 0;
    seen.set(benchmark, n + 1);
    return { benchmark, id: `${benchmark}/${n}`, text: field(value, 'text', file, line, isString, 'a string'), built };
  });
}

interface Loader {
  name: string;
  /** Matches a file (or, for MMLU, a folder) name in a benchmarks folder. */
  pattern: RegExp;
  load(path: string, name: string): Promise<BenchmarkItem[]>;
}

/**
 * The known benchmarks, in the order they are indexed (cosmopedia mode: later items overwrite
 * earlier ones on shared n-grams, so the order is part of the result).
 */
export const LOADERS: readonly Loader[] = [
  { name: 'arc_easy', pattern: /^arc_easy.*\.jsonl$/, load: loadChoiceQa },
  { name: 'arc_challenge', pattern: /^arc_challenge.*\.jsonl$/, load: loadChoiceQa },
  { name: 'openbookqa', pattern: /^openbookqa.*\.jsonl$/, load: loadChoiceQa },
  { name: 'boolq', pattern: /^boolq.*\.jsonl$/, load: loadChoiceQa },
  { name: 'winogrande', pattern: /^winogrande.*\.jsonl$/, load: loadWinogrande },
  { name: 'piqa', pattern: /^piqa(?!.*labels).*\.jsonl$/, load: loadPiqa },
  { name: 'siqa', pattern: /^siqa.*\.jsonl$/, load: loadSiqa },
  { name: 'hellaswag', pattern: /^hellaswag.*\.(txt|txt\.bz2)$/, load: loadHellaswag },
  { name: 'mmlu', pattern: /^mmlu/, load: (p, name) => loadMmlu(p, name) },
  { name: 'gsm8k', pattern: /^gsm8k.*\.jsonl$/, load: loadGsm8k },
];

export interface LoadedBenchmarks {
  items: BenchmarkItem[];
  /** Per benchmark: the file it came from and its item count. */
  sources: { benchmark: string; path: string; items: number }[];
  /** Entries of the folder no loader recognised. */
  ignored: string[];
}

/**
 * Every known benchmark in a folder, in LOADERS order. `only` restricts to some benchmark names; a
 * name in `only` with no file is an error, so a typo does not silently check nothing.
 */
export async function loadBenchmarkDir(dir: string, only?: readonly string[]): Promise<LoadedBenchmarks> {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new CosmoError(`benchmarks_dir ${dir} is not a folder`);
  const entries = readdirSync(dir).filter((e) => !e.startsWith('.'));
  const unknown = only?.filter((n) => !LOADERS.some((l) => l.name === n));
  if (unknown?.length) throw new CosmoError(`unknown benchmark(s) ${unknown.join(', ')}; known: ${LOADERS.map((l) => l.name).join(', ')}`);
  const out: LoadedBenchmarks = { items: [], sources: [], ignored: [] };
  const used = new Set<string>();
  for (const loader of LOADERS) {
    const matches = entries.filter((e) => loader.pattern.test(e)).sort();
    matches.forEach((m) => used.add(m));
    if (only && !only.includes(loader.name)) continue;
    if (only && matches.length === 0) throw new CosmoError(`benchmark ${loader.name}: no file matching ${loader.pattern} in ${dir}`);
    for (const m of matches) {
      const path = join(dir, m);
      const items = await loader.load(path, loader.name);
      out.items.push(...items);
      out.sources.push({ benchmark: loader.name, path, items: items.length });
    }
  }
  out.ignored = entries.filter((e) => !used.has(e) && !/(-labels\.lst|readme.*|\.md|sha256sums)$/i.test(e));
  return out;
}

/** A benchmark's default name from its file: `my_eval.jsonl` -> `my_eval`. */
export const benchmarkNameOf = (file: string) => basename(file).replace(/\.(jsonl|jsonl\.gz)$/, '');

import type { SeedKind, SeedRecord } from '../records/types.js';
import { stableId } from '../records/id.js';
import type { SeedAdapter, SeedSourceConfig } from './config.js';
import { kbOutline, parseKbEntry } from './kb.js';
import { outlineUnits, parseOutline } from './outline.js';
import { restoreTitleSpaces } from './wikihow.js';

/** A row an adapter cannot use; the loader turns it into an InputError naming file and line, or skips and counts it. */
export class BadRow extends Error {}

/** What every adapter fills in; the loader adds id and source. */
export type SeedDraft = Pick<SeedRecord, 'text' | 'meta'>;

export interface Adapter {
  readonly kind: SeedKind;
  /** Seeds made from one row (none for a row that is legitimately skipped, such as front matter). */
  push(row: unknown): SeedDraft[];
}

export const RECORD_KIND: Record<SeedAdapter, SeedKind> = {
  web: 'web',
  openstax: 'curated',
  course: 'curated',
  wikihow: 'curated',
  outline: 'curated',
  instruct: 'instruct',
  math: 'math',
  kb: 'kb',
};

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function requireObject(row: unknown): Record<string, unknown> {
  if (!isObject(row)) throw new BadRow(`expected an object, got ${Array.isArray(row) ? 'an array' : typeof row}`);
  return row;
}

/** A dotted field of a row ("metadata.title"). */
export function field(row: unknown, path: string): unknown {
  let v: unknown = row;
  for (const key of path.split('.')) {
    if (!isObject(v)) return undefined;
    v = v[key];
  }
  return v;
}

const str = (v: unknown): string => (typeof v === 'string' ? v : Array.isArray(v) ? v.filter((x) => typeof x === 'string').join('\n\n') : '');

/** Cut text to at most `max` characters, at the last word boundary when there is one near the end. */
export function cutText(text: string, max: number): string {
  const t = text.trim();
  if (t.length <= max) return t;
  const cut = t.slice(0, max);
  const space = cut.search(/\s\S*$/);
  return (space > max * 0.8 ? cut.slice(0, space) : cut).trimEnd();
}

/** The document text of a row: the configured field, else the usual ones. */
function documentText(row: unknown, textField: string | undefined): string {
  if (typeof row === 'string') return row;
  const o = requireObject(row);
  if (textField) {
    const v = field(o, textField);
    if (typeof v !== 'string' && !Array.isArray(v)) throw new BadRow(`no text in field "${textField}"`);
    return str(v);
  }
  for (const k of ['text', 'content', 'document', 'body']) if (typeof o[k] === 'string') return o[k];
  if (typeof o.abstract === 'string' || Array.isArray(o.intro_paragraphs)) return [str(o.abstract), str(o.intro_paragraphs)].filter(Boolean).join('\n\n');
  for (const [q, a] of [['question', 'answer'], ['problem', 'solution']] as const)
    if (typeof o[q] === 'string') return `${o[q]}\n\n${str(o[a])}`.trim();
  throw new BadRow('no document text: set "text_field" on the seed source (tried text, content, abstract, question, problem)');
}

function firstString(o: Record<string, unknown>, keys: string[]): string | undefined {
  for (const k of keys) {
    const v = field(o, k);
    if (typeof v === 'string' && v.trim()) return v.trim();
  }
  return undefined;
}

/** Web pages and math/science texts: an extract of the document, cut to max_chars. */
function documentAdapter(kind: SeedKind, src: SeedSourceConfig): Adapter {
  return {
    kind,
    push(row) {
      const text = cutText(documentText(row, src.text_field), src.max_chars);
      if (!text) return []; // an empty document is not malformed, just nothing to seed from
      const meta: Record<string, unknown> = { shape: 'document' };
      if (isObject(row)) {
        const title = firstString(row, ['title', 'metadata.title']);
        const url = firstString(row, ['url', 'metadata.url', 'id']);
        if (title) meta.title = title;
        if (url && /^https?:\/\//.test(url)) meta.url = url;
        if (typeof row.book === 'string') meta.subject = row.book;
      }
      return [{ text, meta }];
    },
  };
}

/** OpenStax-like rows {book, path: [part?, chapter], title, abstract, intro_paragraphs}: one unit each, with what came before. */
function openstaxAdapter(src: SeedSourceConfig): Adapter {
  const books = new Map<string, { chapters: string[]; units: Map<string, string[]> }>();
  return {
    kind: 'curated',
    push(row) {
      const o = requireObject(row);
      const book = str(o.book).trim();
      const title = str(o.title).trim();
      if (!book || !title) throw new BadRow('an OpenStax row needs "book" and "title"');
      if (!Array.isArray(o.path)) throw new BadRow('"path" must be a list of chapter titles');
      const path = o.path.map(String);
      if (path.length === 0) return []; // front matter (Preface): no chapter to teach
      const chapter = path.at(-1)!;
      let state = books.get(book);
      if (!state) books.set(book, (state = { chapters: [], units: new Map() }));
      if (!state.units.has(chapter)) {
        state.chapters.push(chapter);
        state.units.set(chapter, []);
      }
      const covered = state.units.get(chapter)!;
      const reference = cutText([str(o.abstract), str(o.intro_paragraphs)].filter(Boolean).join('\n\n'), src.max_chars);
      const meta: Record<string, unknown> = {
        shape: 'unit',
        course: book,
        chapter,
        unit: title,
        title,
        covered_units: [...covered],
        covered_chapters: state.chapters.slice(0, -1),
        subject: book,
      };
      if (path.length > 1) meta.part = path[0];
      if (reference) meta.reference = reference;
      covered.push(title);
      return [{ text: reference || `${book} > ${chapter} > ${title}`, meta }];
    },
  };
}

/** Course outlines {course, chapters: [{title, units|sections}]}: one seed per unit, or one per course with no chapters (to have its outline generated). */
function courseAdapter(): Adapter {
  return {
    kind: 'curated',
    push(row) {
      const o = requireObject(row);
      const course = firstString(o, ['course', 'title', 'name']);
      if (!course) throw new BadRow('a course needs a "course" (or "title") name');
      const description = firstString(o, ['description', 'summary']);
      const chapters = o.chapters ?? o.modules;
      if (chapters === undefined)
        // The title on the first line: the outline step reads the course name back from it.
        return [{ text: description ? `${course}\n${description}` : course, meta: { shape: 'course', course, title: course, ...(description ? { description } : {}) } }];
      if (!Array.isArray(chapters)) throw new BadRow('"chapters" must be a list');
      const outline = {
        title: course,
        chapters: chapters.map((c, i) => {
          if (typeof c === 'string') return { title: c, units: [c] };
          if (!isObject(c)) throw new BadRow(`chapter ${i + 1} must be a title or {title, units}`);
          const title = firstString(c, ['title', 'name']);
          if (!title) throw new BadRow(`chapter ${i + 1} has no "title"`);
          const units = flattenUnits(c.units ?? c.sections);
          return { title, units: units.length ? units : [title] };
        }),
      };
      return outlineUnits(outline, course).map((u) => ({
        text: `${u.course} > ${u.chapter} > ${u.unit}`,
        meta: { shape: 'unit', ...u, title: u.unit, ...(description ? { description } : {}) },
      }));
    },
  };
}

/** Sections may hold their own units (book → chapter → section → unit): the leaves are the units. */
function flattenUnits(v: unknown): string[] {
  if (v === undefined) return [];
  if (!Array.isArray(v)) throw new BadRow('"units" must be a list');
  return v.flatMap((u): string[] => {
    if (typeof u === 'string') return [u];
    if (isObject(u)) {
      const leaves = flattenUnits(u.units ?? u.sections);
      const title = firstString(u, ['title', 'name']) ?? '';
      return leaves.length ? leaves.map((l) => (title ? `${title}: ${l}` : l)) : title ? [title] : [];
    }
    throw new BadRow('a unit must be a title or {title, units}');
  });
}

/** wikiHow titles with their spaces removed ("HowtoCookAdzukiBeans2"), one per line, or rows with a title field. */
function wikihowAdapter(): Adapter {
  return {
    kind: 'curated',
    push(row) {
      const raw = typeof row === 'string' ? row : firstString(requireObject(row), ['title', 'text']);
      if (!raw) throw new BadRow('no wikiHow title');
      const title = /\s/.test(raw.trim()) ? raw.trim() : restoreTitleSpaces(raw);
      if (!/[A-Za-z]{2}/.test(title)) throw new BadRow(`not a title: ${JSON.stringify(raw)}`);
      return [{ text: title, meta: { shape: 'title', title } }];
    },
  };
}

/** The first human turn and first answer of an instruction dataset row (Alpaca, UltraChat, ShareGPT/OpenHermes, Self-Instruct). */
export function firstExchange(o: Record<string, unknown>): { question: string; answer: string } {
  const turns = o.conversations ?? o.messages ?? o.conversation;
  if (Array.isArray(turns)) {
    const roleOf = (t: Record<string, unknown>) => String(t.from ?? t.role ?? '').toLowerCase();
    const textOf = (t: Record<string, unknown>) => str(t.value ?? t.content).trim();
    const objs = turns.filter(isObject);
    const qi = objs.findIndex((t) => ['human', 'user'].includes(roleOf(t)));
    if (qi < 0) throw new BadRow('conversation has no human/user turn');
    const a = objs.slice(qi + 1).find((t) => ['gpt', 'assistant', 'bot', 'model'].includes(roleOf(t)));
    return { question: textOf(objs[qi]!), answer: a ? textOf(a) : '' };
  }
  if (Array.isArray(o.data) && typeof o.data[0] === 'string') return { question: String(o.data[0]), answer: str(o.data[1]) };
  const instruction = firstString(o, ['instruction', 'prompt', 'question', 'query']);
  if (!instruction) throw new BadRow('no instruction: expected instruction/input/output, conversations, messages or data');
  let input = str(o.input).trim();
  let answer = firstString(o, ['output', 'response', 'answer', 'completion']) ?? '';
  if (Array.isArray(o.instances) && isObject(o.instances[0])) {
    input ||= str(o.instances[0].input).trim();
    answer ||= str(o.instances[0].output).trim();
  }
  return { question: input ? `${instruction}\n${input}` : instruction, answer };
}

function instructAdapter(src: SeedSourceConfig): Adapter {
  return {
    kind: 'instruct',
    push(row) {
      const { question, answer } = firstExchange(requireObject(row));
      if (!question) throw new BadRow('empty first human turn');
      const text = cutText(answer ? `${question}\n\n${answer}` : question, src.max_chars);
      return [{ text, meta: { shape: 'conversation', title: cutText(question, 200), question, answer: cutText(answer, src.max_chars) } }];
    },
  };
}

function kbAdapter(): Adapter {
  return {
    kind: 'kb',
    push(row) {
      let e;
      try {
        e = parseKbEntry(requireObject(row));
      } catch (err) {
        throw err instanceof BadRow ? err : new BadRow((err as Error).message);
      }
      const meta: Record<string, unknown> = { shape: 'entity', title: e.label, entity_type: e.type, description: e.description };
      if (e.id) meta.entity_id = e.id;
      return [{ text: kbOutline(e), meta }];
    },
  };
}

/** Generated samples whose text is an outline: one unit seed each, the chain's second step. */
function outlineAdapter(): Adapter {
  return {
    kind: 'curated',
    push(row) {
      const s = requireObject(row);
      if (s.error) return []; // a failed generation has no outline
      const text = str(s.text);
      if (!text.trim()) throw new BadRow('sample has no "text"');
      // The outline's own title wins; else the seed it was written from (a course title, a KB entry's first line).
      const course = (str(s.seed_data).split('\n')[0]!.trim() || firstString(s, ['topic']) || 'Untitled course').slice(0, 200);
      const units = outlineUnits(parseOutline(text), course);
      if (units.length === 0) throw new BadRow('no outline found in the sample text (expected headings or numbered/bulleted items)');
      return units.map((u) => ({
        text: `${u.course} > ${u.chapter} > ${u.unit}`,
        meta: {
          shape: 'unit',
          ...u,
          title: u.unit,
          from_sample: s.id,
          ...(typeof s.audience === 'string' ? { audience: s.audience } : {}),
        },
      }));
    },
  };
}

export function createAdapter(src: SeedSourceConfig): Adapter {
  switch (src.kind) {
    case 'web':
      return documentAdapter('web', src);
    case 'math':
      return documentAdapter('math', src);
    case 'openstax':
      return openstaxAdapter(src);
    case 'course':
      return courseAdapter();
    case 'wikihow':
      return wikihowAdapter();
    case 'instruct':
      return instructAdapter(src);
    case 'kb':
      return kbAdapter();
    case 'outline':
      return outlineAdapter();
  }
}

/** A seed's id: a hash of everything that shaped it. */
export const seedId = (source: string, kind: SeedKind, draft: SeedDraft) => stableId('seed', source, kind, draft.text, draft.meta);

/**
 * Chained prompts: a generated outline (of a course, an OpenStax-like chapter or a KB entry) read back
 * as a tree, so that each unit becomes its own seed and prompt, with the units already covered.
 */

export interface OutlineChapter {
  title: string;
  units: string[];
}

export interface Outline {
  title: string | undefined;
  chapters: OutlineChapter[];
}

export interface OutlineUnit {
  course: string;
  chapter: string;
  unit: string;
  /** Units of the same chapter written before this one. */
  covered_units: string[];
  /** Chapters of the course before this one. */
  covered_chapters: string[];
}

interface Item {
  level: number;
  title: string;
}

/** One outline line as (depth, title), or undefined for prose. */
function parseLine(raw: string): Item | undefined {
  const indent = raw.match(/^\s*/)![0].replace(/\t/g, '    ').length;
  const line = raw.trim();
  if (!line) return undefined;
  let m = line.match(/^(#{1,6})\s+(.+)$/);
  if (m) return { level: m[1]!.length - 1, title: m[2]! };
  // "Chapter 3: Title", "Unit 2 - Title", "Module 1. Title", "Week 4: Title"
  m = line.match(/^(?:\*\*)?(?:chapter|unit|module|part|week|lesson|section)\s+[\dIVXLC]+[.:)\-–]?\s*(.*?)(?:\*\*)?$/i);
  if (m) return { level: /^(\*\*)?(section|lesson)/i.test(line) ? 2 : 1, title: m[1] || line };
  // "1.2.3 Title" / "1. Title" / "1) Title" / "a) Title" / "IV. Title"
  m = line.match(/^((?:\d+\.)*\d+)[.)]?\s+(.+)$/);
  if (m) return { level: 1 + m[1]!.split('.').filter(Boolean).length - 1 + Math.floor(indent / 2), title: m[2]! };
  m = line.match(/^([a-z]|[IVXLC]+)[.)]\s+(.+)$/);
  if (m) return { level: /^[IVXLC]+$/.test(m[1]!) ? 1 : 2 + Math.floor(indent / 2), title: m[2]! };
  m = line.match(/^[-*+•]\s+(.+)$/);
  if (m) return { level: 2 + Math.floor(indent / 2), title: m[1]! };
  return undefined;
}

const clean = (t: string) =>
  t
    .replace(/\*\*|__|`/g, '')
    .replace(/^(?:chapter|unit|module|part|week|lesson|section)\s+[\dIVXLC.]+\s*[:.\-–)]\s*/i, '')
    .replace(/[:\s]+$/, '')
    .trim();

/** Parse a generated outline: its headings or top-level items are chapters, the items under them units. */
export function parseOutline(text: string): Outline {
  const items = text.split(/\r?\n/).map(parseLine).filter((i): i is Item => !!i && clean(i.title).length > 0);
  let title: string | undefined;
  // A single top heading (# Course) names the course rather than a chapter.
  const top = items.filter((i) => i.level === 0);
  if (top.length === 1 && items[0] === top[0]) {
    title = clean(top[0]!.title);
    items.shift();
  }
  if (items.length === 0) return { title, chapters: [] };
  const levels = [...new Set(items.map((i) => i.level))].sort((a, b) => a - b);
  if (levels.length === 1) return { title, chapters: [{ title: title ?? '', units: items.map((i) => clean(i.title)) }] };
  const chapterLevel = levels[0]!;
  const chapters: OutlineChapter[] = [];
  for (const item of items) {
    if (item.level === chapterLevel) chapters.push({ title: clean(item.title), units: [] });
    else if (chapters.length) chapters.at(-1)!.units.push(clean(item.title));
    else chapters.push({ title: title ?? '', units: [clean(item.title)] });
  }
  // A chapter with no units is itself the unit to write.
  for (const c of chapters) if (c.units.length === 0) c.units.push(c.title);
  return { title, chapters };
}

/** Every unit of an outline with its context: the chain's second step writes one text per unit. */
export function outlineUnits(outline: Outline, course: string): OutlineUnit[] {
  const out: OutlineUnit[] = [];
  const name = outline.title || course;
  outline.chapters.forEach((chapter, ci) => {
    chapter.units.forEach((unit, ui) => {
      out.push({
        course: name,
        chapter: chapter.title || name,
        unit,
        covered_units: chapter.units.slice(0, ui),
        covered_chapters: outline.chapters.slice(0, ci).map((c) => c.title),
      });
    });
  });
  return out;
}

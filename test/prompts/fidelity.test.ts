/**
 * Every instruction Cosmopedia found it needed, checked in prompts built from the real shared seeds:
 * per-format opener bans, genres that follow the audience, full rubrics, the story and math variants,
 * and rules that never contradict the format they are given to.
 */
import { join, resolve } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildPrompts } from '../../src/prompts/build.js';
import { promptsSchema } from '../../src/prompts/config.js';
import { AUDIENCES, FORMATS, bannedOpeners, loadTemplates } from '../../src/prompts/templates.js';
import type { PromptRecord, SeedRecord } from '../../src/records/types.js';
import { seedSourceSchema } from '../../src/seeds/config.js';
import { loadSeeds } from '../../src/seeds/load.js';
import { hasSharedData, sharedPath } from '../helpers/shared-data.js';

const EXAMPLES = resolve(import.meta.dirname, '../../examples/data');
const set = loadTemplates();

async function seedsOf(src: Record<string, unknown>, limit: number): Promise<SeedRecord[]> {
  const cfg = seedSourceSchema.parse({ limit, ...src });
  const out: SeedRecord[] = [];
  for await (const s of loadSeeds(cfg, cfg.path)) out.push(s);
  return out;
}

/** The bans this issue names, per format; the shipped data may add more. */
const ISSUE_BANS: Record<string, string[]> = {
  blogpost: ['Have you ever', 'Hello dear readers'],
  story_morality: ['In the dimly lit'],
  story_forum: ['A few years back', 'A few years ago', 'A few months ago'],
  story_reddit: ['A few years back', 'A few years ago', 'A few months ago'],
  wikihow: [],
  textbook_academic: [],
  textbook_narrative: [],
};

/** What each format's prompt must ask for, whatever its seed kind and audience. */
const FORMAT_INSTRUCTIONS: Record<string, RegExp[]> = {
  blogpost: [/- Inform: /, /- Engage: /, /- Illustrate: /],
  textbook_narrative: [/- Rigor: /, /- Engagement: .*non-fiction writers|- Engagement: .*real cases/, /no invented characters, no dialogue, no fictional plot/],
  wikihow: [/numbered steps/, /why it matters and how it helps reach the goal/, /key tips and guidelines/],
  story_children: [/3 to 5 paragraphs/, /- A bit of science: /, /- Dialogue: /, /- An unexpected twist: .*does not turn out as the characters hoped/, /for inspiration only/, /must not copy its facts/],
  story_morality: [/- Dialogue: /, /- Mature themes: moral ambiguity/, /for inspiration only/],
  story_problem_solving: [/- A problem solved step by step/, /- Common sense and social cues/, /- Both outcomes/, /for inspiration only/],
  story_forum: [/unexpected plot twist/, /authenticity and personal touch/, /for inspiration only/],
  story_reddit: [/- Niche interests or humour/, /- Reflection and insight/, /Start the story right away/, /for inspiration only/],
  outline: [/numbered headings/, /Do not include assignments, exams or prerequisites\./],
};

/** The genre a curated unit becomes for each audience (Cosmopedia's OpenStax styles). */
const CURATED_GENRES: Record<string, RegExp[]> = {
  young_children: [/fun and simple e-learning module/, /cartoon characters/, /no LaTeX/],
  high_school: [/story-based narrative/, /thought experiments/, /real-life scenarios/, /not LaTeX/],
  college: [/unit of an academic textbook/, /- Rigorous: /, /- Engaging: /, /- Applied: /, /correct LaTeX/],
  researchers: [/extract of a scientific journal article/, /recent research findings and debates/, /correct LaTeX/],
  general: [/popular non-fiction/],
};

describe.runIf(hasSharedData)('prompts at Cosmopedia fidelity, on the real seeds', () => {
  let prompts: PromptRecord[];
  beforeAll(async () => {
    const seeds = [
      ...(await seedsOf({ kind: 'web', path: sharedPath('seed/web') }, 300)),
      ...(await seedsOf({ kind: 'openstax', path: sharedPath('seed/openstax/openstax_toc_intros.jsonl') }, 400)),
      ...(await seedsOf({ kind: 'wikihow', path: sharedPath('seed/wikihow/wikihow_sum_all_val_titles.txt') }, 200)),
      ...(await seedsOf({ kind: 'instruct', path: sharedPath('seed/instruct/alpaca_en_demo.json') }, 300)),
      ...(await seedsOf({ kind: 'math', path: sharedPath('seed/openstax/openstax_toc_intros.jsonl'), match: { book: 'Calculus' } }, 100)),
      ...(await seedsOf({ kind: 'kb', path: join(EXAMPLES, 'kb.jsonl') }, 100)),
      ...(await seedsOf({ kind: 'course', path: join(EXAMPLES, 'courses.yaml') }, 100)),
    ];
    const every = [...AUDIENCES];
    const cfg = promptsSchema.parse({
      count: 4000,
      topic_probability: 0,
      audiences: every,
      mix: [
        { kind: 'web', format: FORMATS.filter((f) => f !== 'outline'), weight: 4 },
        { kind: 'instruct', format: ['story_children', 'story_morality', 'story_problem_solving', 'story_forum', 'story_reddit'], weight: 2 },
        { kind: 'curated', match: { shape: 'unit' }, format: ['textbook_academic', 'textbook_narrative', 'blogpost', 'educational_piece'], weight: 3 },
        { kind: 'curated', match: { shape: 'title' }, format: 'wikihow', weight: 1 },
        { kind: 'curated', match: { shape: 'course' }, format: 'outline', weight: 0.02 },
        { kind: 'math', format: ['educational_piece', 'textbook_academic'], weight: 1 },
        { kind: 'kb', format: ['textbook_academic', 'outline'], weight: 0.2 },
      ],
    });
    prompts = [...buildPrompts(seeds, cfg, { templates: set, seed: 7 }).records()];
  }, 60_000);

  it('covers every format and every audience', () => {
    expect(new Set(prompts.map((p) => p.format))).toEqual(new Set(FORMATS));
    expect(new Set(prompts.map((p) => p.audience))).toEqual(new Set(AUDIENCES));
  });

  it('every format this issue names has its own opener bans, beside the shared ones, in every prompt', () => {
    const shared = set.openers['all']!;
    expect(shared).toEqual(expect.arrayContaining(['Once upon a time', 'The sun hung low in the sky']));
    for (const [format, named] of Object.entries(ISSUE_BANS)) {
      const own = set.openers[format] ?? [];
      expect(own.length, `${format} has no opener bans of its own`).toBeGreaterThan(0);
      expect(own).toEqual(expect.arrayContaining(named));
      // A format adds to the shared list without repeating it.
      expect(own.filter((o) => shared.includes(o))).toEqual([]);
      const ofFormat = prompts.filter((p) => p.format === format);
      expect(ofFormat.length).toBeGreaterThan(0);
      for (const p of ofFormat) for (const o of bannedOpeners(set, format)) expect(p.prompt, `${p.template_id}`).toContain(`"${o}"`);
    }
  });

  it('each format asks for its rubric and its features, as separate instructions', () => {
    for (const [format, res] of Object.entries(FORMAT_INSTRUCTIONS)) {
      const ofFormat = prompts.filter((p) => p.format === format);
      expect(ofFormat.length, format).toBeGreaterThan(0);
      for (const p of ofFormat) for (const re of res) expect(p.prompt, `${p.template_id} × ${p.audience}`).toMatch(re);
    }
    // Academic textbooks from the web and from math texts keep Rigor / Engagement / Application.
    const textbooks = prompts.filter((p) => p.format === 'textbook_academic' && /^(web|math)\./.test(p.template_id));
    expect(textbooks.length).toBeGreaterThan(20);
    for (const p of textbooks) for (const line of ['- Rigor: ', '- Engagement: ', '- Application: ']) expect(p.prompt).toContain(line);
  });

  it('for curated units the audience changes the genre, not only the tone', () => {
    const units = prompts.filter((p) => p.template_id === 'curated.textbook_academic');
    for (const [audience, res] of Object.entries(CURATED_GENRES)) {
      const mine = units.filter((p) => p.audience === audience);
      expect(mine.length, audience).toBeGreaterThan(0);
      for (const p of mine) for (const re of res) expect(p.prompt, audience).toMatch(re);
      // Another audience's genre is absent.
      for (const [other, theirs] of Object.entries(CURATED_GENRES))
        if (other !== audience) for (const p of mine) expect(p.prompt).not.toMatch(theirs[0]!);
    }
  });

  it('the morality story and the problem-solving story do not cover the same ground', () => {
    const morality = prompts.filter((p) => p.format === 'story_morality');
    const solving = prompts.filter((p) => p.format === 'story_problem_solving');
    // The instructions only: the seed material after them may say anything.
    const instructions = (p: PromptRecord) => p.prompt.split('\n\n')[0]!;
    for (const p of morality) expect(instructions(p)).not.toMatch(/step by step|social cues/);
    for (const p of solving) expect(instructions(p)).not.toMatch(/moral ambiguity|mature/i);
    // A morality story with mature themes is not written for young children.
    expect(morality.some((p) => p.audience === 'young_children')).toBe(false);
  });

  it('math has a grade-school variant without LaTeX beside the college one with it', () => {
    const math = prompts.filter((p) => p.template_id.startsWith('math.educational_piece'));
    const grade = math.filter((p) => p.audience === 'young_children' || p.audience === 'high_school');
    const college = math.filter((p) => p.audience === 'college' || p.audience === 'researchers');
    expect(grade.length).toBeGreaterThan(0);
    expect(college.length).toBeGreaterThan(0);
    for (const p of grade) {
      expect(p.template_id).toBe('math.educational_piece_grade_school');
      expect(p.prompt).toMatch(/pick a much simpler idea/);
      expect(p.prompt).toMatch(/no LaTeX/);
      expect(p.prompt).not.toMatch(/correct LaTeX/);
    }
    for (const p of college) {
      expect(p.template_id).toBe('math.educational_piece');
      expect(p.prompt).toMatch(/correct LaTeX/);
    }
  });

  it('no rule contradicts its format: outlines are not told to avoid headings or to give proofs', () => {
    const outlines = prompts.filter((p) => p.format === 'outline');
    expect(outlines.length).toBeGreaterThan(0);
    for (const p of outlines) {
      expect(p.prompt).toMatch(/Write only the outline, with no prose/);
      expect(p.prompt).not.toMatch(/Do not start with a title, a heading|derivations, proofs/);
    }
    for (const p of prompts.filter((x) => x.format !== 'outline')) expect(p.prompt).toContain('Do not start with a title, a heading');
  });

  it('no template overrides its audience: young readers and general readers are never asked for an academic tone', () => {
    const instructions = (p: PromptRecord) => p.prompt.split('\n\n')[0]!;
    const young = prompts.filter((p) => p.audience === 'young_children' || p.audience === 'high_school' || p.audience === 'general');
    expect(young.length).toBeGreaterThan(100);
    for (const p of young) expect(instructions(p), `${p.template_id} × ${p.audience}`).not.toMatch(/an academic|academic (tone|yet)|professional tone|scholarly/i);
  });
});

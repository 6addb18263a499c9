import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { AUDIENCES, FORMATS, bannedOpeners, cellValues, fits, loadTemplates, render, rulesFor, type Template, type TemplateSet } from '../../src/prompts/templates.js';
import type { SeedRecord } from '../../src/records/types.js';
import { seedSourceSchema } from '../../src/seeds/config.js';
import { loadSeeds } from '../../src/seeds/load.js';
import { hasSharedData, sharedPath } from '../helpers/shared-data.js';

const EXAMPLES = resolve(import.meta.dirname, '../../examples/data');

async function seedsOf(src: Record<string, unknown>, limit = 300): Promise<SeedRecord[]> {
  const cfg = seedSourceSchema.parse({ limit, ...src });
  const out: SeedRecord[] = [];
  for await (const s of loadSeeds(cfg, cfg.path)) out.push(s);
  return out;
}

function fill(t: Template, set: TemplateSet, seed: SeedRecord, audience: string, language = 'en', topic?: string): string {
  const meta: Record<string, string | string[]> = {};
  for (const [k, v] of Object.entries(seed.meta)) if (typeof v === 'string' || Array.isArray(v)) meta[k] = v as string | string[];
  return render(
    t,
    { topic, topic_clause: topic ? `, within the context of "${topic}"` : '', reference: t.reference !== 'none' ? (meta.reference as string) ?? seed.text : false },
    { text: seed.text, ...meta },
    cellValues(set, t.format, audience, language),
  );
}

const words = (s: string) => new Set(s.toLowerCase().match(/[a-z']+/g) ?? []);

describe.runIf(hasSharedData)('the shipped templates', () => {
  let set: TemplateSet;
  let seeds: SeedRecord[];
  beforeAll(async () => {
    set = loadTemplates();
    seeds = [
      ...(await seedsOf({ kind: 'web', path: sharedPath('seed/web') }, 50)),
      ...(await seedsOf({ kind: 'openstax', path: sharedPath('seed/openstax/openstax_toc_intros.jsonl') })),
      ...(await seedsOf({ kind: 'wikihow', path: sharedPath('seed/wikihow/wikihow_sum_all_val_titles.txt') }, 50)),
      ...(await seedsOf({ kind: 'instruct', path: sharedPath('seed/instruct/alpaca_en_demo.json') }, 50)),
      ...(await seedsOf({ kind: 'math', path: sharedPath('seed/openstax/openstax_toc_intros.jsonl'), match: { book: 'Calculus' } }, 50)),
      ...(await seedsOf({ kind: 'kb', path: join(EXAMPLES, 'kb.jsonl') })),
      ...(await seedsOf({ kind: 'course', path: join(EXAMPLES, 'courses.yaml') })),
    ];
  });

  it('cover every format, every audience and every seed kind', () => {
    expect(new Set(set.templates.map((t) => t.format))).toEqual(new Set(FORMATS));
    expect(Object.keys(set.audiences).sort()).toEqual([...AUDIENCES].sort());
    expect(new Set(set.templates.map((t) => t.seed_kind))).toEqual(new Set(['web', 'curated', 'instruct', 'math', 'kb']));
    const kbTypes = set.templates.filter((t) => t.seed_kind === 'kb' && t.format !== 'outline').map((t) => t.match[0]![1].source);
    expect(kbTypes.sort()).toEqual(['^(?:biography)$', '^(?:concept)$', '^(?:event)$', '^(?:organisation)$', '^(?:place)$']);
  });

  it('every template fills from a real seed for every audience it lists, with every rule and no open slot', () => {
    let rendered = 0;
    for (const t of set.templates) {
      const seed = seeds.find((s) => fits(t, s));
      expect(seed, `no real seed fits ${t.id}`).toBeDefined();
      for (const audience of t.audiences) {
        const prompt = fill(t, set, seed!, audience);
        expect(prompt).not.toMatch(/\{\{|\}\}/);
        expect(prompt, `${t.id} lacks its rules`).toContain(rulesFor(set, t.format));
        for (const opener of bannedOpeners(set, t.format)) expect(prompt).toContain(`"${opener}"`);
        expect(prompt).toContain('"Once upon a time"');
        if (t.format !== 'outline') expect(prompt).toContain('"Welcome to this unit"');
        // The seed material is in the prompt: its text, or for title-only templates its title or unit.
        const material =
          t.seed_kind === 'instruct'
            ? String(seed!.meta.question).slice(0, 80)
            : t.reference === 'none' || t.seed_kind === 'curated'
              ? String(seed!.meta.title ?? seed!.meta.unit)
              : seed!.text.slice(0, 80);
        expect(prompt).toContain(material);
        rendered++;
      }
    }
    expect(rendered).toBeGreaterThan(80);
  });

  it('an audience changes the instructions, not just a word', () => {
    for (const t of set.templates) {
      const seed = seeds.find((s) => fits(t, s))!;
      for (let i = 0; i < t.audiences.length; i++)
        for (let j = i + 1; j < t.audiences.length; j++) {
          const a = words(fill(t, set, seed, t.audiences[i]!));
          const b = words(fill(t, set, seed, t.audiences[j]!));
          const differing = [...a].filter((w) => !b.has(w)).length + [...b].filter((w) => !a.has(w)).length;
          // An outline has no prose to change the register of: only its reader and vocabulary differ.
          expect(differing, `${t.id}: ${t.audiences[i]} vs ${t.audiences[j]}`).toBeGreaterThanOrEqual(t.format === 'outline' ? 10 : 25);
        }
    }
  });

  it('the topic and the language show in the prompt when asked for', () => {
    const t = set.templates.find((x) => x.id === 'web.blogpost')!;
    const seed = seeds.find((s) => fits(t, s))!;
    const p = fill(t, set, seed, 'general', 'de', 'personal finance');
    expect(p).toContain(', within the context of "personal finance"');
    expect(p).toContain('Write the whole text in German.');
    expect(fill(t, set, seed, 'general')).not.toContain('within the context of');
  });
});

describe('user templates', () => {
  function folder(files: Record<string, string>): string {
    const dir = mkdtempSync(join(tmpdir(), 'cosmo-templates-'));
    for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
    return dir;
  }

  it('a template with a built-in id overrides it, a new one adds a format, and new audiences merge', () => {
    const dir = folder({
      'mine.yaml': `templates:
  - id: web.blogpost
    version: 7
    seed_kind: web
    format: blogpost
    text: "My own blog prompt for {{reader}}{{topic_clause}}. {{rules}}{{language_clause}}\\n\\n{{text}}"
  - id: web.faq
    version: 1
    seed_kind: web
    format: faq
    audiences: [parents]
    text: "Write an FAQ for {{reader}}{{topic_clause}}. {{rules}}{{language_clause}}\\n\\n{{text}}"
`,
      'people.yaml': `audiences:
  parents: { reader: parents of school children, style: s, vocabulary: v, depth: d, avoid: a }
`,
    });
    const set = loadTemplates([dir]);
    const blog = set.templates.find((t) => t.id === 'web.blogpost')!;
    expect(blog.version).toBe(7);
    expect(blog.file).toBe(join(dir, 'mine.yaml'));
    expect(set.templates.find((t) => t.id === 'web.faq')!.audiences).toEqual(['parents']);
    expect(set.audiences.parents!.reader).toBe('parents of school children');
    expect(set.templates.length).toBe(loadTemplates().templates.length + 1);
  });

  it('a template without the rules, or for an audience with no profile, is refused with its file and id', () => {
    const noRules = folder({ 'bad.yaml': 'templates:\n  - {id: x.y, version: 1, seed_kind: web, format: blogpost, text: "{{text}}{{topic_clause}}{{language_clause}}"}\n' });
    expect(() => loadTemplates([noRules])).toThrow(/bad\.yaml: template x\.y must use \{\{rules\}\}/);
    const badAudience = folder({
      'bad.yaml': 'templates:\n  - {id: x.z, version: 1, seed_kind: web, format: blogpost, audiences: [aliens], text: "{{rules}}{{topic_clause}}{{language_clause}}"}\n',
    });
    expect(() => loadTemplates([badAudience])).toThrow(/template x\.z names audience "aliens"/);
    const unclosed = folder({ 'bad.yaml': 'templates:\n  - {id: x.w, version: 1, seed_kind: web, format: blogpost, text: "{{#reference}}{{rules}}"}\n' });
    expect(() => loadTemplates([unclosed])).toThrow(/never closed/);
  });
});

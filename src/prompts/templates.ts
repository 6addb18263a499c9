import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { SEED_KINDS, type SeedRecord } from '../records/types.js';
import { CosmoError } from '../util/errors.js';
import { shippedDir } from '../util/shipped.js';
import { languageClause, languageName } from './languages.js';

/** Formats the shipped templates write (users may add more in their own templates). */
export const FORMATS = [
  'textbook_academic',
  'textbook_narrative',
  'blogpost',
  'wikihow',
  'educational_piece',
  'story_children',
  'story_morality',
  'story_problem_solving',
  'story_forum',
  'story_reddit',
  'outline',
] as const;

export const AUDIENCES = ['young_children', 'high_school', 'college', 'researchers', 'general'] as const;

/** Slots a template must use, so that every prompt carries the rules and can be conditioned. */
export const REQUIRED_SLOTS = ['rules', 'topic_clause', 'language_clause'] as const;
const AUDIENCE_SLOTS = new Set(['reader', 'style', 'vocabulary', 'depth', 'avoid', 'genre', 'genre_style', 'notation']);
const BUILD_SLOTS = new Set(['rules', 'topic_clause', 'language_clause', 'topic', 'language', 'reference']);

const profileSchema = z.strictObject({
  reader: z.string(),
  style: z.string(),
  vocabulary: z.string(),
  depth: z.string(),
  avoid: z.string(),
  /**
   * What a curated unit becomes for this reader (Cosmopedia's OpenStax lesson: the audience changes the
   * genre, e.g. an e-learning module with characters for children, a journal article for researchers)…
   */
  genre: z.string().default('a detailed textbook unit'),
  /** …and how that genre is written. */
  genre_style: z.string().default(''),
  /** How to write formulas for this reader: LaTeX where the audience reads it, none for children. */
  notation: z.string().default(''),
});
export type AudienceProfile = z.infer<typeof profileSchema>;

const templateSchema = z.strictObject({
  id: z.string().regex(/^[\w.-]+$/),
  version: z.number().int().positive(),
  seed_kind: z.enum(SEED_KINDS),
  format: z.string().regex(/^[\w-]+$/),
  /** Audiences it can write for; default: all profiles. */
  audiences: z.array(z.string()).optional(),
  /** required: the seed text is the reference; optional: drawn per prompt; none: titles only. */
  reference: z.enum(['required', 'optional', 'none']).default('required'),
  /** Seed meta fields the template needs, as regular expressions (e.g. {shape: unit}). */
  match: z.record(z.string(), z.string()).default({}),
  max_tokens: z.number().int().positive().optional(),
  text: z.string().min(1),
});

/** A rule is its sentence, for every format, or the sentence with the formats it is limited to or spared. */
const ruleSchema = z.union([
  z.string(),
  z.strictObject({ text: z.string(), formats: z.array(z.string()).optional(), except: z.array(z.string()).optional() }),
]);
export type Rule = z.infer<typeof ruleSchema>;

const fileSchema = z.union([
  z.strictObject({ family: z.string().optional(), templates: z.array(z.unknown()) }),
  z.strictObject({ version: z.number().optional(), audiences: z.record(z.string(), profileSchema) }),
  z.strictObject({
    version: z.number().optional(),
    rules: z.record(z.string(), ruleSchema).default({}),
    /** Openers a model overuses, by format; `all` applies to every format and a format's list adds to it. */
    openers: z.record(z.string(), z.array(z.string())).default({}),
  }),
]);

type Node = { t: 'lit'; s: string } | { t: 'slot'; name: string } | { t: 'sec'; name: string; inv: boolean; body: Node[] };

export interface Template {
  id: string;
  version: number;
  seed_kind: SeedRecord['kind'];
  format: string;
  audiences: string[];
  reference: 'required' | 'optional' | 'none';
  match: [string, RegExp][];
  max_tokens?: number;
  text: string;
  /** The file it was read from, for error messages. */
  file: string;
  nodes: Node[];
  /** Seed slots used outside sections: a seed lacking one cannot fill this template. */
  seedSlots: string[];
}

export interface TemplateSet {
  templates: Template[];
  audiences: Record<string, AudienceProfile>;
  rules: Record<string, Rule>;
  openers: Record<string, string[]>;
}


/** Parse `{{slot}}`, `{{#section}}…{{/section}}` and `{{^inverted}}…{{/inverted}}`. */
export function compile(source: string, where: string): Node[] {
  // A section tag alone on its line takes the line with it (as in Mustache), so empty sections leave no blank lines.
  const text = source.replace(/^[ \t]*(\{\{\s*[#^/]\s*[\w.]+\s*\}\})[ \t]*\n/gm, '$1');
  const re = /\{\{\s*([#^/]?)\s*([\w.]+)\s*\}\}/g;
  const root: Node[] = [];
  const stack: { name: string; body: Node[] }[] = [{ name: '', body: root }];
  let last = 0;
  for (let m; (m = re.exec(text)); ) {
    const body = stack.at(-1)!.body;
    if (m.index > last) body.push({ t: 'lit', s: text.slice(last, m.index) });
    last = re.lastIndex;
    const [, sigil, name] = m as unknown as [string, string, string];
    if (sigil === '#' || sigil === '^') {
      const sec: Node = { t: 'sec', name, inv: sigil === '^', body: [] };
      body.push(sec);
      stack.push({ name, body: sec.body });
    } else if (sigil === '/') {
      if (stack.length === 1 || stack.at(-1)!.name !== name) throw new CosmoError(`${where}: {{/${name}}} closes no open section`);
      stack.pop();
    } else body.push({ t: 'slot', name });
  }
  if (stack.length > 1) throw new CosmoError(`${where}: section {{#${stack.at(-1)!.name}}} is never closed`);
  if (last < text.length) root.push({ t: 'lit', s: text.slice(last) });
  return root;
}

function slotsOutsideSections(nodes: Node[]): string[] {
  return nodes.flatMap((n) => (n.t === 'slot' ? [n.name] : []));
}

function allSlots(nodes: Node[]): Set<string> {
  const out = new Set<string>();
  const walk = (ns: Node[]) => {
    for (const n of ns) {
      if (n.t === 'slot') out.add(n.name);
      else if (n.t === 'sec') walk(n.body);
    }
  };
  walk(nodes);
  return out;
}

function yamlFiles(dir: string): string[] {
  if (!existsSync(dir)) throw new CosmoError(`templates folder not found: ${dir}`);
  if (!statSync(dir).isDirectory()) return [dir];
  return readdirSync(dir)
    .filter((f) => /\.ya?ml$/.test(f) && !f.startsWith('.'))
    .sort()
    .map((f) => join(dir, f));
}

function zodProblems(err: z.ZodError): string {
  return err.issues.map((i) => `${i.path.join('.') || '(top level)'}: ${i.message}`).join('; ');
}

/**
 * Load templates, audience profiles and rules from the built-in folder, then from each user folder in
 * order: a later template with the same id replaces the earlier one, profiles and rules merge by name.
 */
export function loadTemplates(userDirs: string[] = []): TemplateSet {
  const byId = new Map<string, Template>();
  const audiences: Record<string, AudienceProfile> = {};
  const rules: Record<string, Rule> = {};
  const openers: Record<string, string[]> = {};
  for (const dir of [shippedDir('prompts'), ...userDirs.map((d) => resolve(d))]) {
    for (const file of yamlFiles(dir)) {
      let raw: unknown;
      try {
        raw = parseYaml(readFileSync(file, 'utf8'));
      } catch (err) {
        throw new CosmoError(`${file}: YAML syntax error: ${(err as Error).message.split('\n')[0]}`);
      }
      const parsed = fileSchema.safeParse(raw);
      if (!parsed.success)
        throw new CosmoError(`${file}: not a template file (expected "templates", "audiences" or "rules"): ${zodProblems(parsed.error)}`);
      const data = parsed.data;
      if ('audiences' in data) Object.assign(audiences, data.audiences);
      else if ('rules' in data) {
        Object.assign(rules, data.rules);
        // A later file adds openers to a format's list rather than replacing it.
        for (const [format, list] of Object.entries(data.openers)) openers[format] = [...new Set([...(openers[format] ?? []), ...list])];
      }
      else
        data.templates.forEach((t, i) => {
          const r = templateSchema.safeParse(t);
          const name = `${file}: template ${(t as { id?: string })?.id ?? `#${i + 1}`}`;
          if (!r.success) throw new CosmoError(`${name}: ${zodProblems(r.error)}`);
          const nodes = compile(r.data.text, name);
          byId.set(r.data.id, {
            ...r.data,
            audiences: r.data.audiences ?? [],
            match: Object.entries(r.data.match).map(([k, v]) => [k, new RegExp(`^(?:${v})$`)]),
            file,
            nodes,
            seedSlots: slotsOutsideSections(nodes).filter((s) => !AUDIENCE_SLOTS.has(s) && !BUILD_SLOTS.has(s)),
          });
        });
    }
  }
  const templates = [...byId.values()].sort((a, b) => a.id.localeCompare(b.id));
  for (const t of templates) {
    if (t.audiences.length === 0) t.audiences = Object.keys(audiences);
    const slots = allSlots(t.nodes);
    const missing = REQUIRED_SLOTS.filter((s) => !slots.has(s));
    if (missing.length) throw new CosmoError(`${t.file}: template ${t.id} must use ${missing.map((s) => `{{${s}}}`).join(', ')}`);
    for (const a of t.audiences)
      if (!audiences[a]) throw new CosmoError(`${t.file}: template ${t.id} names audience "${a}", which has no profile in audiences.yaml`);
  }
  return { templates, audiences, rules, openers };
}

const applies = (r: Rule, format: string) =>
  typeof r === 'string' || ((!r.formats || r.formats.includes(format)) && !r.except?.includes(format));

/** The openers banned for a format: the shared ones, then the format's own. */
export function bannedOpeners(set: TemplateSet, format: string): string[] {
  return [...new Set([...(set.openers['all'] ?? []), ...(set.openers[format] ?? [])])];
}

/**
 * The `{{rules}}` text of a format: every rule that applies to it, then one sentence naming its banned
 * openers. Rules are per format so that, say, an outline is not told to avoid the headings it consists of.
 */
export function rulesFor(set: TemplateSet, format: string): string {
  const parts = Object.values(set.rules)
    .filter((r) => applies(r, format))
    .map((r) => (typeof r === 'string' ? r : r.text));
  const bans = bannedOpeners(set, format);
  if (bans.length)
    parts.push(`Do not begin with ${bans.map((o) => `"${o}"`).join(', ')} or any other stock opening line; be creative.`);
  return parts.join(' ');
}

/** Everything a template's slots can be filled from. Lists render as "a", "b", "c". */
export type SlotValues = Record<string, string | string[] | boolean | undefined>;

const renderValue = (v: SlotValues[string]): string =>
  Array.isArray(v) ? v.map((x) => `"${x}"`).join(', ') : typeof v === 'string' ? v : '';

const truthy = (v: SlotValues[string]) => (Array.isArray(v) ? v.length > 0 : !!v);

/** The first layer that has the slot wins: per-prompt choices, then the seed, then the audience and build. */
function lookup(layers: SlotValues[], name: string): SlotValues[string] {
  for (const l of layers) {
    const v = l[name];
    if (v !== undefined) return v;
  }
  return undefined;
}

function renderNodes(nodes: Node[], layers: SlotValues[], out: string[]): void {
  for (const n of nodes) {
    if (n.t === 'lit') out.push(n.s);
    else if (n.t === 'slot') out.push(renderValue(lookup(layers, n.name)));
    else if (truthy(lookup(layers, n.name)) !== n.inv) renderNodes(n.body, layers, out);
  }
}

/** Fill a template from one or more layers of slot values (earlier layers win). */
export function render(t: Template, ...layers: SlotValues[]): string {
  const out: string[] = [];
  renderNodes(t.nodes, layers, out);
  const text = out.join('');
  // Templates end in a newline; trimming only when needed avoids copying every prompt.
  return text.charCodeAt(0) > 32 && text.charCodeAt(text.length - 1) > 32 ? text : text.trim();
}

/** Whether a seed can fill a template: same kind, meta matching, and every slot it needs present. */
export function fits(t: Template, seed: SeedRecord): boolean {
  if (t.seed_kind !== seed.kind) return false;
  for (const [k, re] of t.match) {
    const v = seed.meta[k];
    if (typeof v !== 'string' || !re.test(v)) return false;
  }
  for (const s of t.seedSlots) {
    if (s === 'text') continue;
    const v = seed.meta[s];
    if (v === undefined || v === '' || (Array.isArray(v) && v.length === 0)) return false;
  }
  return true;
}

/** The slot values every prompt of one format × audience × language shares: the profile, the rules, the language. */
export function cellValues(set: TemplateSet, format: string, audience: string, language: string): SlotValues {
  return {
    ...set.audiences[audience]!,
    rules: rulesFor(set, format),
    language: languageName(language),
    language_clause: languageClause(language),
  };
}

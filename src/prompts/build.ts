import { createHash } from 'node:crypto';
import type { PromptRecord, SeedRecord } from '../records/types.js';
import { CosmoError } from '../util/errors.js';
import type { BalanceRule, MixEntry, PromptsConfig, Weighted } from './config.js';
import { languageName } from './languages.js';
import { Rng, apportion } from './rng.js';
import { cellValues, fits, render, type SlotValues, type Template, type TemplateSet } from './templates.js';

/** The format a source is written in when the corpus file gives no mix. */
const DEFAULT_FORMATS: Record<string, string[]> = {
  web: ['textbook_academic'],
  unit: ['textbook_academic'],
  title: ['wikihow'],
  course: ['outline'],
  instruct: ['story_children', 'story_morality', 'story_problem_solving'],
  math: ['educational_piece'],
  kb: ['textbook_academic'],
};

export interface BuildOptions {
  templates: TemplateSet;
  /** The corpus seed: every random choice derives from it. */
  seed: number;
}

export interface Shortfall {
  cell: string;
  requested: number;
  built: number;
  reason: string;
}

export interface BuildReport {
  requested: number;
  built: number;
  /** Prompts drawn that repeated an earlier prompt exactly; they are not written. */
  duplicates_removed: number;
  /** Prompts equal to an earlier one after normalising the seed (case, punctuation, digits); kept, but reported. */
  near_duplicates: number;
  near_duplicate_examples: { id: string; like: string }[];
  /** Draws refused because their balance group was full. */
  capped: number;
  /** Mix cells that ran out of distinct prompts before their quota. */
  shortfalls: Shortfall[];
  /** Configured share of each format, audience, language and seed kind (from the mix weights). */
  expected: Record<'format' | 'audience' | 'language' | 'kind', Record<string, number>>;
}

/** What shaped one prompt; the text is rendered from it on demand, so 100,000s of prompts need little memory. */
interface Recipe {
  id: string;
  template: Template;
  seed: number;
  cell: Cell;
  topic: string | undefined;
  reference: boolean;
  /** Template, audience, language and reference flag: prompts with the same prefix key share a long text prefix. */
  prefix: string;
}

/** The built prompts, sorted so that prompts sharing a template prefix are adjacent. */
export interface BuildResult {
  size: number;
  report: BuildReport;
  /** Prompt `i` of the sorted set. */
  record(i: number): PromptRecord;
  /** Prompts `start` to `end` (exclusive) of the sorted set. */
  records(start?: number, end?: number): Generator<PromptRecord>;
}

interface Cell {
  key: string;
  entry: number;
  format: string;
  audience: string;
  language: string;
  kind: string;
  weight: number;
  templates: Template[];
  pool: number[];
  /** Cells with the same entry and pool key draw from the same seeds. */
  poolKey: string;
  /** Audience, rules and language slot values, filled when the cell is sampled. */
  values?: SlotValues;
}

/** A weights spec as [name, weight] pairs. */
export function weights(w: Weighted): [string, number][] {
  if (typeof w === 'string') return [[w, 1]];
  if (Array.isArray(w)) return w.map((x) => [x, 1]);
  return Object.entries(w);
}

const seedShape = (s: SeedRecord) => (s.kind === 'curated' ? String(s.meta.shape ?? 'unit') : s.kind);

/** Without a configured mix: each source in its natural format(s), weighted by its number of seeds. */
export function defaultMix(seeds: SeedRecord[]): MixEntry[] {
  const bySource = new Map<string, { kind: SeedRecord['kind']; shapes: Map<string, number>; n: number }>();
  for (const s of seeds) {
    let e = bySource.get(s.source);
    if (!e) bySource.set(s.source, (e = { kind: s.kind, shapes: new Map(), n: 0 }));
    e.n++;
    const shape = seedShape(s);
    e.shapes.set(shape, (e.shapes.get(shape) ?? 0) + 1);
  }
  const out: MixEntry[] = [];
  for (const [source, e] of bySource) {
    for (const [shape, n] of e.shapes) {
      out.push({ source, kind: e.kind, format: DEFAULT_FORMATS[shape] ?? ['textbook_academic'], weight: n, ...(e.kind === 'curated' ? { match: { shape } } : {}) });
    }
  }
  return out;
}

/** The group a seed belongs to under a balance rule; seeds without a value are in no group, so never capped. */
function groupOf(rule: BalanceRule, s: SeedRecord): string | undefined {
  const by = rule.by.replace(/^meta\./, '');
  if (by === 'source') return s.source;
  if (by === 'kind') return s.kind;
  const v = s.meta[by];
  return v === undefined || v === null || v === '' ? undefined : String(v);
}

function matchesEntry(e: MixEntry, s: SeedRecord, match: [string, RegExp][], sources: Set<string> | undefined): boolean {
  if (e.kind && s.kind !== e.kind) return false;
  if (sources && !sources.has(s.source)) return false;
  for (const [k, re] of match) if (!re.test(String(s.meta[k] ?? ''))) return false;
  return true;
}

/** Expand the mix into cells (entry × format × audience × language), each with its templates and seed pool. */
function planCells(seeds: SeedRecord[], cfg: PromptsConfig, set: TemplateSet): Cell[] {
  const mix = cfg.mix ?? defaultMix(seeds);
  const languages = weights(cfg.languages);
  for (const [code] of languages) languageName(code);
  const langSum = languages.reduce((a, [, w]) => a + w, 0);
  const cells: Cell[] = [];
  mix.forEach((e, ei) => {
    const where = `prompts.mix[${ei}]`;
    const sources = e.source === undefined ? undefined : new Set(typeof e.source === 'string' ? [e.source] : e.source);
    const match = Object.entries(e.match ?? {}).map(([k, v]) => [k, new RegExp(`^(?:${v})$`)] as [string, RegExp]);
    const candidates = seeds.map((_, i) => i).filter((i) => matchesEntry(e, seeds[i]!, match, sources));
    const formats = weights(e.format);
    const pools = new Map<string, number[]>();
    const formatSum = formats.reduce((a, [, w]) => a + w, 0);
    for (const [format, fw] of formats) {
      const ts = set.templates.filter(
        (t) => t.format === format && (!e.kind || t.seed_kind === e.kind) && (!e.templates || e.templates.includes(t.id)),
      );
      if (ts.length === 0) throw new CosmoError(`${where}: no template writes format "${format}"${e.kind ? ` for ${e.kind} seeds` : ''}`);
      const supported = new Set(ts.flatMap((t) => t.audiences));
      let audiences = e.audience ? weights(e.audience) : weights(cfg.audiences).filter(([a]) => supported.has(a));
      if (e.audience) {
        const bad = audiences.filter(([a]) => !supported.has(a)).map(([a]) => a);
        if (bad.length)
          throw new CosmoError(`${where}: no ${format} template writes for ${bad.join(', ')}; its templates support ${[...supported].join(', ')}`);
      }
      if (audiences.length === 0) audiences = [...supported].map((a) => [a, 1]);
      const audSum = audiences.reduce((a, [, w]) => a + w, 0);
      for (const [audience, aw] of audiences) {
        const templates = ts.filter((t) => t.audiences.includes(audience));
        const poolKey = templates.map((t) => t.id).join(',');
        let pool = pools.get(poolKey);
        if (!pool) pools.set(poolKey, (pool = candidates.filter((i) => templates.some((t) => fits(t, seeds[i]!)))));
        if (pool.length === 0)
          throw new CosmoError(
            `${where}: no seed fits a ${format} template (${templates.map((t) => t.id).join(', ')}); check the entry's kind, source and match`,
          );
        const kinds = new Set(templates.map((t) => t.seed_kind));
        for (const [language, lw] of languages) {
          cells.push({
            key: `${ei}/${format}/${audience}/${language}`,
            entry: ei,
            format,
            audience,
            language,
            kind: kinds.size === 1 ? templates[0]!.seed_kind : 'mixed',
            weight: (e.weight * fw * aw * lw) / (formatSum * audSum * langSum),
            templates,
            pool,
            poolKey,
          });
        }
      }
    }
  });
  return cells;
}

/**
 * A prompt's id: stableId over everything that shaped it. The parts are all primitives, for which
 * canonical JSON is plain JSON, so this is stableId without its per-value replacer (the hot path).
 */
export function promptId(t: Template, seed: SeedRecord, cell: Pick<Cell, 'format' | 'audience' | 'language'>, topic: string | undefined, reference: boolean): string {
  const parts = ['prompt', t.id, t.version, seed.id, cell.format, cell.audience, cell.language, topic ?? null, reference];
  return createHash('sha256').update(JSON.stringify(parts)).digest('hex').slice(0, 16);
}

/**
 * A fast 53-bit hash (cyrb53) over the length, every third character and the whole tail of a prompt.
 * Equal prompts always hash equal; the rare different prompts that collide are told apart by comparing
 * the texts, so duplicate removal stays exact while hashing reads a third of each prompt.
 */
function sampledHash(s: string): number {
  let h1 = 0xdeadbeef ^ s.length;
  let h2 = 0x41c6ce57 ^ s.length;
  const tail = Math.max(0, s.length - 256);
  for (let i = 0; i < s.length; i += i < tail ? 3 : 1) {
    const c = s.charCodeAt(i);
    h1 = Math.imul(h1 ^ c, 2654435761);
    h2 = Math.imul(h2 ^ c, 1597334677);
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507) ^ Math.imul(h2 ^ (h2 >>> 13), 3266489909);
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507) ^ Math.imul(h1 ^ (h1 >>> 13), 3266489909);
  return 4294967296 * (2097151 & h2) + (h1 >>> 0);
}

/** A small integer per distinct value, so that composite keys can be numbers rather than strings. */
class Interner {
  private readonly ids = new Map<string, number>();
  id(value: string): number {
    let id = this.ids.get(value);
    if (id === undefined) this.ids.set(value, (id = this.ids.size));
    return id;
  }
}

const hash = (s: string) => createHash('sha1').update(s).digest('base64');
const normalise = (s: string) =>
  s
    .toLowerCase()
    .replace(/[^\p{L}]+/gu, ' ')
    .trim();

/** Slot values a seed contributes: its text and its string/list meta fields. */
function seedValues(s: SeedRecord): SlotValues {
  const v: SlotValues = { text: s.text };
  for (const [k, x] of Object.entries(s.meta)) {
    if (typeof x === 'string') v[k] = x;
    else if (Array.isArray(x) && x.every((y) => typeof y === 'string')) v[k] = x as string[];
  }
  return v;
}

/**
 * Build prompts from seeds: the mix becomes cells with exact quotas, each cell draws seeds with a seeded
 * sampler (under the balance rules), fills its templates, and drops exact duplicates. Same inputs, same output.
 */
export function buildPrompts(seeds: SeedRecord[], cfg: PromptsConfig, opts: BuildOptions): BuildResult {
  const set = opts.templates;
  const cells = planCells(seeds, cfg, set);
  const count = cfg.count ?? seeds.length;
  const quotas = apportion(
    count,
    cells.map((c) => c.weight),
  );
  const caps = cfg.balance.map((r) => Math.min(r.max ?? Infinity, r.max_share !== undefined ? Math.floor(r.max_share * count) : Infinity));
  const used = cfg.balance.map(() => new Map<string, number>());
  const primary = cfg.balance.find((r) => r.mode === 'even' || r.boost) ?? cfg.balance[0];
  const normSeed = new Map<number, number>();
  const near = new Map<number, string>();
  const [prefixIds, topicIds, normIds] = [new Interner(), new Interner(), new Interner()];
  const walks = new Map<string, { order: number[]; next: number }>();
  const report: BuildReport = {
    requested: count,
    built: 0,
    duplicates_removed: 0,
    near_duplicates: 0,
    near_duplicate_examples: [],
    capped: 0,
    shortfalls: [],
    expected: { format: {}, audience: {}, language: {}, kind: {} },
  };
  const totalWeight = cells.reduce((a, c) => a + c.weight, 0);
  for (const c of cells)
    for (const dim of ['format', 'audience', 'language', 'kind'] as const)
      report.expected[dim][c[dim]] = (report.expected[dim][c[dim]] ?? 0) + c.weight / totalWeight;

  const recipes: Recipe[] = [];
  // Hash → recipe index (or indices, on a hash collision) of every prompt kept so far.
  const kept = new Map<number, number | number[]>();
  const seedSlots: SlotValues[] = [];
  const textOf = (r: Recipe): string => {
    const seed = seeds[r.seed]!;
    const sv = (seedSlots[r.seed] ??= seedValues(seed));
    return render(
      r.template,
      {
        topic: r.topic,
        topic_clause: r.topic ? `, within the context of "${r.topic}"` : '',
        reference: r.reference ? (typeof seed.meta.reference === 'string' ? seed.meta.reference : seed.text) : false,
      },
      sv,
      r.cell.values!,
    );
  };
  const isDuplicate = (prompt: string, h: number): boolean => {
    const prev = kept.get(h);
    if (prev === undefined) return false;
    for (const i of typeof prev === 'number' ? [prev] : prev) if (textOf(recipes[i]!) === prompt) return true;
    return false;
  };
  const keep = (h: number, index: number) => {
    const prev = kept.get(h);
    kept.set(h, prev === undefined ? index : typeof prev === 'number' ? [prev, index] : [...prev, index]);
  };

  cells.forEach((cell, ci) => {
    const quota = quotas[ci]!;
    if (quota === 0) return;
    const rng = new Rng(opts.seed, 'prompts', cell.key);
    // Prefix keys of this cell's prompts, by template and reference flag.
    const prefixes = new Map<string, { text: string; id: number }>();
    cell.values = cellValues(set, cell.format, cell.audience, cell.language);
    // Groups of the primary balance rule (one group without rules), each cycled in a seeded order.
    const byGroup = new Map<string, number[]>();
    for (const i of cell.pool) {
      const g = (primary && groupOf(primary, seeds[i]!)) ?? '';
      let list = byGroup.get(g);
      if (!list) byGroup.set(g, (list = []));
      list.push(i);
    }
    const groups = [...byGroup.entries()].map(([name, members]) => {
      // Cells of one mix entry share each group's seeded order and carry on where the previous cell
      // stopped, so the entry covers as many different seeds as its quota allows before repeating one.
      const walkKey = `${cell.entry}\u0000${cell.poolKey}\u0000${name}`;
      let walk = walks.get(walkKey);
      if (!walk) walks.set(walkKey, (walk = { order: new Rng(opts.seed, 'walk', walkKey).shuffle(members), next: 0 }));
      return {
        name,
        walk,
        order: walk.order,
        cursor: walk.next,
        drawn: 0,
        freshThisPass: 0,
        barrenPasses: 0,
        weight: (primary?.mode === 'even' ? 1 : members.length) * (primary?.boost?.[name] ?? 1),
      };
    });
    let active = groups.slice();
    let cumulative: number[] = [];
    const reweigh = () => {
      let acc = 0;
      cumulative = active.map((g) => (acc += g.weight));
    };
    reweigh();
    let built = 0;
    let attempts = 0;
    const maxAttempts = quota * 20 + cell.pool.length * 4;
    while (built < quota && active.length > 0 && attempts++ < maxAttempts) {
      // Pick a group by weight (binary search on the cumulative weights).
      const r = rng.next() * cumulative.at(-1)!;
      let lo = 0;
      let hi = cumulative.length - 1;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (cumulative[mid]! > r) hi = mid;
        else lo = mid + 1;
      }
      const g = active[lo]!;
      const si = g.order[g.cursor]!;
      g.cursor = (g.cursor + 1) % g.order.length;
      if (++g.drawn === g.order.length) {
        g.drawn = 0;
        // Three whole passes in a row with nothing new: this group has no distinct prompts left.
        g.barrenPasses = g.freshThisPass === 0 ? g.barrenPasses + 1 : 0;
        if (g.barrenPasses === 3) {
          active = active.filter((x) => x !== g);
          reweigh();
        }
        g.freshThisPass = 0;
      }
      const seed = seeds[si]!;
      const keys = cfg.balance.map((rule) => groupOf(rule, seed));
      if (keys.some((k, ri) => k !== undefined && (used[ri]!.get(k) ?? 0) >= caps[ri]!)) {
        report.capped++;
        if (primary && g.name !== '' && (used[cfg.balance.indexOf(primary)]!.get(g.name) ?? 0) >= caps[cfg.balance.indexOf(primary)]!) {
          active = active.filter((x) => x !== g);
          reweigh();
        }
        continue;
      }
      const fitting = cell.templates.length === 1 ? cell.templates : cell.templates.filter((t) => fits(t, seed));
      const template = fitting.length === 1 ? fitting[0]! : fitting[rng.int(fitting.length)]!;
      let topic: string | undefined;
      if (rng.next() < cfg.topic_probability) {
        const own = seed.meta.topic;
        // Only the seed's own topic (its field, its cluster's label, or the list entry it matched).
        topic = typeof own === 'string' && own ? own : undefined;
      }
      const reference =
        template.reference === 'required' ||
        (template.reference === 'optional' && typeof seed.meta.reference === 'string' && rng.next() < cfg.reference_probability);
      const prefixKey = `${template.id}\u0000${reference ? 1 : 0}`;
      let prefix = prefixes.get(prefixKey);
      if (!prefix) {
        const text = `${template.id}\u0000${cell.audience}\u0000${cell.language}\u0000${reference ? 1 : 0}`;
        prefixes.set(prefixKey, (prefix = { text, id: prefixIds.id(text) }));
      }
      const recipe: Recipe = { id: '', template, seed: si, cell, topic, reference, prefix: prefix.text };
      const prompt = textOf(recipe);
      const h = sampledHash(prompt);
      if (isDuplicate(prompt, h)) {
        report.duplicates_removed++;
        continue;
      }
      recipe.id = promptId(template, seed, cell, topic, reference);
      keep(h, recipes.length);
      recipes.push(recipe);
      let ns = normSeed.get(si);
      if (ns === undefined) normSeed.set(si, (ns = normIds.id(hash(normalise(seed.text)))));
      // prefix (< 2^12 values) × topic (< 2^16) × normalised seed text (< 2^25): one exact number.
      const nearKey = (prefix.id * 65536 + topicIds.id(topic ?? '')) * 33554432 + ns;
      const like = near.get(nearKey);
      if (like !== undefined) {
        report.near_duplicates++;
        if (report.near_duplicate_examples.length < 20) report.near_duplicate_examples.push({ id: recipe.id, like });
      } else near.set(nearKey, recipe.id);
      g.freshThisPass++;
      built++;
      keys.forEach((k, ri) => k !== undefined && used[ri]!.set(k, (used[ri]!.get(k) ?? 0) + 1));
    }
    for (const g of groups) g.walk.next = g.cursor;
    if (built < quota)
      report.shortfalls.push({
        cell: `${cell.kind} × ${cell.format} × ${cell.audience} × ${cell.language} (mix entry ${cell.entry})`,
        requested: quota,
        built,
        reason: active.length === 0 ? 'every seed in the pool was used up or capped' : 'too many duplicate draws',
      });
  });
  // Prompts sharing a template prefix sit together, so a server's prefix cache serves them in a row.
  // Prompts sharing a template prefix sit together, so a server's prefix cache serves them in a row.
  const groups = new Map<string, Recipe[]>();
  for (const r of recipes) {
    let g = groups.get(r.prefix);
    if (!g) groups.set(r.prefix, (g = []));
    g.push(r);
  }
  // Within a group, the (seeded, deterministic) order in which the prompts were drawn.
  const sorted = [...groups.keys()].sort().flatMap((k) => groups.get(k)!);
  report.built = sorted.length;
  const record = (i: number): PromptRecord => {
    const r = sorted[i]!;
    const seed = seeds[r.seed]!;
    return {
      id: r.id,
      prompt: textOf(r),
      seed_id: seed.id,
      seed_data: seed.text,
      seed_source: seed.source,
      format: r.cell.format,
      audience: r.cell.audience,
      ...(r.topic ? { topic: r.topic } : {}),
      template_id: r.template.id,
      template_version: r.template.version,
      language: r.cell.language,
      ...(r.template.max_tokens ? { max_tokens: r.template.max_tokens } : {}),
    };
  };
  return {
    size: sorted.length,
    report,
    record,
    *records(start = 0, end = sorted.length) {
      for (let i = start; i < Math.min(end, sorted.length); i++) yield record(i);
    },
  };
}

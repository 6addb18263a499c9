import { createHash } from 'node:crypto';
import { resolve } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/pipeline/corpus.js';
import { corpusEnv, resolvePath } from '../../src/pipeline/env.js';
import type { z } from 'zod';
import { promptsSchema } from '../../src/prompts/config.js';
import { buildPrompts, type BuildResult } from '../../src/prompts/build.js';
import { buildFromSeeds } from '../../src/prompts/stage.js';
import { matchTopics } from '../../src/prompts/topics.js';
import { promptStats } from '../../src/prompts/stats.js';
import { loadTemplates } from '../../src/prompts/templates.js';
import type { PromptRecord, SeedRecord } from '../../src/records/types.js';
import { seedSourceSchema } from '../../src/seeds/config.js';
import { loadSeeds } from '../../src/seeds/load.js';
import { hasSharedData, sharedPath, SHARED_DATA } from '../helpers/shared-data.js';

const templates = loadTemplates();
const sha = (s: string) => createHash('sha256').update(s).digest('hex');

async function seedsOf(src: Record<string, unknown>): Promise<SeedRecord[]> {
  const cfg = seedSourceSchema.parse(src);
  const out: SeedRecord[] = [];
  for await (const s of loadSeeds(cfg, cfg.path)) out.push(s);
  return out;
}

const build = (seeds: SeedRecord[], prompts: z.input<typeof promptsSchema>, seed = 42) => buildPrompts(seeds, promptsSchema.parse(prompts), { templates, seed });

const all = (r: BuildResult): PromptRecord[] => [...r.records()];

describe.runIf(hasSharedData)('prompts-100k: the real seed files give 100,000 distinct prompts', () => {
  const cfg = loadConfig(resolve(import.meta.dirname, '../../examples/prompts-100k.yaml'));
  for (const s of cfg.seeds) s.path = s.path.replace(/^(\.\.\/)+shared\/data/, SHARED_DATA);
  let seeds: SeedRecord[];
  let result: BuildResult;
  let digest: string;
  beforeAll(async () => {
    seeds = [];
    for (const src of cfg.seeds) for await (const s of loadSeeds(src, resolvePath(cfg, src.path))) seeds.push(s);
    result = await buildFromSeeds(cfg.prompts, corpusEnv(cfg), seeds);
    const h = createHash('sha256');
    for (const p of result.records()) h.update(JSON.stringify(p) + '\n');
    digest = h.digest('hex');
  }, 120_000);

  it('builds 100,000 prompts, none an exact duplicate, each from a real seed and a real template', () => {
    expect(result.size).toBe(100_000);
    const byId = new Map(seeds.map((s) => [s.id, s]));
    const ids = new Set<string>();
    const texts = new Set<string>();
    const templateIds = new Set(templates.templates.map((t) => t.id));
    for (const p of result.records()) {
      ids.add(p.id);
      texts.add(sha(p.prompt));
      const seed = byId.get(p.seed_id);
      expect(seed).toBeDefined();
      expect(p.seed_data).toBe(seed!.text);
      expect(p.seed_source).toBe(seed!.source);
      expect(templateIds.has(p.template_id)).toBe(true);
      // The seed's own words are in its prompt.
      const material = (seed!.kind === 'curated' ? String(seed!.meta.unit ?? seed!.meta.title) : seed!.kind === 'instruct' ? String(seed!.meta.question) : seed!.text).slice(0, 60);
      if (!p.prompt.includes(material)) throw new Error(`prompt ${p.id} does not contain its seed: ${material}`);
    }
    expect(ids.size).toBe(100_000);
    expect(texts.size).toBe(100_000);
    expect(result.report.shortfalls).toEqual([]);
  });

  it('matches the configured mix within 1 percentage point', () => {
    const stats = promptStats(result.records(), result.report);
    expect(stats.exact_duplicates).toBe(0);
    expect(stats.max_deviation_pp).toBeLessThanOrEqual(1);
    // Independently of the report: the web story entry has weight 8 of 100, and no OpenStax book
    // (the seeds' topic) goes over the 2% cap of the balance rule.
    const topicOf = new Map(seeds.map((s) => [s.id, s.meta.topic as string | undefined]));
    let webStories = 0;
    const perBook = new Map<string, number>();
    for (const p of result.records()) {
      if (p.template_id.startsWith('web.story_')) webStories++;
      const book = topicOf.get(p.seed_id);
      if (book) perBook.set(book, (perBook.get(book) ?? 0) + 1);
    }
    expect(Math.abs(webStories / 100_000 - 0.015)).toBeLessThan(0.005);
    expect(perBook.size).toBe(19);
    expect(Math.max(...perBook.values())).toBeLessThanOrEqual(2000);
    expect(result.report.capped).toBeGreaterThan(0);
  });

  it('is deterministic: a second build gives the same prompts, ids and order', async () => {
    const again = await buildFromSeeds(cfg.prompts, corpusEnv(cfg), seeds);
    const h = createHash('sha256');
    for (const p of again.records()) h.update(JSON.stringify(p) + '\n');
    expect(h.digest('hex')).toBe(digest);
  }, 60_000);

  it('keeps prompts that share a template prefix adjacent', () => {
    const seen = new Set<string>();
    let last = '';
    for (const p of result.records()) {
      const key = `${p.template_id}|${p.audience}|${p.language}|${p.prompt.includes('Use this summary') ? 1 : 0}`;
      if (key !== last) {
        expect(seen.has(key), `group ${key} appears twice`).toBe(false);
        seen.add(key);
        last = key;
      }
    }
    expect(seen.size).toBeGreaterThan(50);
  });
});

describe.runIf(hasSharedData)('builder controls', () => {
  let openstax: SeedRecord[];
  let web: SeedRecord[];
  beforeAll(async () => {
    openstax = await seedsOf({ kind: 'openstax', path: sharedPath('seed/openstax/openstax_toc_intros.jsonl'), topic_field: 'book' });
    web = await seedsOf({ kind: 'web', path: sharedPath('seed/web/c4_demo.jsonl'), limit: 20 });
  });

  it('the simplest config: one prompt per web seed, textbook for the four audiences', () => {
    const r = build(web, {});
    const ps = all(r);
    expect(ps.length).toBe(20);
    expect(new Set(ps.map((p) => p.seed_id)).size).toBe(20);
    expect(ps.every((p) => p.format === 'textbook_academic' && p.template_id === 'web.textbook_academic')).toBe(true);
    const perAudience = Object.fromEntries(['young_children', 'high_school', 'college', 'researchers'].map((a) => [a, ps.filter((p) => p.audience === a).length]));
    expect(perAudience).toEqual({ young_children: 5, high_school: 5, college: 5, researchers: 5 });
  });

  it('a different corpus seed draws differently', () => {
    const a = all(build(openstax, { count: 500 })).map((p) => p.id);
    const b = all(build(openstax, { count: 500 }, 7)).map((p) => p.id);
    expect(a).toEqual(all(build(openstax, { count: 500 })).map((p) => p.id));
    expect(a).not.toEqual(b);
  });

  it('caps stop one topic crowding out the rest; boosts raise a topic', () => {
    const capped = all(build(openstax, { count: 3000, balance: [{ by: 'topic', max_share: 0.06 }] }));
    const perBook = (ps: PromptRecord[]) => {
      const m = new Map<string, number>();
      for (const p of ps) {
        const book = openstax.find((s) => s.id === p.seed_id)!.meta.topic as string;
        m.set(book, (m.get(book) ?? 0) + 1);
      }
      return m;
    };
    expect(Math.max(...perBook(capped).values())).toBeLessThanOrEqual(180);
    const natural = perBook(all(build(openstax, { count: 3000 })));
    expect(Math.max(...natural.values())).toBeGreaterThan(180); // without the cap the biggest books exceed it
    const boosted = perBook(all(build(openstax, { count: 3000, balance: [{ by: 'topic', mode: 'even', boost: { 'Calculus Volume 1': 3 } }] })));
    const calc = boosted.get('Calculus Volume 1')!;
    const others = [...boosted.entries()].filter(([k]) => k !== 'Calculus Volume 1').map(([, v]) => v);
    const mean = others.reduce((a, b) => a + b, 0) / others.length;
    expect(calc / mean).toBeGreaterThan(2.2);
    expect(calc / mean).toBeLessThan(3.8);
  });

  it('a language mix splits prompts exactly and tells the model the language', () => {
    const ps = all(build(openstax, { count: 1000, languages: { en: 3, fr: 1 } }));
    const fr = ps.filter((p) => p.language === 'fr');
    expect(fr.length).toBe(250);
    expect(fr.every((p) => p.prompt.includes('Write the whole text in French.'))).toBe(true);
    expect(ps.filter((p) => p.language === 'en').some((p) => p.prompt.includes('Write the whole text in'))).toBe(false);
  });

  it("topic conditioning follows its probability, with the seed's own topic only; reference text is included or not as configured", () => {
    const topics = ['everyday science', 'personal finance', 'the natural world'];
    const withTopics = web.map((s, i) => (i % 2 ? { ...s, meta: { ...s.meta, topic: topics[i % 3] } } : s));
    const none = all(build(withTopics, { count: 20, topic_probability: 0 }));
    expect(none.some((p) => p.topic || p.prompt.includes('within the context of'))).toBe(false);
    const every = all(build(withTopics, { count: 20, topic_probability: 1 }));
    const own = new Map(withTopics.map((s) => [s.id, s.meta.topic]));
    // Every prompt of a seed with a topic carries that topic; a seed without one never gets one.
    for (const p of every) expect(p.topic).toBe(own.get(p.seed_id));
    expect(every.filter((p) => p.topic).every((p) => p.prompt.includes(`within the context of "${p.topic}"`))).toBe(true);
    expect(every.some((p) => p.topic) && every.some((p) => !p.topic)).toBe(true);
    const half = all(build(openstax, { count: 2000, topic_probability: 0.5 }));
    const share = half.filter((p) => p.topic).length / half.length;
    expect(share).toBeGreaterThan(0.4);
    expect(share).toBeLessThan(0.6);
    const withRef = all(build(openstax, { count: 500, reference_probability: 1 }));
    const withoutRef = all(build(openstax, { count: 500, reference_probability: 0 }));
    expect(withoutRef.some((p) => p.prompt.includes('Use this summary'))).toBe(false);
    const hasRef = new Set(openstax.filter((s) => s.meta.reference).map((s) => s.id));
    expect(withRef.filter((p) => hasRef.has(p.seed_id)).every((p) => p.prompt.includes('Use this summary'))).toBe(true);
  });

  it('removes exact duplicates, reports near duplicates, and never pads a cell that runs dry', () => {
    const twin = (s: SeedRecord, source: string, text = s.text): SeedRecord => ({ ...s, id: `${s.id}-${source}`, source, text });
    const seeds = [...web, ...web.slice(0, 5).map((s) => twin(s, 'copy')), ...web.slice(5, 8).map((s) => twin(s, 'shouty', s.text.toUpperCase()))];
    const r = build(seeds, { count: 80, topic_probability: 0, mix: [{ kind: 'web', format: 'textbook_academic', audience: 'college' }] });
    const ps = all(r);
    expect(new Set(ps.map((p) => p.prompt)).size).toBe(ps.length);
    expect(r.report.duplicates_removed).toBeGreaterThan(0);
    expect(r.report.near_duplicates).toBe(3);
    // 23 distinct seed texts, one template, one audience, no topics: at most 23 distinct prompts.
    expect(ps.length).toBe(23);
    expect(r.report.shortfalls).toHaveLength(1);
    expect(r.report.shortfalls[0]!.built).toBe(23);
  });

  it('refuses a mix no template can write, naming the entry', () => {
    expect(() => build(web, { mix: [{ kind: 'web', format: 'sonnet' }] })).toThrow(/prompts\.mix\[0\]: no template writes format "sonnet"/);
    expect(() => build(web, { mix: [{ kind: 'web', format: 'story_reddit', audience: 'researchers' }] })).toThrow(
      /prompts\.mix\[0\]: no story_reddit template writes for researchers/,
    );
    expect(() => build(web, { mix: [{ kind: 'kb', format: 'textbook_academic' }] })).toThrow(/prompts\.mix\[0\]: no seed fits/);
  });
});

describe('topics from a list', () => {
  const seed = (id: string, text: string, meta: Record<string, unknown> = {}): SeedRecord => ({ id, text, source: 'web', kind: 'web', meta });
  const seeds = [
    seed('press', 'Gutenberg built the printing press around 1440 in Mainz. Movable metal type let printers set a page of letters, and books spread across Europe within decades.'),
    seed('ball', 'The football match went to extra time: both teams scored twice, and the game was decided by penalties. Fans of the sport crowded the stadium.'),
    seed('bread', 'To bake bread, knead flour, water, salt and yeast into a dough, let it rise, shape the loaf and bake it in a hot oven until the crust is brown. Home cooking of good food takes time.'),
    seed('own', 'A text about tides and the moon.', { topic: 'ocean tides' }),
  ];
  const topics = ['sports and games', 'cooking and food', 'personal finance'];

  it("gives a seed the nearest topic when similar enough, none otherwise, and keeps a seed's own (GloVe)", async () => {
    const { seeds: out, report } = await matchTopics(seeds, topics, { embedder: 'glove', threshold: 0.35 });
    const topic = new Map(out.map((s) => [s.id, s.meta.topic]));
    expect(topic.get('ball')).toBe('sports and games');
    expect(topic.get('bread')).toBe('cooking and food');
    // The printing press is no sport: better no topic than an unrelated one.
    expect(topic.get('press')).toBeUndefined();
    expect(topic.get('own')).toBe('ocean tides');
    expect(report).toMatchObject({ own: 1, matched: 2, unmatched: 1, threshold: 0.35, embedder: 'glove-sif:100' });
    expect(out.find((s) => s.id === 'ball')!.meta.topic_similarity).toBeGreaterThanOrEqual(0.35);
  });
});

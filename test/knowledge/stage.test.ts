/** Grounding through the pipeline as a user runs it: index, ground, generate, measure, export. */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { queryRows, sqlString } from '../../src/io/parquet.js';
import { retrieveSchema } from '../../src/knowledge/config.js';
import type { PromptRecord } from '../../src/records/types.js';
import { cosmo } from '../helpers/cli.js';
import { mockReply, startMockOpenAI, type MockServer } from '../helpers/mock-openai.js';
import { hasSharedData, sharedPath } from '../helpers/shared-data.js';

const INSTRUCTION = retrieveSchema.parse({}).instruction;

/** A model that, given reference material, restates it, and without it writes something else. */
function reply(prompt: string, n: number): string {
  const at = prompt.indexOf(INSTRUCTION);
  if (at < 0) return mockReply(prompt, n);
  return prompt
    .slice(at + INSTRUCTION.length)
    .split('\n')
    .filter((l) => l && !/^\[\d+\]/.test(l))
    .join('\n');
}

const TITLES = [
  'HowtoStudytheChemistryofWater1',
  'HowtoCalculateElectronegativity3',
  'HowtoPreventBloodClots',
  'HowtoCheckYourHeartRate2',
  'HowtoCheckYourBloodPressure3',
  'HowtoFindthePlanets2',
  'HowtoInvest',
  'HowtoCalculateCovariance4',
  'HowtoSolveExactDifferentialEquations',
  'HowtoTreatDependentPersonalityDisorder3',
];

const readJsonl = <T,>(dir: string) =>
  readdirSync(dir)
    .filter((f) => f.endsWith('.jsonl'))
    .flatMap((f) => readFileSync(join(dir, f), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as T));

describe.skipIf(!hasSharedData)('the knowledge and ground stages in a pipeline run', () => {
  let server: MockServer;
  let dir: string;
  let first: Awaited<ReturnType<typeof cosmo>['done']>;

  beforeAll(async () => {
    server = await startMockOpenAI({ latencyMs: 1, completionTokens: 40, reply });
    dir = mkdtempSync(join(tmpdir(), 'cosmo-ground-'));
    writeFileSync(join(dir, 'titles.txt'), TITLES.join('\n') + '\n');
    writeFileSync(
      join(dir, 'corpus.yaml'),
      [
        'name: grounded',
        'seed: 5',
        'output: out',
        'seeds: [{ kind: wikihow, path: titles.txt }]',
        'prompts: { count: 40, audiences: [high_school, college, general, researchers], mix: [{ kind: curated, match: { shape: title }, format: wikihow }] }',
        'knowledge:',
        `  files: [${sharedPath('seed/openstax/openstax_toc_intros.jsonl')}, ${sharedPath('seed/web/wiki_demo.txt')}]`,
        '  text_field: [abstract, intro_paragraphs]',
        '  title_field: [book, title]',
        '  segment_passages: 2500',
        '  retrieve: { k: 2, max_tokens: 400 }',
        `generate: { cache: false, engines: [{ type: openai, base_url: "${server.url}", model: m, concurrency: 4 }] }`,
        'filter: { min_tokens: 0, drop_truncated: false, repetition: { enabled: false }, boilerplate: { mode: off }, language: { enabled: false } }',
        'dedup: { enabled: false }',
        'decontaminate: { enabled: false }',
        'export: { formats: [parquet] }',
        '',
      ].join('\n'),
    );
    first = await cosmo(['run', 'corpus.yaml'], { cwd: dir }).done;
  }, 180_000);
  afterAll(() => server?.close());

  it('runs to the end and builds the index in several segments', () => {
    expect(first.code, first.stderr).toBe(0);
    const manifest = JSON.parse(readFileSync(join(dir, 'out/knowledge/index.json'), 'utf8'));
    expect(manifest.segments.length).toBeGreaterThan(1);
    expect(manifest.documents).toBe(2240);
  });

  it('gives every prompt passages on its subject; a seeded share carries them and gets a new id', () => {
    const before = readJsonl<PromptRecord>(join(dir, 'out/prompts'));
    const after = readJsonl<PromptRecord>(join(dir, 'out/ground'));
    expect(after).toHaveLength(before.length);
    const carried = after.filter((p) => p.grounding!.in_prompt);
    expect(carried.length).toBeGreaterThan(8);
    expect(carried.length).toBeLessThan(32);
    const ids = new Set(before.map((p) => p.id));
    for (const p of after) {
      expect(p.grounding!.passages.length).toBeGreaterThan(0);
      expect(p.grounding!.passages.length).toBeLessThanOrEqual(2);
      if (p.grounding!.in_prompt) {
        expect(ids.has(p.id)).toBe(false);
        expect(p.prompt).toContain(INSTRUCTION);
        expect(p.prompt).toContain(p.grounding!.passages[0]!.text);
      } else {
        expect(ids.has(p.id)).toBe(true);
        expect(p.prompt).not.toContain(INSTRUCTION);
      }
    }
    const water = after.find((p) => p.seed_data.includes('Chemistry of Water'))!;
    expect(water.grounding!.passages[0]!.title).toMatch(/^Chemistry/);
  });

  it('measures faithfulness: texts that restate their passages score high, the others low, per format', () => {
    const summary = JSON.parse(readFileSync(join(dir, 'out/filter/summary.json'), 'utf8'));
    const f = summary.faithfulness;
    expect(f.grounded.support).toBeGreaterThan(0.9);
    expect(f.ungrounded.support).toBeLessThan(0.1);
    expect(f['format.wikihow.grounded'].samples).toBe(f.grounded.samples);
  });

  it('exports the passage ids, whether the prompt carried them, and the support', async () => {
    const files = readdirSync(join(dir, 'out/export')).filter((f) => f.endsWith('.parquet'));
    const rows = await queryRows(`SELECT passage_ids, grounded, support FROM read_parquet([${files.map((f) => sqlString(join(dir, 'out/export', f))).join(', ')}])`);
    expect(rows).toHaveLength(40);
    for (const r of rows) {
      expect((r.passage_ids as string[]).length).toBeGreaterThan(0);
      expect(typeof r.grounded).toBe('boolean');
      expect(r.support as number).toBeGreaterThanOrEqual(r.grounded ? 0.9 : 0);
    }
    const card = readFileSync(join(dir, 'out/export/README.md'), 'utf8');
    expect(card).toMatch(/name: passage_ids\s+sequence: string/);
  });

  it('reorders the candidates by meaning when an embedder is configured', async () => {
    const yaml = readFileSync(join(dir, 'corpus.yaml'), 'utf8')
      .replace('output: out', 'output: out-semantic')
      .replace('retrieve: { k: 2, max_tokens: 400 }', 'retrieve: { k: 2, max_tokens: 400, semantic: { embedder: { type: tfidf, dims: 32 }, candidates: 10, weight: 0.7 } }');
    writeFileSync(join(dir, 'semantic.yaml'), yaml);
    for (const stage of ['seeds', 'prompts', 'knowledge', 'ground']) {
      const r = await cosmo([stage, 'semantic.yaml'], { cwd: dir }).done;
      expect(r.code, r.stderr).toBe(0);
    }
    const plain = new Map(readJsonl<PromptRecord>(join(dir, 'out/ground')).map((p) => [p.seed_id + p.audience, p.grounding!.passages.map((x) => x.id).join()]));
    const semantic = readJsonl<PromptRecord>(join(dir, 'out-semantic/ground'));
    expect(semantic).toHaveLength(40);
    const changed = semantic.filter((p) => plain.get(p.seed_id + p.audience) !== p.grounding!.passages.map((x) => x.id).join());
    expect(changed.length).toBeGreaterThan(0);
  });

  it('resumes without redoing anything, and `cosmo retrieve` searches the index', async () => {
    const again = await cosmo(['run', 'corpus.yaml'], { cwd: dir }).done;
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toMatch(/knowledge +done before/);
    expect(again.stdout).toMatch(/ground +done before/);
    const r = await cosmo(['retrieve', '--knowledge', 'out/knowledge', '-k', '3', '--json', 'How do comets form?'], { cwd: dir }).done;
    expect(r.code, r.stderr).toBe(0);
    const hits = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
    expect(hits).toHaveLength(3);
    expect(hits[0].title).toMatch(/^Astronomy 2e: /);
    const bad = await cosmo(['retrieve', '--knowledge', 'out/prompts', 'comets'], { cwd: dir }).done;
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('no knowledge index here');
  });
});

describe.skipIf(!hasSharedData)('the knowledge stage killed while it indexes', () => {
  it('resumes: the rerun redoes the killed task and the index equals one built in one go', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cosmo-knowledge-kill-'));
    const sections = readFileSync(sharedPath('seed/openstax/openstax_toc_intros.jsonl'), 'utf8');
    mkdirSync(join(dir, 'source'));
    for (let i = 0; i < 8; i++) writeFileSync(join(dir, 'source', `part-${i}.jsonl`), sections);
    const corpus = (output: string) =>
      [
        `output: ${output}`,
        'seeds: [{ kind: wikihow, path: unused.txt }]',
        'knowledge: { files: source, tasks: 2, segment_passages: 1500, text_field: [abstract, intro_paragraphs], title_field: [book, title] }',
        '',
      ].join('\n');
    writeFileSync(join(dir, 'killed.yaml'), corpus('killed'));
    writeFileSync(join(dir, 'whole.yaml'), corpus('whole'));
    const run = cosmo(['knowledge', 'killed.yaml'], { cwd: dir });
    const segments = () => (existsSync(join(dir, 'killed/knowledge')) ? readdirSync(join(dir, 'killed/knowledge')).filter((f) => f.startsWith('seg-0-')) : []);
    for (let i = 0; i < 600 && segments().length < 2; i++) await new Promise((r) => setTimeout(r, 25));
    run.kill('SIGKILL');
    const killed = await run.done;
    expect(killed.code).not.toBe(0);
    expect(existsSync(join(dir, 'killed/knowledge/index.json'))).toBe(false);
    const resumed = await cosmo(['knowledge', 'killed.yaml'], { cwd: dir }).done;
    expect(resumed.code, resumed.stderr).toBe(0);
    const whole = await cosmo(['knowledge', 'whole.yaml'], { cwd: dir }).done;
    expect(whole.code, whole.stderr).toBe(0);
    const manifest = (out: string) => JSON.parse(readFileSync(join(dir, out, 'knowledge/index.json'), 'utf8'));
    expect(manifest('killed')).toEqual(manifest('whole'));
    expect(readdirSync(join(dir, 'killed/knowledge')).filter((f) => f.includes('.tmp-'))).toEqual([]);
    for (const q of ['How do comets form?', 'supply and demand in labor markets', 'the structure of the heart']) {
      const a = await cosmo(['retrieve', '--knowledge', 'killed/knowledge', '--json', q], { cwd: dir }).done;
      const b = await cosmo(['retrieve', '--knowledge', 'whole/knowledge', '--json', q], { cwd: dir }).done;
      expect(a.stdout.length).toBeGreaterThan(0);
      expect(a.stdout).toBe(b.stdout);
    }
  }, 120_000);
});

describe('the knowledge stage on bad input', () => {
  it('names the file and line of a malformed document, and skips and counts it with --skip-bad', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cosmo-knowledge-bad-'));
    writeFileSync(
      join(dir, 'wiki.jsonl'),
      ['{"title": "Comets", "text": "A comet is an icy body that releases gas as it nears the Sun."}', '{"title": "Broken", "text": ', '{"title": "Stars", "text": ["A star is a luminous ball of plasma.", "The Sun is a star."]}', '{"title": 3, "text": {"not": "text"}}', ''].join('\n'),
    );
    writeFileSync(join(dir, 'corpus.yaml'), 'output: out\nseeds: [{ kind: wikihow, path: unused.txt }]\nknowledge: { files: wiki.jsonl }\n');
    const failed = await cosmo(['knowledge', 'corpus.yaml'], { cwd: dir }).done;
    expect(failed.code).toBe(1);
    expect(failed.stderr).toMatch(/wiki\.jsonl:2: malformed JSON/);
    expect(failed.stdout).not.toMatch(/\bdone\b/);
    writeFileSync(join(dir, 'wiki.jsonl'), readFileSync(join(dir, 'wiki.jsonl'), 'utf8').replace('"text": \n', '"text": "fixed"}\n'));
    const field = await cosmo(['knowledge', 'corpus.yaml'], { cwd: dir }).done;
    expect(field.code).toBe(1);
    expect(field.stderr).toMatch(/wiki\.jsonl:4: field "text" should be text or a list of texts, got object/);
    const ok = await cosmo(['knowledge', 'corpus.yaml', '--skip-bad'], { cwd: dir }).done;
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout).toMatch(/documents=3 .*bad_lines=1/);
    const hit = await cosmo(['retrieve', '--knowledge', 'out/knowledge', '--json', 'luminous plasma'], { cwd: dir }).done;
    expect(JSON.parse(hit.stdout.split('\n')[0]!)).toMatchObject({ title: 'Stars', id: 'wiki.jsonl:3#0', text: 'A star is a luminous ball of plasma.\n\nThe Sun is a star.' });
  });
});

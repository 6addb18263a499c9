import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { indexFiles, writeManifest } from '../../src/knowledge/build.js';
import { knowledgeSchema, retrieveSchema } from '../../src/knowledge/config.js';
import { promptQuery } from '../../src/knowledge/ground.js';
import { createEmbedder } from '../../src/embed/create.js';
import { KnowledgeIndex, rerank } from '../../src/knowledge/search.js';
import { restoreTitleSpaces } from '../../src/seeds/wikihow.js';
import { hasSharedData, sharedPath } from '../helpers/shared-data.js';

/** OpenStax books grouped by subject: a hit from any book of the subject counts. */
const SUBJECTS: Record<string, string[]> = {
  anatomy: ['Anatomy and Physiology 2e'],
  astronomy: ['Astronomy 2e'],
  chemistry: ['Chemistry 2e', 'Chemistry: Atoms First 2e'],
  economics: [
    'Principles of Economics 3e',
    'Principles of Macroeconomics 3e',
    'Principles of Microeconomics 3e',
    'Principles of Macroeconomics for AP® Courses 2e',
    'Principles of Microeconomics for AP® Courses 2e',
  ],
  statistics: ['Introductory Statistics 2e', 'Introductory Business Statistics 2e'],
  calculus: ['Calculus Volume 1', 'Calculus Volume 2', 'Calculus Volume 3'],
  psychology: ['Psychology 2e'],
  politics: ['Introduction to Political Science', 'U.S. History'],
  history: ['U.S. History'],
  python: ['Introduction to Python Programming'],
  philosophy: ['Introduction to Philosophy 2e'],
};

/**
 * wikiHow titles (as the dataset squashes them) and the subject a reader would look it up in.
 * Checked by hand: each title's subject is one the OpenStax books teach.
 */
const WIKIHOW: [string, keyof typeof SUBJECTS][] = [
  ['HowtoStudytheChemistryofWater1', 'chemistry'],
  ['HowtoCalculateElectronegativity3', 'chemistry'],
  ['HowtoReduceLacticAcid', 'anatomy'],
  ['HowtoPreventBloodClots', 'anatomy'],
  ['HowtoCheckYourHeartRate2', 'anatomy'],
  ['HowtoCheckYourBloodPressure3', 'anatomy'],
  ['HowtoRespondtoaHeartAttack1', 'anatomy'],
  ['HowtoKnowifYouHaveKidneyStones3', 'anatomy'],
  ['HowtoPreventLungCancer', 'anatomy'],
  ['HowtoFindthePlanets2', 'astronomy'],
  ['HowtoInterpretanAstrologicalBirthChart', 'astronomy'],
  ['HowtoInvest', 'economics'],
  ['HowtoGetCaliforniaUnemploymentBenefits', 'economics'],
  ['HowtoCalculateAnnualInterestonBonds3', 'economics'],
  ['HowtoCalculateCovariance4', 'statistics'],
  ['HowtoSolveExactDifferentialEquations', 'calculus'],
  ['HowtoTreatMildDepression5', 'psychology'],
  ['HowtoBringSevereSocialAnxietyUnderControl4', 'psychology'],
  ['HowtoTreatDependentPersonalityDisorder3', 'psychology'],
  ['HowtoVoteinFlorida', 'politics'],
];

const HELD_OUT_EVERY = 97;
/** Queries are cut as the ground step cuts them. */
const defaults = retrieveSchema.parse({});

interface Section {
  book: string;
  path: string[];
  title: string;
  abstract: string;
}

describe.skipIf(!hasSharedData)('retrieval from real text (OpenStax sections and Wikipedia articles)', () => {
  let dir: string;
  let index: KnowledgeIndex;
  const openstax: { query: string; subject: string[] }[] = [];

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'cosmo-retrieval-'));
    // Every 97th OpenStax section is held out of the index and asked about: the answer must come
    // from its subject's other sections, not from the section itself.
    const lines = readFileSync(sharedPath('seed/openstax/openstax_toc_intros.jsonl'), 'utf8').split('\n').filter(Boolean);
    const kept: string[] = [];
    lines.forEach((line, i) => {
      if (i % HELD_OUT_EVERY !== 50) return void kept.push(line);
      const s = JSON.parse(line) as Section;
      const subject = Object.values(SUBJECTS).find((books) => books.includes(s.book))!;
      // A unit as an outline seed gives it: its chapter and title, and its abstract when it has one (the book's name is left out).
      openstax.push({ query: promptQuery({ seed_data: [...s.path, s.title, s.abstract].join('. ') }, 48), subject });
    });
    const books = join(dir, 'openstax.jsonl');
    writeFileSync(books, kept.join('\n') + '\n');
    const cfg = knowledgeSchema.parse({ files: 'x', text_field: ['abstract', 'intro_paragraphs'], title_field: ['book', 'title'], segment_passages: 2000 });
    const files = [books, sharedPath('seed/web/wiki_demo.txt')];
    const counts = await indexFiles(files, cfg, join(dir, 'index'), 0);
    await writeManifest(join(dir, 'index'), cfg, counts, files);
    index = KnowledgeIndex.open(join(dir, 'index'));
  }, 60_000);

  afterAll(() => {
    index?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** Whether any of a query's top 5 passages comes from one of the expected books. */
  const recallAt5 = (cases: { query: string; books: string[] }[]) => {
    const misses: string[] = [];
    let relevant = 0;
    for (const c of cases) {
      const hits = index.search(c.query, { k: 5, maxTerms: defaults.max_terms, postings: defaults.postings });
      const right = hits.filter((h) => c.books.some((b) => h.passage.title.startsWith(`${b}: `))).length;
      relevant += right / 5;
      if (right === 0) misses.push(`${c.query} → ${hits.map((h) => h.passage.title).join(' | ')}`);
    }
    return { recall: 1 - misses.length / cases.length, precision: relevant / cases.length, misses };
  };

  it('indexes the sections in several segments, and a held-out section has the right number of cases', () => {
    expect(index.segments.length).toBeGreaterThan(1);
    expect(openstax.length).toBeGreaterThanOrEqual(20);
  });

  it('a prompt from a wikiHow title retrieves passages of its subject (recall@5 over 20 hand-checked titles)', () => {
    const cases = WIKIHOW.map(([squashed, subject]) => ({ query: promptQuery({ seed_data: restoreTitleSpaces(squashed) }, 48), books: SUBJECTS[subject]! }));
    const { recall, precision, misses } = recallAt5(cases);
    console.log(`wikiHow → OpenStax subject: recall@5 ${recall.toFixed(3)}, precision@5 ${precision.toFixed(3)} over ${cases.length}${misses.length ? `; missed:\n  ${misses.join('\n  ')}` : ''}`);
    expect(recall).toBeGreaterThanOrEqual(0.85);
  });

  it('a prompt from a held-out OpenStax unit retrieves passages of its subject (recall@5)', () => {
    const { recall, precision, misses } = recallAt5(openstax.map((o) => ({ query: o.query, books: o.subject })));
    console.log(`held-out OpenStax unit → its subject: recall@5 ${recall.toFixed(3)}, precision@5 ${precision.toFixed(3)} over ${openstax.length}${misses.length ? `; missed:\n  ${misses.join('\n  ')}` : ''}`);
    expect(recall).toBeGreaterThanOrEqual(0.9);
  });

  it('reordering by meaning (an embedder of the cluster stage) keeps the right subjects on top', async () => {
    const sample: string[] = [];
    for (const seg of index.segments) for (let d = 0; d < seg.meta.passages; d += 3) sample.push(seg.passage(d).text);
    const embedder = await createEmbedder({ type: 'tfidf', dims: 64, max_terms: 20_000 }, sample, { resolve: (p) => p, seed: 1 });
    let found = 0;
    let moved = 0;
    for (const [squashed, subject] of WIKIHOW) {
      const query = promptQuery({ seed_data: restoreTitleSpaces(squashed) }, 48);
      const hits = index.search(query, { k: 20, maxTerms: defaults.max_terms });
      const reordered = await rerank(hits, query, embedder, 0.5, 5);
      expect(reordered.length).toBe(Math.min(5, hits.length));
      if (reordered.map((h) => h.passage.id).join() !== hits.slice(0, 5).map((h) => h.passage.id).join()) moved++;
      if (reordered.some((h) => SUBJECTS[subject]!.some((b) => h.passage.title.startsWith(`${b}: `)))) found++;
    }
    console.log(`reordered by TF-IDF similarity: recall@5 ${(found / WIKIHOW.length).toFixed(3)}; ${moved} of ${WIKIHOW.length} top-5 lists changed`);
    expect(moved).toBeGreaterThan(0);
    expect(found / WIKIHOW.length).toBeGreaterThanOrEqual(0.85);
  });

  it('a Wikipedia subject retrieves its article, and a query of unknown words retrieves nothing', () => {
    const hits = index.search('Abraham Lincoln president civil war', { k: 3 });
    expect(hits[0]!.passage.source).toBe('wiki_demo.txt');
    expect(hits[0]!.passage.text).toMatch(/Lincoln/);
    expect(index.search('qwxzv blorptang', { k: 3 })).toEqual([]);
  });
});

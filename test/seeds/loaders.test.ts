import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { SeedRecord } from '../../src/records/types.js';
import { seedSourceSchema, type SeedSourceConfig } from '../../src/seeds/config.js';
import { loadSeeds } from '../../src/seeds/load.js';
import { arrayItemLines } from '../../src/seeds/read.js';
import { restoreTitleSpaces } from '../../src/seeds/wikihow.js';
import { InputError } from '../../src/util/errors.js';
import { hasSharedData, sharedPath } from '../helpers/shared-data.js';

const EXAMPLES = resolve(import.meta.dirname, '../../examples/data');

async function load(src: Partial<SeedSourceConfig> & { kind: SeedSourceConfig['kind']; path: string }, opts = {}) {
  const cfg = seedSourceSchema.parse(src);
  const counts: Record<string, number> = {};
  const seeds: SeedRecord[] = [];
  for await (const s of loadSeeds(cfg, cfg.path, { ...opts, count: (n, k = 1) => (counts[n] = (counts[n] ?? 0) + k) })) seeds.push(s);
  return { seeds, counts };
}

function tmp(name: string, text: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'cosmo-seeds-'));
  const file = join(dir, name);
  writeFileSync(file, text);
  return file;
}

describe.runIf(hasSharedData)('seed loaders on the real shared files', () => {
  it('openstax: one unit per section, with the chapter and the units already covered', async () => {
    const { seeds, counts } = await load({ kind: 'openstax', path: sharedPath('seed/openstax/openstax_toc_intros.jsonl') });
    const rows = readFileSync(sharedPath('seed/openstax/openstax_toc_intros.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    const frontMatter = rows.filter((r) => r.path.length === 0).length;
    expect(counts.rows_without_seed).toBe(frontMatter);
    expect(seeds.length).toBe(rows.length - frontMatter);
    expect(seeds.every((s) => s.kind === 'curated' && s.meta.shape === 'unit' && s.meta.course && s.meta.chapter && s.meta.unit)).toBe(true);
    // Within a chapter, each unit lists exactly the units before it.
    const chapter = seeds.filter((s) => s.meta.course === seeds[10]!.meta.course && s.meta.chapter === seeds[10]!.meta.chapter);
    expect(chapter.length).toBeGreaterThan(1);
    chapter.forEach((s, i) => expect(s.meta.covered_units).toEqual(chapter.slice(0, i).map((c) => c.meta.unit)));
    const withRef = seeds.filter((s) => typeof s.meta.reference === 'string');
    expect(withRef.length).toBeGreaterThan(seeds.length / 2);
    expect(withRef.every((s) => (s.meta.reference as string).length <= 1000)).toBe(true);
  });

  it('wikihow: restores the spaces of the squashed titles and drops repeats', async () => {
    const { seeds, counts } = await load({ kind: 'wikihow', path: sharedPath('seed/wikihow') });
    expect(seeds.length + (counts.duplicates ?? 0)).toBe(12000);
    expect(counts.duplicates).toBeGreaterThan(0);
    const titles = new Set(seeds.map((s) => s.meta.title));
    expect(titles.has('How to Raise Money for a Good Cause')).toBe(true);
    expect(titles.has('How to Cook Adzuki Beans')).toBe(true);
    expect(titles.has('How to Understand the Ratio Decidendi Common Law')).toBe(true);
    // Nearly every title starts "How to " and has more than two words.
    const howTo = seeds.filter((s) => String(s.meta.title).startsWith('How to ') && String(s.meta.title).split(' ').length > 2);
    expect(howTo.length / seeds.length).toBeGreaterThan(0.99);
  });

  it('web: C4 and Dolma JSONL and a plain-text Wikipedia file, cut to 1,000 characters by default', async () => {
    const { seeds } = await load({ kind: 'web', path: sharedPath('seed/web') });
    expect(seeds.length).toBe(350);
    expect(seeds.every((s) => s.kind === 'web' && s.text.length > 0 && s.text.length <= 1000)).toBe(true);
    expect(seeds.filter((s) => typeof s.meta.url === 'string' && typeof s.meta.title === 'string').length).toBe(20); // the Dolma rows
    const short = await load({ kind: 'web', path: sharedPath('seed/web/c4_demo.jsonl'), max_chars: 200, limit: 50 });
    expect(short.seeds.length).toBe(50);
    expect(Math.max(...short.seeds.map((s) => s.text.length))).toBeLessThanOrEqual(200);
    // Cut at a word boundary: the extract is a prefix of the document that ends where a word ends.
    const doc = JSON.parse(readFileSync(sharedPath('seed/web/c4_demo.jsonl'), 'utf8').split('\n')[0]!).text as string;
    expect(doc.startsWith(short.seeds[0]!.text)).toBe(true);
    expect(/\s/.test(doc[short.seeds[0]!.text.length] ?? ' ')).toBe(true);
  });

  it('instruct: Alpaca JSON and Self-Instruct JSONL give the first question and answer', async () => {
    const alpaca = await load({ kind: 'instruct', path: sharedPath('seed/instruct/alpaca_en_demo.json') });
    const rows = JSON.parse(readFileSync(sharedPath('seed/instruct/alpaca_en_demo.json'), 'utf8'));
    expect(alpaca.seeds.length + (alpaca.counts.duplicates ?? 0)).toBe(rows.length);
    const first = alpaca.seeds[0]!;
    expect(first.meta.question).toBe(rows[0].input ? `${rows[0].instruction}\n${rows[0].input}` : rows[0].instruction);
    expect(rows[0].output.startsWith(String(first.meta.answer).slice(0, 50))).toBe(true);
    const selfInstruct = await load({ kind: 'instruct', path: sharedPath('seed/instruct/alpaca_seed_tasks.jsonl') });
    expect(selfInstruct.seeds.length).toBe(175);
    expect(selfInstruct.seeds.every((s) => s.kind === 'instruct' && String(s.meta.answer).length > 0)).toBe(true);
  });

  it('math: science sections of OpenStax selected with match, as documents', async () => {
    const { seeds, counts } = await load({
      kind: 'math',
      path: sharedPath('seed/openstax/openstax_toc_intros.jsonl'),
      match: { book: '^(Calculus|Introductory Statistics)' },
      topic_field: 'book',
    });
    expect(seeds.length).toBeGreaterThan(200);
    expect(counts.filtered).toBeGreaterThan(1500);
    expect(seeds.every((s) => s.kind === 'math' && /^(Calculus|Introductory Statistics)/.test(String(s.meta.topic)))).toBe(true);
  });

  it('a bad row names its file and line, or is skipped and counted', async () => {
    const file = tmp('web.jsonl', '{"text": "a fine document"}\n{"text": broken\n{"body": "no text field"}\n{"text": "another"}\n');
    await expect(load({ kind: 'web', path: file })).rejects.toThrow(`${file}:2: malformed JSON`);
    const bad: string[] = [];
    const { seeds } = await load({ kind: 'web', path: file, text_field: 'text' }, { skipBad: true, onBad: (f: string, l: number) => bad.push(`${f}:${l}`) });
    expect(seeds.map((s) => s.text)).toEqual(['a fine document', 'another']);
    expect(bad).toEqual([`${file}:2`, `${file}:3`]);
    const err = await load({ kind: 'web', path: file, text_field: 'text' }, { skipBad: false }).catch((e) => e);
    expect(err).toBeInstanceOf(InputError);
  });
});

describe('seed loaders on shapes and files shipped in examples/', () => {
  it('kb: every entity type, from simple and Wikidata-shaped entries, as an outline', async () => {
    const { seeds } = await load({ kind: 'kb', path: join(EXAMPLES, 'kb.jsonl') });
    expect(new Set(seeds.map((s) => s.meta.entity_type))).toEqual(new Set(['biography', 'concept', 'event', 'place', 'organisation']));
    const curie = seeds.find((s) => s.meta.title === 'Marie Curie')!;
    expect(curie.text).toContain('- occupation: physicist; chemist');
    const adams = seeds.find((s) => s.meta.title === 'Douglas Adams')!; // Wikidata JSON shape
    expect(adams.meta.entity_type).toBe('biography');
    expect(adams.text).toContain("notable work: The Hitchhiker's Guide to the Galaxy");
    expect(adams.text).toContain('date of birth: 1952-03-11');
  });

  it('course: one seed per unit with units and chapters already covered; bare courses seed their outline', async () => {
    const { seeds } = await load({ kind: 'course', path: join(EXAMPLES, 'courses.yaml') });
    const units = seeds.filter((s) => s.meta.shape === 'unit');
    const courses = seeds.filter((s) => s.meta.shape === 'course');
    expect(courses.map((s) => s.meta.title)).toEqual(['History of Computing', 'Introduction to Music Theory']);
    const variance = units.find((s) => s.meta.unit === 'Variance')!;
    expect(variance.meta.covered_units).toEqual(['Discrete random variables', 'Expected value']);
    expect(variance.meta.covered_chapters).toEqual(['Counting']);
  });

  it('instruct: UltraChat, ShareGPT/OpenHermes and messages shapes', async () => {
    const file = tmp(
      'chats.jsonl',
      [
        { data: ['What is rain?', 'Water falling from clouds.', 'And snow?', 'Frozen rain.'] },
        { conversations: [{ from: 'system', value: 'Be nice.' }, { from: 'human', value: 'Why is the sky blue?' }, { from: 'gpt', value: 'Rayleigh scattering.' }] },
        { messages: [{ role: 'user', content: 'Name a prime.' }, { role: 'assistant', content: 'Seven.' }] },
      ]
        .map((r) => JSON.stringify(r))
        .join('\n'),
    );
    const { seeds } = await load({ kind: 'instruct', path: file });
    expect(seeds.map((s) => [s.meta.question, s.meta.answer])).toEqual([
      ['What is rain?', 'Water falling from clouds.'],
      ['Why is the sky blue?', 'Rayleigh scattering.'],
      ['Name a prime.', 'Seven.'],
    ]);
  });

  it('JSON arrays and CSV name the line of a bad row', async () => {
    const json = tmp('a.json', '[\n  {"instruction": "ok", "output": "fine"},\n  {"output": "no instruction"}\n]\n');
    expect(arrayItemLines(readFileSync(json, 'utf8'))).toEqual([2, 3]);
    await expect(load({ kind: 'instruct', path: json })).rejects.toThrow(`${json}:3: no instruction`);
    const csv = tmp('w.csv', 'title,text\n"A","first, with a comma"\n"B"\n"C","third ""quoted"""\n');
    await expect(load({ kind: 'web', path: csv })).rejects.toThrow(`${csv}:3: expected 2 fields, found 1`);
    const { seeds } = await load({ kind: 'web', path: csv }, { skipBad: true });
    expect(seeds.map((s) => s.text)).toEqual(['first, with a comma', 'third "quoted"']);
  });

  it('restores wikiHow titles, keeping real words whole and numbers that are part of the title', () => {
    expect(restoreTitleSpaces('HowtoMakeaLemonPieforaParty')).toBe('How to Make a Lemon Pie for a Party');
    expect(restoreTitleSpaces('HowtoFindAlltheWarpTilesinTheLegendofZeldaALinktothePast')).toBe(
      'How to Find All the Warp Tiles in The Legend of Zelda A Link to the Past',
    );
    expect(restoreTitleSpaces('HowtoGetColoredTitleBarsinWindows10')).toBe('How to Get Colored Title Bars in Windows 10');
    expect(restoreTitleSpaces('HowtoTellifYouHavePTSD1')).toBe('How to Tell if You Have PTSD');
  });
});

describe('Parquet seed files', () => {
  it('reads rows of a Parquet file through the same adapters, naming rows by number', async () => {
    const { writeParquet } = await import('../../src/io/parquet.js');
    const file = join(mkdtempSync(join(tmpdir(), 'cosmo-seeds-pq-')), 'docs.parquet');
    await writeParquet(file, [{ text: 'first document' }, { text: 'second document' }, { text: null }], { text: 'VARCHAR' });
    const bad: number[] = [];
    const { seeds, counts } = await load({ kind: 'web', path: file }, { skipBad: true, onBad: (_f: string, line: number) => bad.push(line) });
    expect(seeds.map((s) => s.text)).toEqual(['first document', 'second document']);
    expect(counts.rows).toBe(3);
    expect(bad).toEqual([3]);
    await expect(load({ kind: 'web', path: file, text_field: 'text' })).rejects.toThrow(`${file}:3: no text in field "text"`);
  });
});

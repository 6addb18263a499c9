/**
 * The viewer's catalog gives the answers SQL over the whole dataset gives: the same rows in the same
 * order for pages, filters and searches (case-insensitive, across words, in folded characters), the
 * same lengths for sorts, the same counts; it is kept, loaded again, and built again when the
 * dataset changes or its files are damaged.
 */
import { mkdtempSync, statSync, truncateSync, utimesSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { queryRows, writeParquet } from '../../src/io/parquet.js';
import { relation } from '../../src/report/collect.js';
import { openCatalog, type Catalog, type CatalogSource } from '../../src/view/catalog.js';
import { whereClause, type ViewQuery } from '../../src/view/query.js';
import { rng } from '../helpers/rng.js';

const ROWS = 5_300; // six blocks of 1,024, the last one partial
const FIELDS = ['id', 'text', 'format', 'audience', 'topic'];
const DIMS = ['format', 'audience', 'topic'];

/** Made-up words, most of them rare: a search for one reads a few blocks, as in a real corpus. */
function makeTexts(n: number): string[] {
  const r = rng(11);
  const syllables = 'ka lo mi zan tor be qu ex ri sto na vel po dri us gam fen hol jup wix yor ced bly smi ort thu ag el im on ur oj ek ib uz'.split(' ');
  const word = () => Array.from({ length: 2 + Math.floor(r() * 4) }, () => syllables[Math.floor(r() * syllables.length)]).join('');
  const common = ['the', 'and', 'of', 'water', 'learning'];
  // Characters RE2 folds to ASCII letters (KELVIN SIGN, LONG S), others it does not, and an emoji (two UTF-16 units, one character).
  const planted = ['\u212Aelvin', 'ſtar', 'Café', 'x2024', 'naïve', '🙂', 'don\'t', 'e-mail', 'C++'];
  return Array.from({ length: n }, () => {
    const parts: string[] = [];
    for (let i = 0, len = 5 + Math.floor(r() * 120); i < len; i++) {
      const x = r();
      let w = x < 0.3 ? common[Math.floor(r() * common.length)]! : x < 0.33 ? planted[Math.floor(r() * planted.length)]! : word();
      if (r() < 0.1) w = w.toUpperCase();
      parts.push(w + (r() < 0.1 ? '.' : ''));
    }
    return parts.join(' ');
  });
}

describe('the viewer catalog', () => {
  let src: CatalogSource;
  let catalog: Catalog;
  let from: string;
  let texts: string[];

  beforeAll(async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cosmo-catalog-'));
    texts = makeTexts(ROWS);
    const file = join(dir, 'export', '000-00000.parquet');
    await writeParquet(
      file,
      texts.map((text, i) => ({ id: `r${i}`, text, format: ['story', 'textbook', 'blogpost'][i % 3], audience: ['college', 'children'][(i >> 3) % 2], topic: i % 7 ? `topic ${i % 5}` : null })),
      { id: 'VARCHAR', text: 'VARCHAR', format: 'VARCHAR', audience: 'VARCHAR', topic: 'VARCHAR' },
    );
    ({ from } = await relation([file]));
    src = { dir: join(dir, 'view'), files: [file], from, fields: FIELDS, dims: DIMS };
    catalog = await openCatalog(src);
  }, 60_000);

  const query = (q: Partial<ViewQuery>): ViewQuery => ({ page: 0, size: 20, q: '', sort: '', filters: {}, ...q });
  const sqlIds = async (q: ViewQuery) => (await queryRows(`SELECT id FROM ${from} ${whereClause(q)} LIMIT ${q.size + 1} OFFSET ${q.page * q.size}`)).map((r) => String(r.id));
  const ids = async (c: Catalog, q: ViewQuery) => {
    const page = (await c.page(q))!;
    return [...(await c.fetch(page.rows, '"id"')).map((r) => String(r.id)), ...(page.more ? ['(more)'] : [])];
  };
  /** SQL's page with the row after it standing for "more". */
  const expected = async (q: ViewQuery) => {
    const got = await sqlIds(q);
    return got.length > q.size ? [...got.slice(0, q.size), '(more)'] : got;
  };
  const sqlCount = async (q: ViewQuery) => Number((await queryRows(`SELECT count(*)::INTEGER AS n FROM ${from} ${whereClause(q)}`))[0]!.n);

  it('pages and filters as SQL does, counts included', async () => {
    for (const q of [
      query({}),
      query({ page: 7 }),
      query({ page: 264, size: 20 }),
      query({ filters: { format: 'story' }, page: 3 }),
      query({ filters: { audience: 'children', topic: '(none)' } }),
      query({ filters: { format: 'nothing like it' } }),
    ]) {
      expect(await ids(catalog, q), JSON.stringify(q)).toEqual(await expected(q));
      expect(await catalog.count(q)).toBe(await sqlCount(q));
    }
  });

  it('finds what the regex finds: parts of words, across words, in any case, in folded characters', async () => {
    const r = rng(5);
    const searches = ['kelvin', 'KELVIN', 'STAR', 'ſtar', 'café', 'caf', 'x20', "don't", 'e-mail', 'c++', 'naïve', '🙂', '!!', 'zzzzqq', 'the water'];
    // Pieces of texts, cut anywhere, their case changed at random.
    for (let i = 0; i < 60; i++) {
      const t = texts[Math.floor(r() * texts.length)]!;
      const at = Math.floor(r() * (t.length - 3));
      const piece = t.slice(at, at + 2 + Math.floor(r() * 14));
      searches.push([...piece].map((c) => (r() < 0.5 ? c.toUpperCase() : c.toLowerCase())).join(''));
    }
    let narrowed = 0;
    for (const s of searches) {
      const q = query({ q: s });
      expect(await catalog.count(q), s).toBe(await sqlCount(q));
      expect(await ids(catalog, query({ q: s, page: 1, size: 10 })), s).toEqual(await expected(query({ q: s, page: 1, size: 10 })));
      const filtered = query({ q: s, filters: { audience: 'college' } });
      expect(await ids(catalog, filtered), s).toEqual(await expected(filtered));
      if (catalog.words.blocksFor(s).includes(0)) narrowed++;
    }
    // Many searches rule blocks out: the test covers skipping blocks, not only scanning them all.
    expect(narrowed).toBeGreaterThan(searches.length / 4);
  });

  it('sorts by length as SQL does (characters, not UTF-16 units), alone and with a filter or a search', async () => {
    const lengths = async (q: ViewQuery) => (await catalog.fetch((await catalog.page(q))!.rows, 'length(text)::INTEGER AS n')).map((r) => Number(r.n));
    for (const q of [query({ sort: 'long' }), query({ sort: 'short', page: 2 }), query({ sort: 'long', filters: { format: 'blogpost' } }), query({ sort: 'short', q: 'kelvin' })]) {
      const order = q.sort === 'long' ? 'DESC' : 'ASC';
      const sql = (await queryRows(`SELECT length(text)::INTEGER AS n FROM ${from} ${whereClause(q)} ORDER BY n ${order} LIMIT ${q.size} OFFSET ${q.page * q.size}`)).map((r) => Number(r.n));
      expect(await lengths(q), JSON.stringify(q)).toEqual(sql);
    }
  });

  it('is kept and loaded again; a changed dataset or a damaged catalog is built again', async () => {
    const copy = join(src.dir, 'rows.parquet');
    const built = statSync(copy).mtimeMs;
    const again = await openCatalog(src);
    expect(statSync(copy).mtimeMs).toBe(built);
    expect(await ids(again, query({ q: 'kelvin', page: 1 }))).toEqual(await ids(catalog, query({ q: 'kelvin', page: 1 })));

    truncateSync(join(src.dir, 'catalog.bin'), 100);
    const repaired = await openCatalog(src);
    expect(statSync(copy).mtimeMs).toBeGreaterThan(built);
    expect(await repaired.count(query({ q: 'water' }))).toBe(await sqlCount(query({ q: 'water' })));

    const rebuilt = statSync(copy).mtimeMs;
    const later = new Date(Date.now() + 5_000);
    utimesSync(src.files[0]!, later, later);
    await openCatalog(src);
    expect(statSync(copy).mtimeMs).toBeGreaterThan(rebuilt);
  }, 60_000);
});

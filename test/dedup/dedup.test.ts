import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/pipeline/corpus.js';
import type { CorpusConfig } from '../../src/pipeline/corpus.js';
import { collect, listShards, readAll, writeShard } from '../../src/io/shards.js';
import { runPipeline } from '../../src/pipeline/run.js';
import { stableId } from '../../src/records/id.js';
import { createLogger, silentLogger } from '../../src/util/log.js';
import { MinHasher, estimatedJaccard } from '../../src/dedup/minhash.js';
import type { RemovedSample } from '../../src/dedup/stage.js';
import { DEDUP_STAGES } from '../../src/dedup/stage.js';
import {
  changeIntro,
  editWords,
  jaccard,
  reorderParagraphs,
  resurface,
  rng,
  seedTexts,
  shingles,
  spamAssassinBodies,
} from './planted.js';

interface Doc {
  id: string;
  text: string;
}

const DEDUP_STEPS = DEDUP_STAGES.map((s) => s.name);

function config(dir: string, dedup: Record<string, unknown> = {}): CorpusConfig {
  return parseConfig(
    { seeds: [{ kind: 'web', path: 'unused.jsonl' }], output: dir, dedup, executor: { workers: 1 } },
    { file: join(dir, 'corpus.yaml'), baseDir: dir },
  );
}

/** Write docs as two filter shards (the stage before dedup) and run the dedup steps. */
async function runDedup(docs: Doc[], dedup: Record<string, unknown> = {}, dir = mkdtempSync(join(tmpdir(), 'cosmo-dedup-'))) {
  const half = Math.ceil(docs.length / 2);
  await writeShard(join(dir, 'filter', '0.jsonl'), docs.slice(0, half));
  await writeShard(join(dir, 'filter', '1.jsonl'), docs.slice(half));
  const cfg = config(dir, dedup);
  await runPipeline(cfg, { only: DEDUP_STEPS, log: silentLogger });
  return readResult(dir);
}

async function readResult(dir: string) {
  const kept = await collect(readAll<Doc>(join(dir, 'dedup')));
  const removed = await collect(readAll<RemovedSample>(join(dir, 'dedup', 'removed')));
  const report = JSON.parse(readFileSync(join(dir, 'dedup', 'report.json'), 'utf8')) as Record<string, number>;
  /** Each document's cluster representative: itself when kept, else its survivor. */
  const root = new Map<string, string>(kept.map((d) => [d.id, d.id]));
  for (const r of removed) root.set(r.id, r.duplicate_of);
  return { dir, kept, removed, report, root };
}

describe('MinHash', () => {
  const hasher = new MinHasher({ ngram: 5, bands: 14, rows: 8, seed: 1 });
  const sig = (t: string) => {
    const s = new Uint32Array(hasher.hashes);
    hasher.hash(t, s);
    return s;
  };

  it('estimates Jaccard similarity within sampling error on real texts', () => {
    const texts = seedTexts(120).concat(spamAssassinBodies(120)).slice(0, 300);
    const r = rng(7);
    const vocab = texts[0]!.split(/\s+/);
    let sq = 0;
    for (let i = 0; i < texts.length; i++) {
      const a = texts[i]!;
      const b = editWords(a, r() * 0.15, vocab, r);
      const truth = jaccard(shingles(a), shingles(b));
      sq += (estimatedJaccard(sig(a), sig(b)) - truth) ** 2;
    }
    // 112 hashes: standard error sqrt(J(1-J)/112) <= 0.047
    expect(Math.sqrt(sq / texts.length)).toBeLessThan(0.06);
  });

  it('hashes exactly alike texts that differ only in case, punctuation, spacing and numbers', () => {
    const base = 'The Krebs cycle, in 1937, was described by Hans Krebs: it oxidises acetyl-CoA.';
    const h = hasher.hash(base);
    for (const variant of ['the krebs cycle in 1953 was described by hans krebs it oxidises acetyl coa', 'THE  KREBS CYCLE, IN 7, WAS DESCRIBED BY HANS KRÉBS -- IT OXIDISES ACETYL/COA!']) {
      const v = hasher.hash(variant);
      expect([v.exactHi, v.exactLo]).toEqual([h.exactHi, h.exactLo]);
    }
    const other = hasher.hash('The Krebs cycle in 1937 was described by Hans Krebs it oxidises acetyl');
    expect([other.exactHi, other.exactLo]).not.toEqual([h.exactHi, h.exactLo]);
  });

  it('depends on the seed, and only on it', () => {
    const t = seedTexts(100)[0] ?? spamAssassinBodies(100)[0]!;
    expect(sig(t)).toEqual(new MinHasher({ ngram: 5, bands: 14, rows: 8, seed: 1 }).hash(t) && sig(t));
    const other = new Uint32Array(112);
    new MinHasher({ ngram: 5, bands: 14, rows: 8, seed: 2 }).hash(t, other);
    expect(estimatedJaccard(sig(t), other)).toBeLessThan(0.1);
  });
});

describe('dedup on planted near-duplicates of real texts', () => {
  const docs: Doc[] = [];
  /** (original, copy, true Jaccard) of every planted copy. */
  const planted: { a: string; b: string; j: number; how: string }[] = [];
  const exactCopies: { a: string; b: string }[] = [];
  let onePass: Awaited<ReturnType<typeof runDedup>>;

  beforeAll(async () => {
    const r = rng(2024);
    // A random 4,000 of the ~7,400 real texts keeps the suite fast.
    const originals = [...spamAssassinBodies(), ...seedTexts()]
      .map((t) => ({ t, k: r() }))
      .sort((x, y) => x.k - y.k)
      .slice(0, 4000)
      .map((x) => x.t);
    const vocab = originals.slice(0, 200).flatMap((t) => t.split(/\s+/).slice(0, 50));
    originals.forEach((text, i) => docs.push({ id: stableId('orig', i), text }));
    const pick = () => docs[Math.floor(r() * originals.length)]!;
    const plant = (orig: Doc, text: string, how: string) => {
      const copy = { id: stableId('copy', docs.length), text };
      docs.push(copy);
      planted.push({ a: orig.id, b: copy.id, j: jaccard(shingles(orig.text), shingles(text)), how });
    };
    for (let i = 0; i < 600; i++) {
      const o = pick();
      plant(o, editWords(o.text, 0.005 + r() * 0.045, vocab, r), 'edits');
    }
    for (let i = 0; i < 300; i++) {
      const o = pick();
      plant(o, reorderParagraphs(o.text, r), 'reordered');
    }
    for (let i = 0; i < 300; i++) {
      const o = pick();
      plant(o, changeIntro(o.text, pick().text, 0.03 + r() * 0.1), 'intro');
    }
    // Far copies (Jaccard mostly 0.2-0.5): must not be merged with their originals.
    for (let i = 0; i < 600; i++) {
      const o = pick();
      plant(o, editWords(o.text, 0.1 + r() * 0.2, vocab, r), 'far');
    }
    for (let i = 0; i < 200; i++) {
      const o = pick();
      const copy = { id: stableId('exact', i), text: resurface(o.text) };
      docs.push(copy);
      exactCopies.push({ a: o.id, b: copy.id });
    }
    onePass = await runDedup(docs);
  });

  it('plants enough pairs on both sides of the thresholds', () => {
    expect(planted.filter((p) => p.j >= 0.8).length).toBeGreaterThan(700);
    expect(planted.filter((p) => p.j <= 0.5).length).toBeGreaterThan(400);
  });

  it('finds >= 95% of the pairs at Jaccard >= 0.8', () => {
    const near = planted.filter((p) => p.j >= 0.8);
    const found = near.filter((p) => onePass.root.get(p.a) === onePass.root.get(p.b));
    expect(found.length / near.length).toBeGreaterThanOrEqual(0.95);
    for (const how of ['edits', 'reordered', 'intro']) {
      const sub = near.filter((p) => p.how === how);
      expect(sub.length).toBeGreaterThan(50);
      expect(sub.filter((p) => onePass.root.get(p.a) === onePass.root.get(p.b)).length / sub.length).toBeGreaterThanOrEqual(0.9);
    }
  });

  it('merges <= 0.1% of the pairs at Jaccard <= 0.5, and removes no document without a similar one in its cluster', () => {
    const far = planted.filter((p) => p.j <= 0.5);
    const merged = far.filter((p) => onePass.root.get(p.a) === onePass.root.get(p.b));
    expect(merged.length / far.length).toBeLessThanOrEqual(0.001);

    // Every removed document must resemble (J > 0.5) some other member of its cluster.
    const byId = new Map(docs.map((d) => [d.id, d]));
    const members = new Map<string, string[]>();
    for (const [id, root] of onePass.root) members.set(root, [...(members.get(root) ?? []), id]);
    const cache = new Map<string, Set<string>>();
    const sh = (id: string) => cache.get(id) ?? cache.set(id, shingles(byId.get(id)!.text)).get(id)!;
    let falseMerges = 0;
    for (const r of onePass.removed) {
      const others = members.get(r.duplicate_of)!.filter((id) => id !== r.id);
      if (!others.some((o) => jaccard(sh(r.id), sh(o)) > 0.5)) falseMerges++;
    }
    expect(falseMerges / docs.length).toBeLessThanOrEqual(0.001);
  });

  it('removes exact copies as exact duplicates and keeps every document exactly once', () => {
    const removed = new Map(onePass.removed.map((r) => [r.id, r]));
    for (const { a, b } of exactCopies) {
      const root = onePass.root.get(a);
      expect(onePass.root.get(b)).toBe(root);
      // When one of the pair survives, the other goes as its exact copy (else a smaller-id near copy survives both).
      if (root === a) expect(removed.get(b)!.duplicate_kind).toBe('exact');
      if (root === b) expect(removed.get(a)!.duplicate_kind).toBe('exact');
    }
    expect(exactCopies.filter(({ a, b }) => [a, b].includes(onePass.root.get(a)!)).length).toBeGreaterThan(100);
    const out = [...onePass.kept.map((d) => d.id), ...onePass.removed.map((d) => d.id)].sort();
    expect(out).toEqual(docs.map((d) => d.id).sort());
    // The survivor of a cluster is its smallest id, and it is kept.
    const keptIds = new Set(onePass.kept.map((d) => d.id));
    for (const r of onePass.removed) {
      expect(keptIds.has(r.duplicate_of)).toBe(true);
      expect(r.duplicate_of < r.id).toBe(true);
    }
    expect(onePass.report.docs).toBe(docs.length);
    expect(onePass.report.removed).toBe(onePass.removed.length);
    expect(onePass.report.duplicate_rate).toBeCloseTo(onePass.removed.length / docs.length, 10);
    const stats = JSON.parse(readFileSync(join(onePass.dir, 'dedup', 'stats.json'), 'utf8'));
    expect(stats.counters['removed.exact'] + stats.counters['removed.near']).toBe(onePass.removed.length);
  });

  it('gives the same result in four sharded steps as in one pass', async () => {
    const sharded = await runDedup(docs, { tasks: 3 });
    expect(listShards(join(sharded.dir, 'dedup'))).toHaveLength(3);
    expect(listShards(join(sharded.dir, 'dedup-signatures'))).toHaveLength(0); // binary step files are never read as data
    expect(new Map([...sharded.root].sort())).toEqual(new Map([...onePass.root].sort()));
    const kinds = (rs: RemovedSample[]) => new Map(rs.map((r) => [r.id, r.duplicate_kind]));
    expect(kinds(sharded.removed)).toEqual(kinds(onePass.removed));
  });

  it('writes byte for byte the same output with signatures on worker threads as on the main thread', async () => {
    const files = (dir: string) =>
      ['dedup/0.jsonl', 'dedup/removed/0.jsonl', 'dedup/report.json'].map((f) => readFileSync(join(dir, f), 'utf8'));
    const counters = (dir: string) => JSON.parse(readFileSync(join(dir, 'dedup', 'stats.json'), 'utf8')).counters as Record<string, number>;
    const single = await runDedup(docs, { threads: 0 });
    expect(single.removed.length).toBeGreaterThan(1000);
    for (const threads of [1, 3]) {
      const parallel = await runDedup(docs, { threads });
      expect(files(parallel.dir)).toEqual(files(single.dir));
      expect(counters(parallel.dir)).toEqual(counters(single.dir));
    }
    // The default (worker threads wherever there are two cores) gives that same output.
    expect(files(onePass.dir)).toEqual(files(single.dir));
  });

  it('with threshold 0 trusts every bucket match, as datatrove does, and merges more', async () => {
    const plain = await runDedup(docs, { threshold: 0 });
    expect(plain.removed.length).toBeGreaterThanOrEqual(onePass.removed.length);
    const far = planted.filter((p) => p.j <= 0.5);
    const merged = (res: typeof plain) => far.filter((p) => res.root.get(p.a) === res.root.get(p.b)).length;
    expect(merged(plain)).toBeGreaterThanOrEqual(merged(onePass));
  });
});

describe('dedup steps', () => {
  const texts = spamAssassinBodies(80).slice(0, 300);
  const docs: Doc[] = texts.map((text, i) => ({ id: stableId('d', i), text }));
  docs.push({ id: stableId('copy'), text: resurface(texts[5]!) }, { id: stableId('near'), text: texts[9]! + ' Thanks again.' });

  it('resumes a sharded run where it stopped', async () => {
    const reference = await runDedup(docs);
    const dir = mkdtempSync(join(tmpdir(), 'cosmo-dedup-'));
    await writeShard(join(dir, 'filter', '0.jsonl'), docs);
    const cfg = config(dir, { tasks: 2 });
    await runPipeline(cfg, { only: ['dedup-signatures', 'dedup-buckets'], log: silentLogger });
    // A bucket task that died before its marker: its output is gone and it must run again.
    rmSync(join(dir, 'dedup-buckets', '1.bin'));
    rmSync(join(dir, 'dedup-buckets', '.done', '1.json'));
    await runPipeline(cfg, { only: DEDUP_STEPS, log: silentLogger });
    const resumed = await readResult(dir);
    expect(new Map([...resumed.root].sort())).toEqual(new Map([...reference.root].sort()));
    expect(resumed.removed.length).toBeGreaterThanOrEqual(2);
  });

  it('never treats texts without words (failed requests) as duplicates, in one pass or sharded', async () => {
    const failed = [1, 2, 3].map((i) => ({ id: stableId('failed', i), text: '', error: 'HTTP 500' }));
    for (const tasks of [1, 2]) {
      const res = await runDedup([...docs, ...failed, { id: stableId('dots'), text: '... !!' }], { tasks });
      const kept = new Set(res.kept.map((d) => d.id));
      for (const f of failed) expect(kept.has(f.id)).toBe(true);
      expect(kept.has(stableId('dots'))).toBe(true);
      expect(res.removed.map((r) => r.id)).not.toContain(failed[0]!.id);
    }
  });

  it('shows its progress over both of its passes, on worker threads or not', async () => {
    for (const threads of [0, 2]) {
      const dir = mkdtempSync(join(tmpdir(), 'cosmo-dedup-'));
      const many = Array.from({ length: 10 }, (_, k) => docs.map((d) => ({ id: `${d.id}-${k}`, text: `${k} ${d.text}` }))).flat();
      await writeShard(join(dir, 'filter', '0.jsonl'), many);
      const lines: string[] = [];
      const log = createLogger('test', { level: 'info', write: (l) => lines.push(l) });
      await runPipeline(config(dir, { threads }), { only: DEDUP_STEPS, log, progress: 'lines' });
      const last = lines.filter((l) => l.includes('[test/dedup] progress')).at(-1)!;
      // Its records once, and the shard's bytes twice: the signatures, then the split.
      const mb = ((2 * statSync(join(dir, 'filter', '0.jsonl')).size) / 1e6).toFixed(1);
      expect(last).toMatch(new RegExp(`records=${many.length} .*mb=${mb}0? of_mb=${mb}0? `));
    }
  });

  it('stops on an abort with worker threads and leaves no partial output', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cosmo-dedup-'));
    const many = Array.from({ length: 20 }, (_, k) => docs.map((d) => ({ id: `${d.id}-${k}`, text: `${k} ${d.text}` }))).flat();
    await writeShard(join(dir, 'filter', '0.jsonl'), many);
    const ac = new AbortController();
    setTimeout(() => ac.abort(new Error('stop')), 50);
    await expect(runPipeline(config(dir, { threads: 2 }), { only: DEDUP_STEPS, log: silentLogger, signal: ac.signal })).rejects.toThrow(/stop/);
    expect(listShards(join(dir, 'dedup'))).toEqual([]);
    expect(listShards(join(dir, 'dedup', 'removed'))).toEqual([]);
    // A rerun completes, with the same result as a run on the main thread.
    await runPipeline(config(dir, { threads: 2 }), { only: DEDUP_STEPS, log: silentLogger });
    const again = await readResult(dir);
    const single = await runDedup(many, { threads: 0 });
    expect(new Map([...again.root].sort())).toEqual(new Map([...single.root].sort()));
    expect(again.kept.length + again.removed.length).toBe(many.length);
  });

  it('reads JSONL on worker threads exactly as on the main thread: CRLF, lone CR, blank lines, bad lines, no final newline', async () => {
    const line = (d: Doc) => JSON.stringify(d);
    const body = [
      line(docs[0]!),
      '',
      '   ',
      line(docs[1]!) + '\r',
      '{"id": "broken", ',
      line(docs[2]!),
      '[1, 2]',
      line({ id: stableId('copy-crlf'), text: docs[0]!.text }),
    ].join('\n');
    const run = async (threads: number, skipBad: boolean) => {
      const dir = mkdtempSync(join(tmpdir(), 'cosmo-dedup-'));
      await writeShard(join(dir, 'filter', '0.jsonl'), docs.slice(3, 200));
      writeFileSync(join(dir, 'filter', '1.jsonl'), body + '\r' + line(docs[3]!) + '\r\n\r\n' + line(docs[4]!));
      // Valid records, not as JSON.stringify writes them: kept ones must be written anew, not copied.
      const spaced = (d: Doc) => `{ "id" : ${JSON.stringify(d.id)},  "text": ${JSON.stringify(d.text).replaceAll('\\u00e9', 'é')} }`;
      writeFileSync(join(dir, 'filter', '2.jsonl'), docs.slice(200, 230).map(spaced).join('\n') + '\n');
      const res = await runPipeline(config(dir, { threads }), { only: DEDUP_STEPS, log: silentLogger, skipBad }).then(
        () => undefined,
        (err: Error) => err.message.replaceAll(dir, '<dir>'),
      );
      if (res !== undefined) return { error: res };
      const read = (f: string) => readFileSync(join(dir, 'dedup', f), 'utf8');
      const counters = JSON.parse(read('stats.json')).counters as Record<string, number>;
      return { kept: read('0.jsonl'), removed: read('removed/0.jsonl'), counters };
    };
    const single = await run(0, true);
    expect(single.kept).toContain(JSON.stringify(docs[210]!)); // a spaced record, written as JSON.stringify does
    expect(single.counters?.['bad_lines']).toBe(4); // two bad lines, counted on each of the two passes
    expect(single.removed).toContain(stableId('copy-crlf'));
    expect(await run(2, true)).toEqual(single);
    const error = await run(0, false);
    expect(error.error).toMatch(/1\.jsonl:5: malformed JSON/);
    expect(await run(2, false)).toEqual(error);
  });

  it('refuses to split an input that changed after the signatures were taken', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cosmo-dedup-'));
    await writeShard(join(dir, 'filter', '0.jsonl'), docs);
    const cfg = config(dir, { tasks: 2 });
    await runPipeline(cfg, { only: ['dedup-signatures', 'dedup-buckets', 'dedup-clusters'], log: silentLogger });
    await writeShard(join(dir, 'filter', '0.jsonl'), docs.slice(1));
    await expect(runPipeline(cfg, { only: ['dedup'], log: silentLogger })).rejects.toThrow(/input in .*filter changed/);
  });

  it('refuses signatures taken with other parameters', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cosmo-dedup-'));
    await writeShard(join(dir, 'filter', '0.jsonl'), docs);
    await runPipeline(config(dir, { tasks: 2 }), { only: ['dedup-signatures'], log: silentLogger });
    await expect(runPipeline(config(dir, { tasks: 2, bands: 10 }), { only: DEDUP_STEPS, log: silentLogger })).rejects.toThrow(
      // The pipeline's stage fingerprint refuses it first; dedup's own check (checkParams) is the backstop.
      /dedup-signatures was made with other settings|computed with .*"bands":14.*delete the dedup-\* folders/,
    );
  });

  it('names the file and line of a malformed input record, or skips it with skipBad', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cosmo-dedup-'));
    await writeShard(join(dir, 'filter', '0.jsonl'), docs.slice(0, 10));
    writeFileSync(join(dir, 'filter', '0.jsonl'), readFileSync(join(dir, 'filter', '0.jsonl'), 'utf8') + '{"id": \n');
    await expect(runPipeline(config(dir), { only: DEDUP_STEPS, log: silentLogger })).rejects.toThrow(/0\.jsonl:11: malformed JSON/);
    await runPipeline(config(dir), { only: DEDUP_STEPS, log: silentLogger, skipBad: true });
    expect((await readResult(dir)).kept).toHaveLength(10);
  });
});

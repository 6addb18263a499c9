/**
 * Retrieval benchmark at scale: a knowledge source of N passages (1M by default) made of real seed
 * prose (bench/knowledge-corpus.ts), indexed as users index it, then queried.
 *
 * 1. `cosmo knowledge corpus.yaml` from the compiled dist/ (run `npm run build` first) as a process,
 *    with 1 task and with 2 tasks (this machine's cores): wall and CPU time, passages/s, peak RSS of
 *    the largest process. Target: >= 20k passages/s; memory well under the index's size on disk.
 * 2. Queries in-process on one thread, from prompts as the ground step builds them (wikiHow titles,
 *    OpenStax units with their chapter and book, web extracts), with the default settings (the 8
 *    rarest terms, at most 30,000 postings of long lists) and reading every posting: queries/s, and
 *    how good the passages returned are by their exact BM25 score. Target: >= 1,000 queries/s at 1M.
 *    Memory: what the open index holds, beside its size on disk.
 * 3. `cosmo ground` as a process on 10,000 prompts built from the real seeds: prompts grounded per second.
 *
 *   npx tsx bench/retrieve.ts [passages=1000000]     (RUNS=n build runs per setting, default 3; KEEP=1 keeps the folder)
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { retrieveSchema } from '../src/knowledge/config.js';
import { promptQuery } from '../src/knowledge/ground.js';
import { KnowledgeIndex } from '../src/knowledge/search.js';
import { restoreTitleSpaces } from '../src/seeds/wikihow.js';
import { rng } from '../test/helpers/rng.js';
import { sharedPath } from '../test/helpers/shared-data.js';
import { writeKnowledge } from './knowledge-corpus.js';
import { timedCosmo } from './lib.js';

const total = Number(process.argv[2] ?? 1_000_000);
const runs = Number(process.env.RUNS ?? 3);
// REUSE=<folder kept by KEEP=1> skips writing the source and building: only queries and `cosmo ground` run.
const reuse = process.env.REUSE;
const dir = reuse ?? mkdtempSync(join(tmpdir(), 'cosmo-bench-retrieve-'));
const du = (path: string) => Number(execFileSync('du', ['-sb', path], { encoding: 'utf8' }).split('\t')[0]);
const mb = (bytes: number) => `${(bytes / 2 ** 20).toFixed(0)} MB`;
const load = () => loadavg()[0]!.toFixed(2);

try {
  if (!reuse) await build();
  const onDisk = du(join(dir, 'out/knowledge'));
  const passages = JSON.parse(readFileSync(join(dir, 'out/knowledge/index.json'), 'utf8')).passages as number;
  console.log(`index: ${passages.toLocaleString('en')} passages, ${mb(onDisk)} on disk (postings and dictionary ${mb(onDisk - textBytes(join(dir, 'out/knowledge')))}, passage texts the rest)`);

  // ---- 2. Queries in-process, one thread.
  const rss0 = process.memoryUsage().rss;
  let t = performance.now();
  const index = KnowledgeIndex.open(join(dir, 'out/knowledge'));
  console.log(`open: ${(performance.now() - t).toFixed(0)} ms; held in memory ${mb(index.memory)} (RSS +${mb(process.memoryUsage().rss - rss0)}) for an index of ${mb(onDisk)} on disk`);
  const { max_terms: maxTerms, postings } = retrieveSchema.parse({});
  for (const [kind, queries] of Object.entries(benchQueries())) {
    for (const q of queries.slice(0, 100)) index.search(q, { k: 5, maxTerms, postings });
    const exact = queries.map((q) => index.search(q, { k: 50, maxTerms }));
    for (const [name, limit] of [[`default (${postings.toLocaleString('en')} postings)`, postings], ['every posting', Infinity]] as const) {
      for (let run = 1; run <= runs; run++) {
        const before = load();
        const cpu = process.cpuUsage().user;
        t = performance.now();
        const results = queries.map((q) => index.search(q, { k: 5, maxTerms, postings: limit }));
        const wall = (performance.now() - t) / 1000;
        const cpuS = (process.cpuUsage().user - cpu) / 1e6;
        // How good the passages returned are, by their exact BM25 score: their sum over that of the exact top 5.
        const ratio =
          results.reduce((sum, hits, i) => {
            const scores = new Map(exact[i]!.map((h) => [h.passage.id, h.score]));
            const best = exact[i]!.slice(0, 5).reduce((n, h) => n + h.score, 0);
            return sum + (best ? hits.reduce((n, h) => n + (scores.get(h.passage.id) ?? 0), 0) / best : 1);
          }, 0) / queries.length;
        console.log(
          `queries (${kind}, ${queries.length}), ${name}, run ${run}: ${Math.round(queries.length / wall).toLocaleString('en')} queries/s wall, ` +
            `${Math.round(queries.length / cpuS).toLocaleString('en')} per CPU-second; exact score of the top 5 returned ${ratio.toFixed(3)} of the best (load ${before})`,
        );
      }
    }
  }
  index.close();

  // ---- 3. The ground step as users run it.
  const before = load();
  timedCosmo(dir, ['prompts', 'corpus.yaml'], true);
  const g = timedCosmo(dir, ['ground', 'corpus.yaml'], true);
  console.log(`cosmo ground: 10,000 prompts in ${g.wall.toFixed(1)} s wall (${Math.round(10_000 / g.wall).toLocaleString('en')} prompts/s, start-up included), ${g.cpu.toFixed(1)} s CPU, peak RSS ${g.rssMb.toFixed(0)} MB (load ${before})`);
  const one = timedCosmo(dir, ['retrieve', '--knowledge', 'out/knowledge', 'How to observe the planets with a small telescope'], true);
  console.log(`cosmo retrieve, one query as a process: ${one.wall.toFixed(2)} s wall, peak RSS ${one.rssMb.toFixed(0)} MB`);
} finally {
  if (!process.env.KEEP && !reuse) rmSync(dir, { recursive: true, force: true });
  else console.log(`kept ${dir}`);
}

/** Write the knowledge source, then build its index with 1 and with 2 tasks, `runs` times each. */
async function build(): Promise<void> {
  const t = performance.now();
  const { documents } = await writeKnowledge(join(dir, 'source'), total, 4);
  console.log(`knowledge source: ${documents.toLocaleString('en')} documents of ~1,000 words (about ${total.toLocaleString('en')} passages), ${mb(du(join(dir, 'source')))} of JSONL in 4 files, written in ${((performance.now() - t) / 1000).toFixed(1)} s`);

  // ---- 1. Building, as a user builds it.
  const corpus = (tasks: number) =>
    [
      'name: retrieve-bench',
      'output: out',
      `seeds: [{ kind: wikihow, path: ${sharedPath('seed/wikihow')} }]`,
      'prompts: { count: 10000, mix: [{ kind: curated, match: { shape: title }, format: wikihow }] }',
      `knowledge: { files: source, tasks: ${tasks} }`,
      `executor: { workers: ${tasks} }`,
      '',
    ].join('\n');
  for (const tasks of [1, 2]) {
    for (let run = 1; run <= runs; run++) {
      rmSync(join(dir, 'out'), { recursive: true, force: true });
      rmSync(join(dir, '.cosmo'), { recursive: true, force: true });
      writeFileSync(join(dir, 'corpus.yaml'), corpus(tasks));
      const before = load();
      const r = timedCosmo(dir, ['knowledge', 'corpus.yaml'], true);
      const passages = JSON.parse(readFileSync(join(dir, 'out/knowledge/index.json'), 'utf8')).passages as number;
      console.log(
        `build, ${tasks} task(s), run ${run}: ${r.wall.toFixed(1)} s wall, ${r.cpu.toFixed(1)} s CPU, ` +
          `${Math.round(passages / r.wall).toLocaleString('en')} passages/s, peak RSS ${r.rssMb.toFixed(0)} MB (load ${before})`,
      );
    }
  }
}

/** Bytes of the passage texts (text.jsonl) of every segment under `dir`. */
function textBytes(dir: string): number {
  return Number(execFileSync('sh', ['-c', `cat ${dir}/seg-*/text.jsonl | wc -c`], { encoding: 'utf8' }).trim());
}

/**
 * 1,000 distinct queries of each kind, as the ground step builds them from real seeds: wikiHow titles,
 * OpenStax units (with their book and chapter), and 48-word windows of the web documents. Distinct,
 * so that no query is answered from the page cache of its twin.
 */
function benchQueries(): Record<string, string[]> {
  const r = rng(3);
  const distinct = <T>(xs: T[], n: number) => {
    const order = xs.map((x) => [r(), x] as const).sort((a, b) => a[0] - b[0]);
    return order.slice(0, n).map(([, x]) => x);
  };
  const titles = [...new Set(readFileSync(sharedPath('seed/wikihow/wikihow_sum_all_test_titles.txt'), 'utf8').split('\n').filter(Boolean))];
  const units = readFileSync(sharedPath('seed/openstax/openstax_toc_intros.jsonl'), 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as { path: string[]; title: string; abstract: string; book: string });
  const windows: string[] = [];
  for (const f of ['seed/web/c4_demo.jsonl', 'seed/web/dolma_cc_en_head-0091.jsonl'])
    for (const l of readFileSync(sharedPath(f), 'utf8').split('\n').filter(Boolean)) {
      const words = (JSON.parse(l) as { text: string }).text.split(/\s+/).filter(Boolean);
      for (let i = 0; i + 48 <= words.length; i += 48) windows.push(words.slice(i, i + 48).join(' '));
    }
  return {
    'wikiHow titles': distinct(titles, 1000).map((t) => promptQuery({ seed_data: restoreTitleSpaces(t) }, 48)),
    'OpenStax units': distinct(units, 1000).map((u) => promptQuery({ topic: u.book, seed_data: [...u.path, u.title, u.abstract].join('. ') }, 48)),
    'web extracts': distinct(windows, 1000).map((w) => promptQuery({ seed_data: w }, 48)),
  };
}

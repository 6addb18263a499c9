import { resolve } from 'node:path';
import type { Command } from 'commander';
import { retrieveSchema } from '../knowledge/config.js';
import { CosmoError } from '../util/errors.js';

interface Options {
  knowledge: string;
  k: string;
  minMatch: string;
  maxTerms: string;
  postings: string;
  json?: boolean;
}

/** The ground step's defaults, so that a query by hand retrieves what a prompt would. */
const DEFAULTS = retrieveSchema.parse({});

const positive = (flag: string, v: string, integer: boolean) => {
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0 || (integer && (!Number.isInteger(n) || n === 0))) throw new CosmoError(`retrieve: ${flag} must be a ${integer ? 'positive integer' : 'number ≥ 0'}, got "${v}"`);
  return n;
};

/** `cosmo retrieve QUERY --knowledge DIR`: a knowledge index's best passages for a query, to try a source by hand. */
export function registerRetrieve(program: Command): void {
  program
    .command('retrieve')
    .description('print the passages a knowledge index returns for a query (build the index with `cosmo knowledge corpus.yaml`)')
    .argument('<query...>', 'the query: a topic, a title, a few sentences')
    .requiredOption('--knowledge <dir>', "the knowledge stage's folder, e.g. out/knowledge")
    .option('-k <n>', 'passages to print', '5')
    .option('--min-match <x>', "leave out passages matching less than this share of the query's weight", String(DEFAULTS.min_match))
    .option('--max-terms <n>', "count only the query's n rarest terms", String(DEFAULTS.max_terms))
    .option('--postings <n>', 'read at most n postings of long lists, those that weigh most first', String(DEFAULTS.postings))
    .option('--json', 'print JSON lines: {rank, score, match, id, title, source, text}')
    .action(async (words: string[], opts: Options) => {
      const { KnowledgeIndex } = await import('../knowledge/search.js');
      const index = KnowledgeIndex.open(resolve(opts.knowledge));
      try {
        const query = words.join(' ');
        const started = performance.now();
        const hits = index.search(query, {
          k: positive('-k', opts.k, true),
          minMatch: positive('--min-match', opts.minMatch, false),
          maxTerms: positive('--max-terms', opts.maxTerms, true),
          postings: positive('--postings', opts.postings, true),
        });
        const ms = performance.now() - started;
        if (opts.json) {
          for (const [i, h] of hits.entries()) process.stdout.write(JSON.stringify({ rank: i + 1, score: round(h.score), match: round(h.match), ...h.passage }) + '\n');
          return;
        }
        process.stdout.write(`${hits.length} passage(s) of ${index.passages.toLocaleString('en')} for "${query}" (${ms.toFixed(1)} ms)\n`);
        for (const [i, h] of hits.entries()) {
          const p = h.passage;
          process.stdout.write(`\n#${i + 1}  score ${h.score.toFixed(2)}  match ${h.match.toFixed(2)}  ${p.id}${p.title ? `  ${p.title}` : ''}\n${p.text}\n`);
        }
      } finally {
        index.close();
      }
    });
}

const round = (x: number) => Math.round(x * 1000) / 1000;

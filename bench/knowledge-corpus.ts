/**
 * A knowledge source of any size made of real text: the sentences of the shared seeds (OpenStax
 * sections, Wikipedia articles, C4 and Dolma web pages, Alpaca answers) in their order, and each
 * synthetic document a run of consecutive sentences from a random place, so that a document stays
 * on one subject and the vocabulary and term frequencies are those of real prose.
 */
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { JsonlWriter } from '../src/io/jsonl-writer.js';
import { rng } from '../test/helpers/rng.js';
import { hasSharedData, sharedPath } from '../test/helpers/shared-data.js';

interface Source {
  title: string;
  sentences: string[];
}

/** Every seed text as {title, sentences}. */
export function realTexts(): Source[] {
  if (!hasSharedData) throw new Error('this benchmark needs the shared seed data (COSMO_SHARED_DATA)');
  const split = (t: string) => t.split(/(?<=[.!?])\s+/).filter((s) => s.split(' ').length >= 4);
  const out: Source[] = [];
  for (const line of readFileSync(sharedPath('seed/openstax/openstax_toc_intros.jsonl'), 'utf8').split('\n').filter(Boolean)) {
    const s = JSON.parse(line) as { book: string; title: string; abstract: string; intro_paragraphs: string[] };
    out.push({ title: `${s.book}: ${s.title}`, sentences: split([s.abstract, ...s.intro_paragraphs].join(' ')) });
  }
  for (const [i, line] of readFileSync(sharedPath('seed/web/wiki_demo.txt'), 'utf8').split('\n').filter(Boolean).entries())
    out.push({ title: `Wikipedia ${i}`, sentences: split(line) });
  for (const f of ['seed/web/c4_demo.jsonl', 'seed/web/dolma_cc_en_head-0091.jsonl'])
    for (const [i, line] of readFileSync(sharedPath(f), 'utf8').split('\n').filter(Boolean).entries())
      out.push({ title: `Web page ${i}`, sentences: split((JSON.parse(line) as { text: string }).text) });
  for (const [i, r] of (JSON.parse(readFileSync(sharedPath('seed/instruct/alpaca_en_demo.json'), 'utf8')) as { output: string }[]).entries())
    out.push({ title: `Answer ${i}`, sentences: split(r.output) });
  return out.filter((s) => s.sentences.length > 0);
}

/**
 * Write documents of about `words` words until `passages` passages of `passageWords` (overlap
 * `overlap`) would be cut from them, as JSONL {id, title, text} in `files` files under `dir`.
 */
export async function writeKnowledge(dir: string, passages: number, files: number, opts = { words: 1000, passageWords: 150, overlap: 30 }): Promise<{ documents: number }> {
  const texts = realTexts();
  const all = texts.flatMap((t, ti) => t.sentences.map((s) => [ti, s] as const));
  const r = rng(11);
  mkdirSync(dir, { recursive: true });
  const writers = await Promise.all(Array.from({ length: files }, (_, i) => JsonlWriter.open(join(dir, `part-${i}.jsonl`))));
  const perDoc = Math.ceil((opts.words - opts.overlap) / (opts.passageWords - opts.overlap));
  let documents = 0;
  for (let made = 0; made < passages; made += perDoc) {
    let at = Math.floor(r() * all.length);
    const parts: string[] = [];
    let n = 0;
    while (n < opts.words) {
      const s = all[at++ % all.length]![1];
      parts.push(s);
      n += s.split(' ').length;
    }
    const title = `${texts[all[at % all.length]![0]]!.title} (${documents})`;
    await writers[documents % files]!.write({ id: `doc${documents}`, title, text: parts.join(' ') });
    documents++;
  }
  for (const w of writers) await w.commit();
  return { documents };
}

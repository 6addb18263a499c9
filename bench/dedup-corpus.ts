/**
 * A near-duplicate corpus of ~1 KB documents for the dedup benchmark, independent of src/dedup:
 * originals made of real sentences (SpamAssassin mail, OpenStax, C4, Wikipedia) drawn at random,
 * and planted copies of five kinds (word edits, reordered sentences, a replaced intro, an appended
 * tail, a cut tail), each with its true Jaccard similarity to its original over word 5-gram
 * shingles (the reference shingling in test/dedup/planted.ts).
 */
import { readFileSync } from 'node:fs';
import { hasSharedData, sharedPath } from '../test/helpers/shared-data.js';
import { changeIntro, editWords, jaccard, rng, seedTexts, shingles, spamAssassinBodies } from '../test/dedup/planted.js';

export type CopyKind = 'edited' | 'reordered' | 'intro' | 'appended' | 'cut';
export const COPY_KINDS: CopyKind[] = ['edited', 'reordered', 'intro', 'appended', 'cut'];

export interface PlantedDoc {
  id: string;
  text: string;
  /** The original this document copies (its own id for an original). */
  family: string;
  kind?: CopyKind;
  /** True Jaccard similarity with the original. */
  jaccard?: number;
}

/** `n` documents, `copyShare` of them planted copies. */
export function plantedCorpus(n: number, copyShare = 0.3, seed = 1): PlantedDoc[] {
  const r = rng(seed);
  const texts = [...spamAssassinBodies(20), ...seedTexts(20)];
  if (hasSharedData) texts.push(...readFileSync(sharedPath('seed/web/wiki_demo.txt'), 'utf8').split(/\n{2,}/));
  const sentences = [...new Set(texts.flatMap((t) => t.replace(/\s+/g, ' ').split(/(?<=[.!?])\s+/)).filter((s) => s.length >= 40 && s.length <= 400))];
  const vocab = sentences.slice(0, 2000).flatMap((s) => s.split(' '));
  const pick = () => sentences[Math.floor(r() * sentences.length)]!;
  // An original: sentences until ~1 KB, split into two or three paragraphs.
  const original = () => {
    const parts: string[] = [];
    let len = 0;
    while (len < 900 + r() * 300) {
      const s = pick();
      parts.push(s);
      len += s.length + 1;
    }
    const cut = Math.max(1, Math.floor(parts.length / 2));
    return `${parts.slice(0, cut).join(' ')}\n\n${parts.slice(cut).join(' ')}`;
  };
  const sentencesOf = (t: string) => t.split(/(?<=[.!?])\s+/);
  const copy = (src: string, kind: CopyKind): string => {
    switch (kind) {
      case 'edited':
        return editWords(src, r() * 0.12, vocab, r);
      case 'reordered': {
        const s = sentencesOf(src);
        // Swap a few sentences: shingles break only at the seams.
        for (let k = 0; k < 1 + Math.floor(r() * 3); k++) {
          const i = Math.floor(r() * s.length);
          const j = Math.floor(r() * s.length);
          [s[i], s[j]] = [s[j]!, s[i]!];
        }
        return s.join(' ');
      }
      case 'intro':
        return changeIntro(src, original(), 0.05 + r() * 0.2);
      case 'appended':
        return `${src}\n\n${Array.from({ length: 1 + Math.floor(r() * 2) }, pick).join(' ')}`;
      case 'cut': {
        const words = src.split(' ');
        return words.slice(0, Math.round(words.length * (0.75 + r() * 0.2))).join(' ');
      }
    }
  };
  const docs: PlantedDoc[] = [];
  const originals: PlantedDoc[] = [];
  const id = () => `doc-${String(docs.length).padStart(7, '0')}`;
  while (docs.length < n) {
    if (originals.length > 0 && r() < copyShare) {
      const src = originals[Math.floor(r() * originals.length)]!;
      const kind = COPY_KINDS[Math.floor(r() * COPY_KINDS.length)]!;
      const text = copy(src.text, kind);
      docs.push({ id: id(), text, family: src.id, kind, jaccard: jaccard(shingles(text), shingles(src.text)) });
    } else {
      const d: PlantedDoc = { id: id(), text: original(), family: '' };
      d.family = d.id;
      docs.push(d);
      originals.push(d);
    }
  }
  return docs;
}

export interface Removal {
  id: string;
  duplicate_of: string;
}

/** Recall of planted copies by band of true Jaccard, and false merges (documents removed as duplicates of another family's). */
export function score(docs: readonly PlantedDoc[], removed: readonly Removal[]) {
  const survivor = new Map(removed.map((x) => [x.id, x.duplicate_of]));
  const family = new Map(docs.map((d) => [d.id, d.family]));
  const of = (docId: string) => survivor.get(docId) ?? docId;
  const bands = [
    { name: '>= 0.9', lo: 0.9, hi: 1.01 },
    { name: '0.8-0.9', lo: 0.8, hi: 0.9 },
    { name: '0.7-0.8', lo: 0.7, hi: 0.8 },
    { name: '0.5-0.7', lo: 0.5, hi: 0.7 },
  ].map((b) => {
    const copies = docs.filter((d) => d.jaccard !== undefined && d.jaccard >= b.lo && d.jaccard < b.hi);
    const found = copies.filter((d) => of(d.id) === of(d.family)).length;
    return { ...b, copies: copies.length, found, recall: copies.length ? found / copies.length : NaN };
  });
  const falseMerges = removed.filter((x) => family.get(x.id) !== family.get(x.duplicate_of)).length;
  return { bands, falseMerges, falseMergeRate: falseMerges / docs.length };
}

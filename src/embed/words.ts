/**
 * Words as the embedders see them: lower case, accents stripped, runs of letters and digits of two
 * characters or more, English stop words left out.
 */

/** Function words that say nothing of a text's topic. */
export const STOP_WORDS: ReadonlySet<string> = new Set(
  (
    'about above after again against all also am an and any are as at be because been before being below between both but by can could ' +
    'did do does doing down during each either else etc even ever every few for from further get gets got had has have having he her here ' +
    'hers herself him himself his how however if in into is it its itself just let like made make many may me might more most much must my ' +
    'myself neither no nor not now of off often on once one only or other others our ours ourselves out over own per quite rather really ' +
    'said same say says shall she should since so some still such than that the their theirs them themselves then there these they this ' +
    'those though through thus to too two under until up upon us use used using very via was we well were what whatever when where whether ' +
    'which while who whom whose why will with within without would yet you your yours yourself yourselves'
  ).split(' '),
);

const WORD = /[\p{L}\p{N}][\p{L}\p{N}'’]*/gu;

/** A crude singular, so that "games" and "game" count as one word (no full stemmer: it would merge too much). */
function singular(w: string): string {
  if (w.length <= 3 || !w.endsWith('s') || /(ss|us|is|ous)$/.test(w)) return w;
  if (w.endsWith('ies') && w.length > 4) return `${w.slice(0, -3)}y`;
  return w.slice(0, -1);
}

/** The content words of a text. */
export function words(text: string): string[] {
  const out: string[] = [];
  for (const m of text.normalize('NFKD').replace(/\p{M}/gu, '').toLowerCase().matchAll(WORD)) {
    const w = m[0].replace(/['’]s$/, '').replace(/['’]/g, '');
    if (w.length >= 2 && !STOP_WORDS.has(w) && !/^\d+$/.test(w)) out.push(singular(w));
  }
  return out;
}

import { createRequire } from 'node:module';

/** Lowercase words wikiHow titles leave uncapitalised, which the shared files glue onto the word before. */
const FUNCTION_WORDS = new Set(
  ('a an the to for and or nor but of in on at by with from into onto off up out as if so than then ' +
    'when while your you yours yourself my me our their them his her its it is are be being not no without ' +
    'after before over under about through during via per vs').split(' '),
);

let dictionary: Set<string> | undefined;
/** ~275k English words, loaded on first use only. */
function words(): Set<string> {
  if (!dictionary) {
    const list = createRequire(import.meta.url)('an-array-of-english-words') as string[];
    dictionary = new Set(list);
  }
  return dictionary;
}

/**
 * Restore the spaces of a wikiHow title whose spaces were removed: "HowtoRaiseMoneyforaGoodCause" →
 * "How to Raise Money for a Good Cause". Capitals mark most word starts; the lowercase function words
 * glued to the end of a word ("Moneyfora") are split off only when the whole run is not itself a word
 * and what remains is one ("Lemon" stays, "Season" stays). A trailing one-digit disambiguation number ("Beans2") is dropped.
 */
export function restoreTitleSpaces(squashed: string): string {
  const title = squashed.trim().replace(/(?<=[A-Za-z)])[1-9]$/, '');
  // Runs: a capital (or digits/punctuation) followed by lowercase letters.
  const runs = title.match(/[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z']+|\d+(?:[.,:]\d+)*%?|[^A-Za-z\d\s]+|[A-Z]+/g) ?? [];
  const out: string[] = [];
  for (const run of runs) {
    if (/^[A-Za-z']+$/.test(run)) out.push(...splitRun(run));
    else out.push(run);
  }
  // Punctuation attaches to its neighbours the way English writes it.
  return out
    .join(' ')
    .replace(/ ([,.:;!?%)])/g, '$1')
    .replace(/([(]) /g, '$1')
    .replace(/ ?([-/&+]) ?/g, (m, p: string) => (p === '&' || p === '+' ? ` ${p} ` : p))
    .replace(/\s+/g, ' ')
    .trim();
}

function isWord(w: string): boolean {
  const lower = w.toLowerCase();
  return FUNCTION_WORDS.has(lower) || words().has(lower);
}

/** Split one letter run into a head word followed by glued function words, when that reads better. */
function splitRun(run: string): string[] {
  if (run.length <= 2) return [run];
  const lowerRun = run.toLowerCase();
  // "Howto" is the most frequent case, and "howto" is in no dictionary.
  const wholeIsWord = words().has(lowerRun) || FUNCTION_WORDS.has(lowerRun);
  if (wholeIsWord) return [run];
  // Try the longest head first, so that the fewest function words are split off.
  for (let cut = run.length - 1; cut >= 1; cut--) {
    const head = run.slice(0, cut);
    const tail = splitFunctionWords(run.slice(cut));
    if (tail && (isWord(head) || cut === 1)) return [head, ...tail];
  }
  return [run];
}

/** A lowercase string as a sequence of function words ("fora" → ["for", "a"]), or undefined. */
function splitFunctionWords(s: string): string[] | undefined {
  if (s === '') return [];
  if (s !== s.toLowerCase()) return undefined;
  for (let n = Math.min(8, s.length); n >= 1; n--) {
    const w = s.slice(0, n);
    if (!FUNCTION_WORDS.has(w)) continue;
    const rest = splitFunctionWords(s.slice(n));
    if (rest) return [w, ...rest];
  }
  return undefined;
}

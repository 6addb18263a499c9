import { getLIDModel } from 'fasttext.wasm.js';
import { CosmoError } from '../util/errors.js';
import type { LanguageConfig } from './config.js';
import type { FilteredSample, Verdict } from './filter.js';

/** A text's most likely language (ISO 639-1 where one exists, else fastText's own code) and fastText's probability. */
export interface DetectedLanguage {
  language: string;
  score: number;
}

export interface LanguageIdentifier {
  identify(text: string): Promise<DetectedLanguage>;
}

/**
 * fastText reads one line: a newline would end the text early. Long samples are cut, because the
 * language of the first few thousand characters is the language of the sample and cost grows with length.
 */
const MAX_CHARS = 4000;

let loading: Promise<LanguageIdentifier> | undefined;

/**
 * fastText's lid.176 model (176 languages, about 1 MB, CC BY-SA 3.0), shipped inside the
 * `fasttext.wasm.js` package and run as WebAssembly: loaded once per process, on first use.
 */
export function languageIdentifier(): Promise<LanguageIdentifier> {
  loading ??= (async () => {
    try {
      const model = await getLIDModel();
      await model.load();
      return {
        async identify(text: string): Promise<DetectedLanguage> {
          const line = text.slice(0, MAX_CHARS).replace(/\s+/g, ' ').trim();
          const r = await model.identify(line);
          return { language: r.alpha2 ?? r.alpha3, score: r.possibility };
        },
      };
    } catch (err) {
      loading = undefined;
      throw new CosmoError(`filter.language: cannot load fastText's language model (fasttext.wasm.js): ${(err as Error).message}`);
    }
  })();
  return loading;
}

/**
 * The language verdict for a sample that passed the other checks: written in another language than its
 * prompt asked for, with at least `min_confidence`, it is dropped or flagged; otherwise it is kept with
 * what was found.
 */
export function languageVerdict(s: FilteredSample, found: DetectedLanguage, cfg: LanguageConfig): Verdict {
  // A regional tag (pt-BR, zh-TW) asks for its base language; fastText names only that.
  const asked = s.language.split('-')[0]!.toLowerCase();
  const mismatch = found.language !== asked && found.score >= cfg.min_confidence;
  if (mismatch && cfg.action === 'drop')
    return {
      keep: false,
      reason: 'language',
      kind: found.language,
      detail: `written in ${found.language} (fastText ${found.score.toFixed(2)}), asked for ${s.language}`,
    };
  const score = Math.round(found.score * 1000) / 1000;
  return { keep: true, sample: { ...s, language_detected: found.language, language_score: score, ...(mismatch ? { language_mismatch: true } : {}) } };
}

import { CosmoError } from '../util/errors.js';

/** Names of the languages a prompt can ask for, by ISO 639-1 code. */
export const LANGUAGE_NAMES: Record<string, string> = {
  en: 'English', fr: 'French', de: 'German', es: 'Spanish', it: 'Italian', pt: 'Portuguese', nl: 'Dutch',
  sv: 'Swedish', da: 'Danish', no: 'Norwegian', fi: 'Finnish', pl: 'Polish', cs: 'Czech', ro: 'Romanian',
  hu: 'Hungarian', el: 'Greek', tr: 'Turkish', ru: 'Russian', uk: 'Ukrainian', ar: 'Arabic', he: 'Hebrew',
  fa: 'Persian', hi: 'Hindi', bn: 'Bengali', ur: 'Urdu', id: 'Indonesian', ms: 'Malay', vi: 'Vietnamese',
  th: 'Thai', zh: 'Chinese', ja: 'Japanese', ko: 'Korean', sw: 'Swahili', ca: 'Catalan', eu: 'Basque',
};

export function languageName(code: string): string {
  const name = LANGUAGE_NAMES[code];
  if (!name)
    throw new CosmoError(`prompts.languages: unknown language code "${code}"; use one of ${Object.keys(LANGUAGE_NAMES).join(', ')}`);
  return name;
}

/** The sentence a prompt ends its instructions with; English, the templates' own language, needs none. */
export const languageClause = (code: string) => (code === 'en' ? '' : ` Write the whole text in ${languageName(code)}.`);

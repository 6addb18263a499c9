/**
 * Secrets never reach a log line, an error message, a shard or a card. Keys cosmo reads (an
 * endpoint's `api_key_env`, HF_TOKEN) are registered here as they are read; every message that
 * leaves the process goes through `redact`, which replaces them and anything shaped like a
 * credential (`Bearer …`, `sk-…`, `hf_…`), since servers echo keys back ("Incorrect API key
 * provided: sk-…").
 */

const known = new Set<string>();

/** Remember a secret's value so that it is cut from every message from now on. Short values are ignored: they would cut ordinary words. */
export function registerSecret(value: string | undefined): void {
  if (value && value.length >= 8) known.add(value);
}

const SHAPES: RegExp[] = [
  /\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]{8,}/gi,
  /\bsk-[A-Za-z0-9_-]{8,}/g,
  /\bhf_[A-Za-z0-9]{8,}/g,
  // user:password@ in URLs
  /(?<=\/\/)[^/\s:@]+:[^/\s@]+(?=@)/g,
];

export const REDACTED = '[redacted]';

export function redact(text: string): string {
  let out = text;
  for (const secret of known) if (out.includes(secret)) out = out.split(secret).join(REDACTED);
  for (const shape of SHAPES) out = out.replace(shape, (m) => (/^(bearer|basic)\s/i.test(m) ? `${m.split(/\s+/)[0]} ${REDACTED}` : REDACTED));
  return out;
}

/** Environment variable names that hold secrets by convention; they are not handed to Slurm jobs. */
export const SECRET_ENV = /(^|_)(API_?KEY|KEY|TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIALS?)($|_)/i;

import type { GroundingPassage } from './types.js';

/** Passages as a prompt shows them and a judge reads them: numbered, each under its title. */
export const formatPassages = (passages: Pick<GroundingPassage, 'title' | 'text'>[]): string =>
  passages.map((p, i) => `[${i + 1}]${p.title ? ` ${p.title}` : ''}\n${p.text}`).join('\n\n');

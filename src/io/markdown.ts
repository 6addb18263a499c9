import { readFile } from 'node:fs/promises';
import { writeFileAtomic } from './atomic.js';

/**
 * Put `## heading` with `body` into a Markdown file: in place of the section of that heading (up to
 * the next `## `), or at the end. A later stage adds what it knows to a card an earlier one wrote;
 * running it again replaces its section rather than adding another.
 */
export async function upsertSection(file: string, heading: string, body: string): Promise<void> {
  const text = await readFile(file, 'utf8');
  const section = `## ${heading}\n\n${body.trimEnd()}\n`;
  const start = text.indexOf(`\n## ${heading}\n`);
  if (start < 0) return writeFileAtomic(file, `${text.trimEnd()}\n\n${section}`);
  const next = text.indexOf('\n## ', start + 1);
  await writeFileAtomic(file, `${text.slice(0, start + 1)}${section}${next < 0 ? '' : `\n${text.slice(next + 1)}`}`);
}

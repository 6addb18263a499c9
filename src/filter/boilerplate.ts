import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { z } from 'zod';
import type { BoilerplateConfig } from './config.js';
import { CosmoError } from '../util/errors.js';
import { shippedDir } from '../util/shipped.js';

const patternFileSchema = z.strictObject({
  version: z.number().int(),
  patterns: z.array(
    z.strictObject({ id: z.string().regex(/^\w+$/), pattern: z.string(), action: z.enum(['strip', 'drop']).optional() }),
  ),
});

export interface OpenerPattern {
  id: string;
  re: RegExp;
  /** Set when the pattern always drops, whatever the mode. */
  action?: 'strip' | 'drop';
}


function compilePattern(id: string, pattern: string, where: string): RegExp {
  try {
    return new RegExp(pattern.startsWith('^') ? pattern : `^(?:${pattern})`, 'iu');
  } catch (err) {
    throw new CosmoError(`${where}: boilerplate pattern "${id}" is not a valid regular expression: ${(err as Error).message}`);
  }
}

/** Patterns from a YAML file (the built-in list when `file` is undefined). Errors name the file. */
export function loadOpenerPatterns(file?: string): OpenerPattern[] {
  const path = file ?? join(shippedDir('filter'), 'boilerplate.yaml');
  let raw: unknown;
  try {
    raw = parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new CosmoError(`${path}: cannot read boilerplate patterns: ${(err as Error).message}`);
  }
  const parsed = patternFileSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new CosmoError(`${path}: ${issue.path.join('.') || '(top)'}: ${issue.message}`);
  }
  return parsed.data.patterns.map((p) => ({ id: p.id, re: compilePattern(p.id, p.pattern, path), action: p.action }));
}

export type OpenerResult =
  | { action: 'keep'; text: string; stripped: string[] }
  | { action: 'drop'; id: string; matched: string };

/** Finds overused openers at the start of a text and strips them or asks for the sample to be dropped. */
export class Boilerplate {
  constructor(
    private readonly patterns: OpenerPattern[],
    private readonly mode: BoilerplateConfig['mode'],
  ) {}

  static fromConfig(cfg: BoilerplateConfig, resolve: (p: string) => string): Boilerplate {
    const patterns = cfg.mode === 'off' ? [] : loadOpenerPatterns(cfg.patterns_file && resolve(cfg.patterns_file));
    for (const p of cfg.extra) patterns.push({ id: p.id, re: compilePattern(p.id, p.pattern, 'filter.boilerplate.extra'), action: p.action });
    return new Boilerplate(patterns, cfg.mode);
  }

  /** Strip openers one after another ("Sure! Here is a story:\n\nOnce upon a time, ..."), up to one pass per pattern. */
  apply(text: string): OpenerResult {
    if (this.mode === 'off') return { action: 'keep', text, stripped: [] };
    const stripped: string[] = [];
    let rest = text.trimStart();
    for (let pass = 0; pass < this.patterns.length; pass++) {
      const hit = this.patterns.find((p) => p.re.test(rest));
      if (!hit) break;
      const m = hit.re.exec(rest)!;
      if (this.mode === 'drop' || hit.action === 'drop') return { action: 'drop', id: hit.id, matched: m[0].trim() };
      if (m[0].length === 0) break;
      stripped.push(hit.id);
      rest = rest.slice(m[0].length).trimStart();
    }
    if (stripped.length === 0) return { action: 'keep', text, stripped };
    return { action: 'keep', text: rest.charAt(0).toUpperCase() + rest.slice(1), stripped };
  }
}

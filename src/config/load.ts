import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { LineCounter, parseDocument, isNode, type Document } from 'yaml';
import type { z } from 'zod';
import { CosmoError } from '../util/errors.js';
import { corpusSchema, type CorpusConfig } from './schema.js';

/** A config that failed validation; the message lists every problem with its key path and line. */
export class ConfigError extends CosmoError {
  constructor(
    readonly file: string,
    readonly problems: { path: string; line?: number; message: string }[],
  ) {
    super(
      `${file}: invalid corpus config\n` +
        problems.map((p) => `  ${file}${p.line ? `:${p.line}` : ''}  ${p.path || '(top level)'}: ${p.message}`).join('\n'),
    );
    this.name = 'ConfigError';
  }
}

function describeIssue(issue: z.core.$ZodIssue): string {
  switch (issue.code) {
    case 'unrecognized_keys':
      return `unknown key${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => `"${k}"`).join(', ')}`;
    case 'invalid_value':
      return `expected one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}`;
    case 'invalid_type':
      return issue.input === undefined ? `required (${issue.expected})` : `expected ${issue.expected}, got ${typeof issue.input}`;
    default:
      return issue.message;
  }
}

/** The 1-based line of the YAML node at `path`, or of its nearest existing parent. */
function lineOf(doc: Document, counter: LineCounter, path: PropertyKey[]): number | undefined {
  for (let n = path.length; n >= 0; n--) {
    const node = doc.getIn(path.slice(0, n) as (string | number)[], true);
    if (isNode(node) && node.range) return counter.linePos(node.range[0]).line;
  }
  return undefined;
}

/** Validate a parsed config object. `file` names the source in errors; `baseDir` anchors relative paths. */
export function parseConfig(
  raw: unknown,
  opts: { file: string; baseDir: string; doc?: Document; counter?: LineCounter },
): CorpusConfig {
  const result = corpusSchema.safeParse(raw);
  if (!result.success) {
    throw new ConfigError(
      opts.file,
      result.error.issues.map((issue) => {
        const path = issue.path as PropertyKey[];
        // For unknown keys, point at the offending key itself.
        const at = issue.code === 'unrecognized_keys' && issue.keys[0] ? [...path, issue.keys[0]] : path;
        return {
          path: at.map(String).join('.'),
          line: opts.doc && opts.counter ? lineOf(opts.doc, opts.counter, at) : undefined,
          message: describeIssue(issue),
        };
      }),
    );
  }
  const cfg = result.data;
  const output = cfg.output ?? `out/${cfg.name}`;
  return { ...cfg, base_dir: opts.baseDir, output_dir: resolve(opts.baseDir, output) };
}

/** Read, parse and validate a corpus YAML file. */
export function loadConfig(file: string): CorpusConfig {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new CosmoError(`cannot read corpus file ${file}: ${(err as NodeJS.ErrnoException).code ?? err}`);
  }
  const counter = new LineCounter();
  const doc = parseDocument(text, { lineCounter: counter, prettyErrors: true });
  if (doc.errors.length > 0) {
    const e = doc.errors[0]!;
    const line = e.linePos?.[0].line;
    throw new CosmoError(`${file}${line ? `:${line}` : ''}: YAML syntax error: ${e.message.split('\n')[0]}`);
  }
  return parseConfig(doc.toJS(), { file, baseDir: dirname(resolve(file)), doc, counter });
}

/** A path from the config, made absolute against the corpus file's folder. */
export function resolvePath(cfg: Pick<CorpusConfig, 'base_dir'>, p: string): string {
  return isAbsolute(p) ? p : resolve(cfg.base_dir, p);
}

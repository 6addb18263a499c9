import { readFileSync } from 'node:fs';
import { LineCounter, parseDocument, isNode, type Document } from 'yaml';
import type { z } from 'zod';
import { CosmoError } from '../util/errors.js';

/**
 * Reading a YAML config and validating it against a zod schema, with errors a person can act on:
 * each problem names its key path, what was expected, and its line in the file. Which schema is
 * up to the caller: the corpus schema is composed from the stages, higher up, in pipeline/.
 */

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

/** The type of a value as a person would name it in YAML terms. */
function typeName(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  if (typeof v === 'string') return `string ${JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v)}`;
  return `${typeof v} ${String(v)}`;
}

function describeIssue(issue: z.core.$ZodIssue, input: unknown): string {
  switch (issue.code) {
    case 'unrecognized_keys':
      return `unknown key${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => `"${k}"`).join(', ')}`;
    case 'invalid_value':
      return `expected one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}, got ${typeName(input)}`;
    case 'invalid_type':
      return input === undefined ? `required (${issue.expected})` : `expected ${issue.expected}, got ${typeName(input)}`;
    case 'invalid_union':
      return input === undefined ? 'required' : `${issue.message.replace(/^Invalid input$/, 'not one of the accepted forms')}, got ${typeName(input)}`;
    default:
      return issue.message;
  }
}

/** The value at `path` in a parsed document. */
function valueAt(raw: unknown, path: PropertyKey[]): unknown {
  let v = raw;
  for (const k of path) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Record<PropertyKey, unknown>)[k];
  }
  return v;
}

/** The 1-based line of the YAML node at `path`, or of its nearest existing parent. */
function lineOf(doc: Document, counter: LineCounter, path: PropertyKey[]): number | undefined {
  for (let n = path.length; n >= 0; n--) {
    const node = doc.getIn(path.slice(0, n) as (string | number)[], true);
    if (isNode(node) && node.range) return counter.linePos(node.range[0]).line;
  }
  return undefined;
}

/** Where a config came from: `file` names it in errors; `doc` and `counter` give lines. */
export interface ConfigSource {
  file: string;
  doc?: Document;
  counter?: LineCounter;
}

/** Validate a parsed config object against `schema`; a failure lists every problem with its key path and line. */
export function validate<S extends z.ZodType>(schema: S, raw: unknown, src: ConfigSource): z.output<S> {
  const result = schema.safeParse(raw);
  if (result.success) return result.data;
  throw new ConfigError(
    src.file,
    result.error.issues.map((issue) => {
      const path = issue.path as PropertyKey[];
      // For unknown keys, point at the offending key itself.
      const at = issue.code === 'unrecognized_keys' && issue.keys[0] ? [...path, issue.keys[0]] : path;
      return {
        path: at.map(String).join('.'),
        line: src.doc && src.counter ? lineOf(src.doc, src.counter, at) : undefined,
        message: describeIssue(issue, valueAt(raw, path)),
      };
    }),
  );
}

/** Read and parse a YAML file: its plain value, and what `validate` needs to name lines. */
export function readYaml(file: string): { raw: unknown } & Required<ConfigSource> {
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
  return { raw: doc.toJS(), file, doc, counter };
}

/** A YAML data file shipped with cosmo or given by the user (templates, patterns), validated; errors name the file and key. */
export function readYamlData<S extends z.ZodType>(path: string, schema: S, what: string): z.output<S> {
  let raw: unknown;
  try {
    raw = parseDocument(readFileSync(path, 'utf8')).toJS();
  } catch (err) {
    throw new CosmoError(`${path}: cannot read ${what}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  const parsed = schema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new CosmoError(`${path}: ${issue.path.join('.') || '(top)'}: ${issue.message}`);
  }
  return parsed.data;
}

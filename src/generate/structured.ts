/**
 * Structured output that holds: with `generate.json_schema`, every answer is parsed and validated
 * against the schema (zod, from the JSON Schema), an invalid one is asked for again (with what was
 * wrong, when `json_feedback` is on), and the fields of a valid one become export columns.
 *
 * A server asked for JSON may still answer otherwise (a server without constrained decoding, a
 * model that runs out of tokens mid-object, a schema keyword the server ignores), so a request for
 * structure is never taken as a guarantee of it.
 */
import { z } from 'zod';
import type { ParquetColumns } from '../io/parquet.js';
import { CosmoError } from '../util/errors.js';

export type Invalid = 'not_json' | 'schema';
export type Checked = { ok: true; value: Record<string, unknown> } | { ok: false; kind: Invalid; message: string };

/** Parses an answer and checks it against a schema. */
export type AnswerCheck = (text: string) => Checked;

/** A checker of answers against `schema`; a schema zod cannot read is refused naming the key. */
export function answerChecker(schema: Record<string, unknown>): AnswerCheck {
  let compiled: z.ZodType;
  try {
    compiled = z.fromJSONSchema(schema as Parameters<typeof z.fromJSONSchema>[0]);
  } catch (err) {
    throw new CosmoError(`generate.json_schema is not a JSON Schema cosmo can check answers against: ${(err as Error).message}`);
  }
  return (text) => {
    let value: unknown;
    try {
      value = JSON.parse(unfenced(text));
    } catch (err) {
      return { ok: false, kind: 'not_json', message: `not JSON: ${(err as Error).message}` };
    }
    const r = compiled.safeParse(value);
    if (!r.success) return { ok: false, kind: 'schema', message: z.prettifyError(r.error).replaceAll('\n', ' ') };
    if (typeof r.data !== 'object' || r.data === null || Array.isArray(r.data)) return { ok: false, kind: 'schema', message: 'not a JSON object' };
    return { ok: true, value: r.data as Record<string, unknown> };
  };
}

/** The JSON inside a Markdown code fence, as models without constrained decoding often write it. */
function unfenced(text: string): string {
  const m = /^\s*```(?:json)?\s*\n([\s\S]*?)\n?```\s*$/i.exec(text);
  return m ? m[1]! : text;
}

/** The message that asks again, saying what was wrong with the last answer. */
export const feedbackMessage = (message: string): string =>
  `That answer was not valid: ${message}. Answer again with only the JSON object, matching the schema exactly.`;

/** DuckDB types of the schema's top-level properties: the export columns a valid answer fills. */
export function structuredColumns(schema: Record<string, unknown>): ParquetColumns {
  const props = (schema.properties ?? {}) as Record<string, { type?: unknown }>;
  const out: ParquetColumns = {};
  for (const [name, p] of Object.entries(props)) {
    // A column needs a plain name; other properties stay in the sample's `structured` field only.
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) continue;
    const type = Array.isArray(p.type) ? p.type.find((t) => t !== 'null') : p.type;
    out[name] = type === 'string' ? 'VARCHAR' : type === 'integer' ? 'BIGINT' : type === 'number' ? 'DOUBLE' : type === 'boolean' ? 'BOOLEAN' : 'JSON';
  }
  return out;
}

import type { PromptRecord, Sample, SeedRecord } from './types.js';

/**
 * What a stage reads and writes, checked once where records cross a shard boundary: a record of the
 * wrong shape is named by file and line there, not found later as an `undefined` deep in a stage.
 * The checks look at the fields stages rely on, not every field (cheap enough for 100k records/s).
 */
export interface RecordSpec<T> {
  /** `seed`, `prompt` or `sample`: named in errors. */
  readonly kind: string;
  /** Why a value is not such a record, or undefined when it is. */
  check(value: Record<string, unknown>): string | undefined;
  /** Only a type marker; never set. */
  readonly __type?: T;
}

type FieldType = 'string' | 'number' | 'object';

function checker(fields: Record<string, FieldType>): (value: Record<string, unknown>) => string | undefined {
  const entries = Object.entries(fields);
  return (value) => {
    for (const [name, type] of entries) {
      const v = value[name];
      if (typeof v !== type || v === null) return `field "${name}" should be a ${type}, got ${v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v}`;
    }
    return undefined;
  };
}

export const SEED_RECORD: RecordSpec<SeedRecord> = {
  kind: 'seed',
  check: checker({ id: 'string', text: 'string', source: 'string', kind: 'string', meta: 'object' }),
};

export const PROMPT_RECORD: RecordSpec<PromptRecord> = { kind: 'prompt', check: checker({ id: 'string', prompt: 'string', format: 'string' }) };

/** A sample (or any document with an id and a text: the cleaning stages need no more); a failed request's sample has an empty text and an `error`. */
export const SAMPLE_RECORD: RecordSpec<Sample> = { kind: 'sample', check: checker({ id: 'string', text: 'string' }) };

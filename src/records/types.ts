/** The records that flow between stages (docs/design.md § Records). Field names are snake_case on disk. */

export const SEED_KINDS = ['web', 'curated', 'instruct', 'math', 'kb'] as const;
export type SeedKind = (typeof SEED_KINDS)[number];

export interface SeedRecord {
  id: string;
  text: string;
  /** Name of the configured seed source the record came from. */
  source: string;
  kind: SeedKind;
  meta: Record<string, unknown>;
}

export interface PromptRecord {
  id: string;
  prompt: string;
  seed_id: string;
  seed_data: string;
  seed_source: string;
  format: string;
  audience: string;
  topic?: string;
  template_id: string;
  template_version: number;
  language: string;
  /** Per-prompt generation overrides, e.g. max_tokens by format. */
  max_tokens?: number;
  /** The knowledge passages retrieved for this prompt (the knowledge stage's ground step). */
  grounding?: Grounding;
}

/** A passage of the knowledge source, as retrieved for a prompt. */
export interface GroundingPassage {
  id: string;
  title: string;
  text: string;
  score: number;
}

/**
 * Passages retrieved for a prompt. The record carries their text, so that the faithfulness check
 * reads what the model was given, whatever becomes of the index later.
 */
export interface Grounding {
  query: string;
  passages: GroundingPassage[];
  /** Whether the prompt carries the passages as reference material (else they are only provenance and a yardstick). */
  in_prompt: boolean;
}

/** `stop`, `length`, `error` (the request failed for good), or another reason a server sent, kept as sent. */
export type FinishReason = 'stop' | 'length' | 'error' | (string & {});

export interface Usage {
  prompt_tokens: number;
  completion_tokens: number;
}

export interface GenParams {
  temperature: number;
  top_p: number;
  max_tokens: number;
  seed?: number;
  stop?: string[];
}

export interface Sample extends PromptRecord {
  text: string;
  token_length: number;
  model: string;
  finish_reason: FinishReason;
  usage: Usage;
  gen_params: GenParams;
  engine: string;
  latency_ms: number;
  created_at: string;
  /** Set when the request failed for good; such samples carry an empty text and are dropped by filter. */
  error?: string;
  /** With generate.json_schema: the answer's object, checked against the schema. */
  structured?: Record<string, unknown>;
}

/**
 * The file in generate's output folder naming the export columns of structured answers (property →
 * DuckDB type), written by generate when it has a json_schema and read by export.
 */
export const STRUCTURED_COLUMNS_FILE = 'structured-columns.json';

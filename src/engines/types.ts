import type { FinishReason, GenParams, Usage } from '../records/types.js';
import { CosmoError } from '../util/errors.js';
import type { Price } from './prices.js';
import type { Calibration } from './calibrate.js';

export interface ChatMessage {
  role: 'system' | 'user' | 'assistant';
  content: string;
}

export interface CompletionRequest {
  messages: ChatMessage[];
  params: GenParams;
  /** Constrain the output to this JSON schema (cluster labels, judges). */
  jsonSchema?: Record<string, unknown>;
  /** Ask the engine even if the request cache has an answer (that answer was not usable); the new one replaces it. */
  fresh?: boolean;
  signal?: AbortSignal;
}

export interface Completion {
  text: string;
  /** `stop`, `length`, or whatever else the server said (`content_filter`, `tool_calls`, …), kept as sent. */
  finish_reason: Exclude<FinishReason, 'error'>;
  usage: Usage;
  /** The model that answered, as the engine names it. */
  model: string;
}

/** Why a request failed, so that the pool can decide whether to retry. */
export type EngineErrorKind =
  | 'timeout'
  | 'connection'
  | 'rate_limited'
  | 'server'
  | 'bad_request'
  | 'context_length'
  | 'auth'
  | 'aborted'
  /** An answer without text (a reasoning model out of tokens returns `content: null`): retried, but the server is well. */
  | 'empty'
  /**
   * An item of a batch that came back without an answer (it failed inside the batch, the batch
   * expired, or the server no longer knows it): asked again in a new batch. It says nothing of the
   * engine's health, so it does not count towards the circuit breaker.
   */
  | 'batch_item'
  /** Answers asked for as JSON that were not JSON, or not valid for the schema (the generate stage's check). */
  | 'invalid_json'
  | 'schema_mismatch'
  | 'unknown';

export class EngineError extends CosmoError {
  constructor(
    message: string,
    readonly kind: EngineErrorKind,
    /** `attempts`: requests made before giving up (set by the pool). */
    readonly opts: { retryable?: boolean; retryAfterMs?: number; status?: number; attempts?: number } = {},
  ) {
    super(message);
    this.name = 'EngineError';
  }
  get retryable(): boolean {
    return this.opts.retryable ?? ['timeout', 'connection', 'rate_limited', 'server', 'empty', 'batch_item'].includes(this.kind);
  }
}

/** Anything that turns chat messages into a completion: the embedded llama.cpp engine or an HTTP endpoint. */
export interface Engine {
  /** Unique, human-readable id (e.g. `embedded:model.gguf` or `http://host:8000/v1`), recorded on each sample. */
  readonly id: string;
  /** Requests this engine takes at once. */
  readonly concurrency: number;
  complete(req: CompletionRequest): Promise<Completion>;
  /**
   * Waits until the engine's rate budget (requests and tokens per minute) lets `req` start. The pool
   * calls it before the attempt's timeout starts: a request waiting for its turn is not a slow one.
   * Undefined: it may start now (the common case, with no promise to wait on).
   */
  admit?(req: CompletionRequest): Promise<void> | undefined;
  /** Milliseconds requests have waited for the engine's rate budget, summed. */
  readonly rateWaitMs?: number;
  /** What its tokens cost (none: free). */
  readonly price?: Price;
  /** How long one attempt may take, when it is not the pool's `timeout_s` (a batch takes hours). */
  readonly attemptTimeoutMs?: number;
  /** How an embedded engine's `auto` threads, sequences and contexts were chosen: every setting timed, in tokens/s. */
  readonly calibration?: Pick<Calibration, 'threads' | 'sequences' | 'contexts' | 'figures'>;
  close(): Promise<void>;
}

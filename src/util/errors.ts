import { redact } from './redact.js';

/**
 * The root of every error meant for a person: the CLI prints its message without a stack trace.
 * Anything else that reaches the top is a bug and keeps its stack. Messages are redacted as they
 * are made, so no error can carry a secret into a log or a shard.
 */
export class CosmoError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(redact(message), options);
    this.name = 'CosmoError';
  }
}

/** Bad input data: names the file and, where known, the line. */
export class InputError extends CosmoError {
  constructor(
    readonly file: string,
    readonly line: number | undefined,
    reason: string,
  ) {
    super(`${file}${line === undefined ? '' : `:${line}`}: ${reason}`);
    this.name = 'InputError';
  }
}

/** Work stopped on request (Ctrl-C, SIGTERM, scancel, a parent that died): not a failure of the work itself. */
export class InterruptedError extends CosmoError {
  constructor(message = 'interrupted; run the same command again to resume') {
    super(message);
    this.name = 'InterruptedError';
  }
}

export function errorMessage(err: unknown): string {
  return redact(err instanceof Error ? err.message : String(err));
}

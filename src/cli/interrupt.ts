import { CosmoError } from '../util/errors.js';

/** Run `fn` with an AbortSignal that Ctrl-C (or SIGTERM) trips; a second Ctrl-C exits at once. */
export async function withInterrupt<T>(fn: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const controller = new AbortController();
  const onSignal = (sig: NodeJS.Signals) => {
    if (controller.signal.aborted) process.exit(130);
    process.stderr.write(`\n${sig}: stopping after the requests in flight; run the same command again to resume\n`);
    controller.abort(new CosmoError(`interrupted by ${sig}; run the same command again to resume`));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    return await fn(controller.signal);
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

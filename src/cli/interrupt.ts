import { CosmoError } from '../util/errors.js';

/**
 * Run `fn` with an AbortSignal that Ctrl-C, SIGTERM or SIGHUP (the terminal or ssh session closed)
 * trips; a second one exits at once. Without the SIGHUP handler a dropped ssh session would kill the
 * process outright, leaving `cosmo serve`'s GPU jobs running.
 */
export async function withInterrupt<T>(fn: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const controller = new AbortController();
  const onSignal = (sig: NodeJS.Signals) => {
    if (controller.signal.aborted) process.exit(130);
    process.stderr.write(`\n${sig}: stopping after the requests in flight; run the same command again to resume\n`);
    controller.abort(new CosmoError(`interrupted by ${sig}; run the same command again to resume`));
  };
  const signals: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];
  for (const sig of signals) process.on(sig, onSignal);
  try {
    return await fn(controller.signal);
  } finally {
    for (const sig of signals) process.off(sig, onSignal);
  }
}

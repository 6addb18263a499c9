import { onAbort } from './abort.js';

/**
 * Wait `ms`, or reject with the signal's reason as soon as it aborts. Many sleepers may share one
 * signal (every request backing off in a run), so they listen through util/abort.ts.
 */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted) return Promise.reject(signal.reason);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      off();
      resolve();
    }, ms);
    const off = onAbort(signal, () => {
      clearTimeout(timer);
      reject(signal!.reason);
    });
  });
}

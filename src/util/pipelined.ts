/** Work items started in order, a bounded number at once, and finished in that same order. */

/** `p`, or a rejection as soon as `signal` aborts. */
function abortable<T>(p: Promise<T>, signal: AbortSignal): Promise<T> {
  signal.throwIfAborted();
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

/**
 * `start` each item in input order with at most `depth` in flight, and `finish` each in that same
 * order once its result is in. Stops at the first error or abort.
 */
export async function pipelined<T, R>(
  items: AsyncIterable<T>,
  depth: number,
  signal: AbortSignal,
  start: (item: T) => Promise<R>,
  finish: (item: T, result: R) => void | Promise<void>,
): Promise<void> {
  const queue: { item: T; result: Promise<R> }[] = [];
  const takeOldest = async () => {
    const { item, result } = queue.shift()!;
    await finish(item, await abortable(result, signal));
  };
  for await (const item of items) {
    signal.throwIfAborted();
    const result = start(item);
    result.catch(() => undefined); // one left behind by an error or abort must not crash the process
    queue.push({ item, result });
    if (queue.length >= depth) await takeOldest();
  }
  while (queue.length) await takeOldest();
}

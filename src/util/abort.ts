/**
 * Abort callbacks by signal. Callers often pass one signal shared by every request in flight, and
 * EventTarget's add/remove scan all listeners of a signal: with 1,000 requests in flight that scan
 * would dominate. So each signal gets one real listener, and callbacks live in a Set.
 */
const abortCallbacks = new WeakMap<AbortSignal, Set<() => void>>();

/** Call `cb` once when `signal` aborts; returns the function that unregisters it. */
export function onAbort(signal: AbortSignal | undefined, cb: () => void): () => void {
  if (!signal) return () => {};
  let set = abortCallbacks.get(signal);
  if (!set) {
    const callbacks = new Set<() => void>();
    set = callbacks;
    abortCallbacks.set(signal, callbacks);
    signal.addEventListener('abort', () => {
      for (const f of [...callbacks]) f();
      callbacks.clear();
    }, { once: true });
  }
  set.add(cb);
  return () => set.delete(cb);
}

/** Typed arrays one after another, in one new array of the given kind. */
export function concatArrays<T extends Float32Array | Uint32Array>(parts: readonly T[], Kind: new (length: number) => T): T {
  const out = new Kind(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

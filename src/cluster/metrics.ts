/**
 * How well a clustering recovers a known labelling: normalised mutual information (arithmetic
 * mean of the entropies, as scikit-learn's default), adjusted Rand index, and purity. Noise (-1)
 * counts as a cluster of its own.
 */
export interface Agreement {
  nmi: number;
  ari: number;
  purity: number;
  clusters: number;
  classes: number;
}

export function agreement(predicted: ArrayLike<number>, truth: ArrayLike<string | number>): Agreement {
  const n = predicted.length;
  const joint = new Map<string, number>();
  const byCluster = new Map<number, number>();
  const byClass = new Map<string, number>();
  for (let i = 0; i < n; i++) {
    const p = predicted[i]!;
    const t = String(truth[i]!);
    joint.set(`${p}\u0000${t}`, (joint.get(`${p}\u0000${t}`) ?? 0) + 1);
    byCluster.set(p, (byCluster.get(p) ?? 0) + 1);
    byClass.set(t, (byClass.get(t) ?? 0) + 1);
  }
  const entropy = (counts: Iterable<number>) => {
    let h = 0;
    for (const c of counts) h -= (c / n) * Math.log(c / n);
    return h;
  };
  let mi = 0;
  const purest = new Map<number, number>();
  for (const [key, c] of joint) {
    const [p, t] = key.split('\u0000') as [string, string];
    const pc = byCluster.get(Number(p))!;
    const tc = byClass.get(t)!;
    mi += (c / n) * Math.log((c * n) / (pc * tc));
    purest.set(Number(p), Math.max(purest.get(Number(p)) ?? 0, c));
  }
  const hp = entropy(byCluster.values());
  const ht = entropy(byClass.values());
  const nmi = hp + ht === 0 ? 1 : (2 * mi) / (hp + ht);
  const pairs = (k: number) => (k * (k - 1)) / 2;
  const index = [...joint.values()].reduce((s, c) => s + pairs(c), 0);
  const a = [...byCluster.values()].reduce((s, c) => s + pairs(c), 0);
  const b = [...byClass.values()].reduce((s, c) => s + pairs(c), 0);
  const expected = (a * b) / pairs(n);
  const max = (a + b) / 2;
  const ari = max === expected ? 1 : (index - expected) / (max - expected);
  const purity = [...purest.values()].reduce((s, c) => s + c, 0) / n;
  return { nmi, ari, purity, clusters: byCluster.size, classes: byClass.size };
}

import { describe, expect, it } from 'vitest';
import { seededRandom, gaussian } from '../../src/embed/linalg.js';
import { TfidfSvdEmbedder } from '../../src/embed/tfidf.js';
import { dbscan } from '../../src/cluster/fit.js';
import { hdbscan } from '../../src/cluster/hdbscan.js';
import { agreement } from '../../src/cluster/metrics.js';
import { loadBlocklist, parseLabel } from '../../src/cluster/label.js';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Blobs of points around `centres` (spread `sd`), and uniform background noise. */
function blobs(centres: [number, number][], each: number, sd: number, noise: number, seed = 1) {
  const r = seededRandom(seed);
  const xy: number[] = [];
  const truth: number[] = [];
  centres.forEach(([cx, cy], c) => {
    for (let i = 0; i < each; i++) {
      xy.push(cx + sd * gaussian(r), cy + sd * gaussian(r));
      truth.push(c);
    }
  });
  for (let i = 0; i < noise; i++) {
    xy.push(20 * r() - 10, 20 * r() - 10);
    truth.push(-1);
  }
  return { xy: Float32Array.from(xy), truth };
}

describe('clustering', () => {
  const centres: [number, number][] = [[-5, -5], [5, 5], [5, -5], [-5, 5]];

  it('HDBSCAN finds the blobs without being told how many, and leaves sparse background points as noise', () => {
    const { xy, truth } = blobs(centres, 150, 0.6, 60);
    const { labels, clusters } = hdbscan(xy, 2, { minClusterSize: 20 });
    expect(clusters).toBe(4);
    const clustered = truth.map((t, i) => [t, labels[i]!] as const).filter(([t]) => t >= 0);
    expect(agreement(clustered.map(([, l]) => l), clustered.map(([t]) => t)).nmi).toBeGreaterThan(0.95);
    // A good share of the background is noise (points that fall near a blob join it), and few blob points are.
    expect(truth.filter((t, i) => t < 0 && labels[i]! < 0).length).toBeGreaterThan(15);
    expect(clustered.filter(([, l]) => l < 0).length).toBeLessThan(60);
  });

  it('HDBSCAN works when there is no noise at all (one cluster is not lost)', () => {
    const { xy, truth } = blobs(centres.slice(0, 2), 100, 0.3, 0);
    const { labels, clusters } = hdbscan(xy, 2, { minClusterSize: 10 });
    expect(clusters).toBe(2);
    expect(agreement(labels, truth).nmi).toBeGreaterThan(0.95);
  });

  it('DBSCAN reads its radius off the k-distance curve', () => {
    const { xy, truth } = blobs(centres, 150, 0.4, 40);
    const { labels, clusters, eps } = dbscan(xy, 10);
    expect(clusters).toBe(4);
    expect(eps).toBeGreaterThan(0);
    const clustered = truth.map((t, i) => [t, labels[i]!] as const).filter(([t]) => t >= 0);
    expect(agreement(clustered.map(([, l]) => l), clustered.map(([t]) => t)).nmi).toBeGreaterThan(0.9);
  });

  it('measures agreement: NMI and ARI are 1 for the same partition under other names, purity counts majority members', () => {
    expect(agreement([0, 0, 1, 1, 2, 2], ['a', 'a', 'b', 'b', 'c', 'c'])).toMatchObject({ nmi: 1, ari: 1, purity: 1, clusters: 3, classes: 3 });
    const one = agreement([0, 0, 0, 0], ['a', 'a', 'b', 'b']);
    expect(one.nmi).toBe(0);
    expect(one.purity).toBe(0.5);
  });
});

describe('TF-IDF + SVD', () => {
  it('puts texts on the same subject nearer each other than texts on others, deterministically', () => {
    const texts = [
      'The cell membrane controls what enters and leaves the cell; proteins in the membrane carry ions.',
      'Mitochondria produce energy for the cell; the membrane of the mitochondria holds proteins.',
      'The central bank raised interest rates to slow inflation; bond prices fell as rates rose.',
      'Inflation eroded savings, so the bank offered higher interest rates on deposits and bonds.',
    ];
    const e = TfidfSvdEmbedder.fit(texts, { dims: 3, minDf: 1 });
    const v = e.embedSync(texts);
    const cos = (a: number, b: number) => [0, 1, 2].reduce((s, c) => s + v[a * 3 + c]! * v[b * 3 + c]!, 0);
    expect(cos(0, 1)).toBeGreaterThan(cos(0, 2));
    expect(cos(2, 3)).toBeGreaterThan(cos(1, 3));
    expect(TfidfSvdEmbedder.fit(texts, { dims: 3, minDf: 1 }).embedSync(texts)).toEqual(v);
  });
});

describe('cluster labels', () => {
  it('are read from the JSON answer, and anything else is refused with the reason', () => {
    expect(parseLabel('{"educational_score": 7, "topic": "Home heating  and air"}')).toEqual({ topic: 'Home heating and air', educational_score: 7 });
    expect(() => parseLabel('The topic is cooking.')).toThrow(/not JSON/);
    expect(() => parseLabel('{"educational_score": 12, "topic": "x y"}')).toThrow(/educational_score/);
  });

  it('drop topics of the blocklist, which is data: a bad file is named with its key', () => {
    const blocked = (topic: string) => loadBlocklist().find((b) => b.re.test(topic))?.id;
    expect(blocked('Celebrity gossip and red carpets')).toBe('celebrity');
    expect(blocked('Online casino bonuses')).toBe('gambling');
    expect(blocked('Cell biology')).toBeUndefined();
    const file = join(mkdtempSync(join(tmpdir(), 'cosmo-blocklist-')), 'bad.yaml');
    writeFileSync(file, 'version: 1\npatterns:\n  - { id: x }\n');
    expect(() => loadBlocklist(file)).toThrow(`${file}: patterns.0.pattern:`);
  });
});

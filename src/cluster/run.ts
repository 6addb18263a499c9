import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createEmbedder } from '../embed/create.js';
import { words } from '../embed/words.js';
import type { Embedder } from '../embed/types.js';
import { openPool, type OpenedPool } from '../engines/open.js';
import { writeFileAtomic, writeJsonAtomic } from '../io/atomic.js';
import { stableId } from '../records/id.js';
import { concatArrays } from '../util/arrays.js';
import type { Logger } from '../util/log.js';
import type { ClusterConfig } from './config.js';
import { fitClusters, type Fit } from './fit.js';
import { labelClusters, loadBlocklist, loadLabelPrompt, type LabelOutcome } from './label.js';
import { clusterMapHtml } from './map.js';

/** One cluster as reported in clusters.json. */
export interface ClusterInfo {
  id: number;
  size: number;
  topic?: string;
  educational_score?: number;
  /** Why the LLM gave no label, when it did not. */
  label_error?: string;
  /** Why the cluster was dropped (`blocklist:<id>`, `score<min`), when it was. */
  dropped?: string;
  /** The words that set the cluster apart (frequent in it, rare elsewhere): what it is about, LLM or not. */
  keywords: string[];
  /** Short extracts of a few members. */
  examples: string[];
  /** Mean 2-D position on the map. */
  centroid: [number, number];
}

export interface Clustering {
  fit: Fit;
  clusters: ClusterInfo[];
  embedder: string;
}

export interface ClusterTextsOptions {
  log: Logger;
  signal: AbortSignal;
  resolve: (path: string) => string;
  /** The corpus output folder: vectors are kept under its `.cosmo/` so relabelling never re-embeds. */
  workDir: string;
  seed: number;
  /** Name of this run's request cache for the labelling LLM. */
  cacheName: string;
}

/** Vectors of `texts`, from the cache when this embedder already embedded exactly these texts. */
async function vectorsOf(cfg: ClusterConfig, texts: string[], o: ClusterTextsOptions): Promise<{ vectors: Float32Array; dim: number; name: string }> {
  const key = stableId('vectors', cfg.embedder, cfg.text_chars, o.seed, stableId(texts));
  const dir = join(o.workDir, '.cosmo', 'cluster-vectors');
  const file = join(dir, `${key}.f32`);
  const meta = join(dir, `${key}.json`);
  if (existsSync(file) && existsSync(meta)) {
    const m = JSON.parse(readFileSync(meta, 'utf8')) as { dim: number; name: string };
    const buf = readFileSync(file);
    o.log.info('vectors from an earlier run', { documents: texts.length, embedder: m.name });
    return { vectors: new Float32Array(buf.buffer, buf.byteOffset, buf.byteLength / 4), dim: m.dim, name: m.name };
  }
  const started = Date.now();
  o.log.info('embedding', { documents: texts.length, embedder: cfg.embedder.type });
  const embedder: Embedder = await createEmbedder(cfg.embedder, texts, { resolve: o.resolve, log: o.log, seed: o.seed });
  try {
    const parts: Float32Array[] = [];
    for (let at = 0; at < texts.length; at += 4096) {
      o.signal.throwIfAborted();
      parts.push(await embedder.embed(texts.slice(at, at + 4096), o.signal));
    }
    const all = parts.length === 1 ? parts[0]! : concatArrays(parts, Float32Array);
    mkdirSync(dir, { recursive: true });
    await writeFileAtomic(file, new Uint8Array(all.buffer, all.byteOffset, all.byteLength));
    await writeJsonAtomic(meta, { dim: embedder.dim, name: embedder.name, documents: texts.length });
    o.log.info('embedded', { documents: texts.length, embedder: embedder.name, dim: embedder.dim, ms: Date.now() - started });
    return { vectors: all, dim: embedder.dim, name: embedder.name };
  } finally {
    await embedder.close?.();
  }
}

/**
 * Embed, project, cluster, label and filter a corpus of texts: what the cluster stage and
 * `cosmo cluster` both do. A cluster whose label fails is kept without a topic and reported.
 */
export async function clusterTexts(texts: string[], cfg: ClusterConfig, o: ClusterTextsOptions, pool?: OpenedPool): Promise<Clustering> {
  const cut = texts.map((t) => t.slice(0, cfg.text_chars));
  const { vectors, dim, name } = await vectorsOf(cfg, cut, o);
  const started = Date.now();
  const fit = await fitClusters(vectors, dim, {
    neighbors: cfg.neighbors,
    sample: cfg.sample,
    method: cfg.method,
    minClusterSize: cfg.min_cluster_size,
    assignNoise: cfg.assign_noise,
    seed: o.seed,
    signal: o.signal,
    onProgress: (step) => o.log.info(step),
  });
  o.log.info('clustered', { clusters: fit.clusters, noise: countOf(fit.labels, -1), ms: Date.now() - started });

  const members = new Map<number, number[]>();
  fit.labels.forEach((l, i) => {
    if (l < 0) return;
    if (!members.has(l)) members.set(l, []);
    members.get(l)!.push(i);
  });
  const clusters: ClusterInfo[] = [...members.keys()]
    .sort((a, b) => a - b)
    .map((id) => {
      const idx = members.get(id)!;
      let x = 0;
      let y = 0;
      for (const i of idx) {
        x += fit.xy[2 * i]!;
        y += fit.xy[2 * i + 1]!;
      }
      return { id, size: idx.length, keywords: [], examples: idx.slice(0, 3).map((i) => oneLine(texts[i]!, 160)), centroid: [x / idx.length, y / idx.length] };
    });
  addKeywords(clusters, members, cut);

  if (pool) {
    const outcomes: Map<number, LabelOutcome> = await labelClusters(
      clusters.map((c) => ({ id: c.id, texts: members.get(c.id)!.map((i) => texts[i]!) })),
      pool.pool,
      { samples: cfg.label.samples, maxChars: cfg.label.max_chars, attempts: cfg.label.attempts, concurrency: cfg.label.concurrency, seed: o.seed, promptFile: cfg.label.prompt_file && o.resolve(cfg.label.prompt_file), signal: o.signal },
      (id, outcome, attempts) => o.log.info('labelled', { cluster: id, ...('error' in outcome ? { error: outcome.error } : outcome), attempts }),
    );
    const blocklist = loadBlocklist(cfg.blocklist && o.resolve(cfg.blocklist));
    for (const c of clusters) {
      const label = outcomes.get(c.id);
      if (!label) continue;
      if ('error' in label) {
        c.label_error = label.error;
        continue;
      }
      c.topic = label.topic;
      c.educational_score = label.educational_score;
      const blocked = blocklist.find((b) => b.re.test(label.topic));
      if (blocked) c.dropped = `blocklist:${blocked.id}`;
      else if (label.educational_score < cfg.min_score) c.dropped = `score<${cfg.min_score}`;
    }
  }
  return { fit, clusters, embedder: name };
}

/** Check what labelling will need, before anything runs. */
export function checkLabelling(cfg: ClusterConfig, resolve: (p: string) => string): void {
  loadBlocklist(cfg.blocklist && resolve(cfg.blocklist));
  if (cfg.label.enabled) loadLabelPrompt(cfg.label.prompt_file && resolve(cfg.label.prompt_file));
}

/** The labelling LLM's pool, or none when labelling is off. */
export async function openLabelPool(cfg: ClusterConfig, o: ClusterTextsOptions): Promise<OpenedPool | undefined> {
  if (!cfg.label.enabled) return undefined;
  return openPool({ ...cfg.label, engines: cfg.label.engines ?? [] }, { log: o.log, cacheName: o.cacheName, workDir: o.workDir, resolve: o.resolve });
}

/** clusters.json and map.html in `dir`. */
export async function writeClusterFiles(dir: string, c: Clustering, texts: string[], title: string): Promise<void> {
  await writeJsonAtomic(join(dir, 'clusters.json'), { embedder: c.embedder, documents: texts.length, noise: countOf(c.fit.labels, -1), clusters: c.clusters });
  const html = clusterMapHtml({ title, xy: c.fit.xy, labels: c.fit.labels, hover: (i) => oneLine(texts[i]!, 200), clusters: c.clusters });
  await writeFileAtomic(join(dir, 'map.html'), html);
}

/** Each cluster's five most distinctive words: share of its documents holding a word × log(documents / documents holding it). */
function addKeywords(clusters: ClusterInfo[], members: Map<number, number[]>, texts: string[]): void {
  const docWords = texts.map((t) => new Set(words(t)));
  const df = new Map<string, number>();
  for (const ws of docWords) for (const w of ws) df.set(w, (df.get(w) ?? 0) + 1);
  for (const c of clusters) {
    const inCluster = new Map<string, number>();
    for (const i of members.get(c.id)!) for (const w of docWords[i]!) inCluster.set(w, (inCluster.get(w) ?? 0) + 1);
    c.keywords = [...inCluster]
      .filter(([, k]) => k >= 2)
      .map(([w, k]) => [w, (k / c.size) * Math.log(texts.length / df.get(w)!)] as const)
      .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))
      .slice(0, 5)
      .map(([w]) => w);
  }
}

const oneLine = (s: string, n: number) => {
  const t = s.replace(/\s+/g, ' ').trim();
  return t.length > n ? `${t.slice(0, n - 1)}…` : t;
};

const countOf = (a: Int32Array, v: number) => a.reduce((s, x) => s + (x === v ? 1 : 0), 0);

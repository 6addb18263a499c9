import { poolModels } from '../engines/config.js';
import { resolveEngines } from '../engines/open.js';
import { defineStage } from '../exec/stage.js';
import { SEED_RECORD } from '../records/check.js';
import type { SeedRecord } from '../records/types.js';
import { clusterSchema } from './config.js';
import { checkLabelling, clusterTexts, openLabelPool, writeClusterFiles } from './run.js';

/**
 * cluster: web seeds (or any kinds asked for) grouped into topics, as Cosmopedia did with
 * text-clustering. Embed, project (UMAP), cluster (HDBSCAN), have an LLM name each cluster and
 * score its educational value, drop the clusters of a blocklist or below a score, and give every
 * seed its cluster's topic. Seeds of other kinds pass through. Writes clusters.json and map.html.
 */
export const clusterStage = defineStage({
  name: 'cluster',
  key: 'cluster',
  schema: clusterSchema.prefault({}),
  description: 'group the web seeds into topics named by an LLM (or: cosmo cluster FILES --out DIR)',
  input: { records: SEED_RECORD, whole: true },
  output: SEED_RECORD,
  sides: ['dropped'],
  // How the labels are asked (concurrency, addresses, retries) does not shape them; the models do.
  settings: (cfg, corpus) => {
    const { concurrency: _c, engines, endpoints_file: _e, endpoints_refresh_s: _r, timeout_s: _t, retry: _y, breaker: _b, cache: _k, ...label } = cfg.label;
    return { ...cfg, label: { ...label, models: engines && poolModels(engines) }, blocklist: cfg.blocklist && corpus.resolve(cfg.blocklist) };
  },
  inputFiles: (cfg, corpus) => [cfg.blocklist, cfg.label.prompt_file].filter((f): f is string => !!f).map((f) => corpus.resolve(f)),
  enabled: (cfg) => cfg.enabled,
  tasks: () => 1,
  async check(cfg, corpus) {
    checkLabelling(cfg, corpus.resolve);
    if (cfg.label.enabled) resolveEngines({ ...cfg.label, engines: cfg.label.engines ?? [] }, corpus.resolve);
  },
  async runTask(cfg, ctx) {
    const seeds: SeedRecord[] = [];
    for await (const s of ctx.input()) seeds.push(s);
    const chosen = seeds.map((s, i) => [s, i] as const).filter(([s]) => cfg.kinds.includes(s.kind) && s.text.trim());
    ctx.stats.inc('seeds', seeds.length);
    ctx.stats.inc('clustered', chosen.length);
    const opts = { log: ctx.log, signal: ctx.signal, resolve: ctx.corpus.resolve, workDir: ctx.workDir, seed: ctx.corpus.seed, cacheName: 'cluster-label' };
    const texts = chosen.map(([s]) => s.text);
    const pool = await openLabelPool(cfg, opts);
    let result;
    try {
      result = await clusterTexts(texts, cfg, opts, pool);
    } finally {
      await pool?.close();
    }
    const byCluster = new Map(result.clusters.map((c) => [c.id, c]));
    const clusterOf = new Map(chosen.map(([, i], k) => [i, result.fit.labels[k]!]));
    for (const [i, s] of seeds.entries()) {
      const id = clusterOf.get(i);
      if (id === undefined) {
        await ctx.output.write(s);
        continue;
      }
      const c = byCluster.get(id);
      if (c?.dropped) {
        await ctx.side('dropped').write({ ...s, meta: { ...s.meta, cluster: id, cluster_topic: c.topic, educational_score: c.educational_score, dropped: c.dropped } });
        ctx.stats.inc(`dropped.${c.dropped.split(':')[0]}`);
        continue;
      }
      const meta: Record<string, unknown> = { ...s.meta, cluster: id };
      if (c?.topic) {
        meta.cluster_topic = c.topic;
        meta.educational_score = c.educational_score;
        // A seed's own topic (its topic_field) wins over its cluster's.
        if (typeof s.meta.topic !== 'string' || !s.meta.topic) meta.topic = c.topic;
      }
      if (id < 0) ctx.stats.inc('noise');
      await ctx.output.write({ ...s, meta });
    }
    ctx.stats.inc('clusters', result.clusters.length);
    ctx.stats.inc('labelled', result.clusters.filter((c) => c.topic).length);
    for (const c of result.clusters) if (c.label_error) ctx.stats.note(`label_failed.${c.id}`, c.label_error);
    ctx.stats.inc('label_failed', result.clusters.filter((c) => c.label_error).length);
    await writeClusterFiles(ctx.outputDir, result, texts, `${ctx.corpus.name}: topics of ${texts.length} seeds`);
    ctx.log.info('topics', { clusters: result.clusters.length, dropped: result.clusters.filter((c) => c.dropped).length, map: `${ctx.outputDir}/map.html` });
  },
});

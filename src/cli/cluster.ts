import { statSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { clusterSchema } from '../cluster/config.js';
import { CosmoError } from '../util/errors.js';
import { createLogger } from '../util/log.js';
import { addCommonOptions, configFromOptions, enginesFromOptions, resolveEndpointModel, type CommonOptions } from './common.js';
import { withInterrupt } from './interrupt.js';
import { printSummary } from './run.js';

interface Options extends CommonOptions {
  out?: string;
  textField: string;
  idField: string;
  labelsField?: string;
  embedder: string;
  label: boolean;
  minClusterSize?: string;
  sample?: string;
}

/**
 * `cosmo cluster corpus.yaml` runs the cluster stage of a corpus; `cosmo cluster FILES... --out DIR`
 * clusters any JSONL / JSONL.gz / Parquet files outside a pipeline, as `cosmo contamination` checks them.
 */
export function registerCluster(program: Command): void {
  addCommonOptions(
    program
      .command('cluster')
      .description('group documents into topics named by an LLM: the cluster stage of a corpus file, or any files with --out DIR')
      .argument('<paths...>', 'a corpus file, or (with --out) data files or folders')
      .option('--out <dir>', 'cluster these files, not a corpus: write assignments.jsonl, clusters.json and map.html here')
      .option('--text-field <name>', 'record field holding the text', 'text')
      .option('--id-field <name>', 'record field holding the id (else the record number)', 'id')
      .option('--labels-field <name>', 'a known labelling: print NMI, ARI and purity against it')
      .option('--embedder <type>', 'glove | tfidf (see the corpus config for gguf and openai)', 'glove')
      .option('--no-label', 'no LLM: clusters without topics')
      .option('--min-cluster-size <n>', 'smallest cluster (default: about 1/500 of the documents)')
      .option('--sample <n>', 'fit on at most this many documents (default 20000)'),
  ).action(async (paths: string[], opts: Options) => {
    if (!opts.out) {
      if (paths.length !== 1) throw new CosmoError('cosmo cluster: give one corpus file, or data files with --out DIR');
      const cfg = await configFromOptions(paths[0]!, opts);
      const { runPipeline } = await import('../pipeline/run.js');
      const results = await withInterrupt((signal) =>
        runPipeline(cfg, { only: ['seeds', 'cluster'], log: createLogger(), signal, skipBad: opts.skipBad, progress: 'lines' }),
      );
      printSummary(results);
      return;
    }
    await withInterrupt((signal) => clusterFiles(paths, opts, signal));
  });
}

async function clusterFiles(paths: string[], opts: Options, signal: AbortSignal): Promise<void> {
  const [{ agreement }, { clusterTexts, openLabelPool, writeClusterFiles }, { JsonlWriter }, { listShards, readRecords }] = await Promise.all([
    import('../cluster/metrics.js'),
    import('../cluster/run.js'),
    import('../io/jsonl-writer.js'),
    import('../io/shards.js'),
  ]);
  const log = createLogger('cluster');
  await resolveEndpointModel(opts);
  const engines = enginesFromOptions(opts);
  if (opts.label && !engines.length) throw new CosmoError('cosmo cluster: naming the clusters needs an LLM: --model PATH.gguf or --endpoint URL (or --no-label)');
  const parsed = clusterSchema.safeParse({
    enabled: true,
    embedder: { type: opts.embedder },
    label: { enabled: opts.label, engines },
    ...(opts.minClusterSize ? { min_cluster_size: Number(opts.minClusterSize) } : {}),
    ...(opts.sample ? { sample: Number(opts.sample) } : {}),
  });
  if (!parsed.success) throw new CosmoError(`cosmo cluster: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  const cfg = parsed.data;
  const files = paths.flatMap((p) => (statSync(resolve(p), { throwIfNoEntry: false })?.isDirectory() ? listShards(resolve(p)) : [resolve(p)]));
  const ids: string[] = [];
  const texts: string[] = [];
  const truth: string[] = [];
  for (const file of files) {
    let n = 0;
    for await (const r of readRecords<Record<string, unknown>>(file, { skipBad: opts.skipBad })) {
      n++;
      const text = r[opts.textField];
      if (typeof text !== 'string') throw new CosmoError(`${file}: record ${n} has no "${opts.textField}" text (--text-field)`);
      ids.push(r[opts.idField] === undefined ? `${file}:${n}` : String(r[opts.idField]));
      texts.push(text);
      if (opts.labelsField) truth.push(String(r[opts.labelsField] ?? ''));
    }
  }
  if (texts.length === 0) throw new CosmoError(`cosmo cluster: no records in ${paths.join(', ')}`);
  const out = resolve(opts.out!);
  await mkdir(out, { recursive: true });
  const runOpts = { log, signal, resolve: (p: string) => resolve(p), workDir: out, seed: 42, cacheName: 'cluster-label' };
  const pool = await openLabelPool(cfg, runOpts);
  let result;
  try {
    result = await clusterTexts(texts, cfg, runOpts, pool);
  } finally {
    await pool?.close();
  }
  const byId = new Map(result.clusters.map((c) => [c.id, c]));
  const w = await JsonlWriter.open(resolve(out, 'assignments.jsonl'));
  for (let i = 0; i < texts.length; i++) {
    const c = byId.get(result.fit.labels[i]!);
    await w.write({ id: ids[i], cluster_id: result.fit.labels[i], topic: c?.topic ?? null, educational_score: c?.educational_score ?? null, ...(c?.dropped ? { dropped: c.dropped } : {}) });
  }
  await w.commit();
  await writeClusterFiles(out, result, texts, `topics of ${texts.length} documents`);
  const lines = [
    `cosmo cluster: ${texts.length} documents in ${result.clusters.length} clusters (${result.fit.labels.filter((l) => l < 0).length} noise), embedder ${result.embedder}`,
    ...result.clusters
      .map(
        (c) =>
          `  ${String(c.id).padStart(3)}  ${String(c.size).padStart(6)}  ${c.topic ?? (c.label_error ? `(no label: ${c.label_error})` : '')}` +
          `${c.educational_score ? `  score ${c.educational_score}` : ''}${c.dropped ? `  dropped (${c.dropped})` : ''}  [${c.keywords.join(', ')}]`,
      ),
  ];
  if (opts.labelsField) {
    const a = agreement(result.fit.labels, truth);
    lines.push(`against ${opts.labelsField} (${a.classes} classes): NMI ${a.nmi.toFixed(3)}  ARI ${a.ari.toFixed(3)}  purity ${a.purity.toFixed(3)}`);
  }
  lines.push(`written: ${resolve(out, 'assignments.jsonl')}, clusters.json, map.html`);
  process.stdout.write(lines.join('\n') + '\n');
}

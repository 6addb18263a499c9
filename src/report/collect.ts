/**
 * Every number of `cosmo report`: what a dataset holds (distributions, lengths, openings, diversity,
 * near-duplicates within each template) read with DuckDB from its Parquet or JSONL files without
 * loading them, and, for a corpus output folder, what each stage left (filter drops, the duplicate
 * rate, the decontamination table, review flags, generation over time, clusters). A partial run
 * reports what its stages have written so far.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { MinHasher } from '../dedup/minhash.js';
import { dataFiles } from '../io/files.js';
import { queryRows, sqlString } from '../io/parquet.js';
import { CosmoError } from '../util/errors.js';

export interface Count {
  value: string | null;
  n: number;
  share: number;
}

export interface ReportData {
  title: string;
  generated_at: string;
  /** Where the rows were read from: a stage's folder or the files given. */
  source: string;
  rows: number;
  tokens: number;
  /** Whether token counts are the samples' own (token_length) or estimated from characters / 4. */
  tokens_estimated: boolean;
  distributions: Record<string, Count[]>;
  /** Token-length histogram per format: bin width and counts. */
  lengths: { bin: number; formats: Record<string, number[]> };
  openings: { overall: Count[]; by_format: Record<string, Count[]>; by_template: Record<string, Count[]> };
  diversity: { sampled: number; distinct_1: number; distinct_2: number; distinct_3: number };
  /** Per template: samples checked and the share with a near-duplicate (MinHash, 5-word shingles, estimated Jaccard ≥ 0.7) in the same template. */
  near_duplicates: { template: string; checked: number; rate: number; top_opening_share: number }[];
  stages: {
    filter?: { checked: number; kept: number; dropped: Record<string, number> };
    dedup?: { docs: number; removed: number };
    decontaminate?: { checked: number; removed: number; benchmarks: { benchmark: string; items: number; samples_removed: number; unique_items: number }[] };
    review?: { flags: number; by_template: Record<string, Record<string, number>> };
    generate?: {
      samples: number;
      failed: number;
      completion_tokens: number;
      tokens_per_s: number;
      timeline: { t_s: number; tokens_per_s: number; failed: number }[];
      errors_by_kind: Record<string, number>;
      finish_reasons: Record<string, number>;
    };
    cluster?: { documents: number; clusters: { id: number; size: number; topic: string | null; keywords: string[] }[]; map: string | null };
  };
}

/** Columns the report reads when a dataset has them. */
export const DIMENSIONS = ['seed_source', 'format', 'audience', 'language', 'template_id', 'topic', 'model'];
const RECORD_STAGES = ['decontaminate', 'dedup', 'filter', 'generate'];
const DATA_FILE = /\.(parquet|jsonl|jsonl\.gz)$/;

/** The rows to report on: an export's Parquet, else the latest stage with sample records; or the files given. */
export function datasetFiles(paths: string[]): { files: string[]; source: string; outDir?: string } {
  if (paths.length === 1 && existsSync(paths[0]!) && statSync(paths[0]!).isDirectory()) {
    const dir = paths[0]!;
    const exp = join(dir, 'export');
    const parquet = existsSync(exp) ? readdirSync(exp).filter((f) => f.endsWith('.parquet')) : [];
    if (parquet.length) return { files: parquet.sort().map((f) => join(exp, f)), source: 'export', outDir: dir };
    for (const stage of RECORD_STAGES) {
      const sd = join(dir, stage);
      const shards = existsSync(sd) ? readdirSync(sd).filter((f) => /^\d+\.jsonl$/.test(f)) : [];
      if (shards.length) return { files: shards.sort().map((f) => join(sd, f)), source: stage, outDir: dir };
    }
  }
  const files = paths.flatMap((p) => dataFiles(p, 'report input').filter((f) => DATA_FILE.test(f)));
  if (files.length === 0) throw new CosmoError(`nothing to report in ${paths.join(', ')}: no export/, no stage records, and no Parquet or JSONL files`);
  return { files, source: paths.join(', ') };
}

/** The files as one DuckDB relation, failed requests left out. */
export async function relation(files: string[]): Promise<{ from: string; columns: Set<string> }> {
  const parquet = files.every((f) => f.endsWith('.parquet'));
  const list = `[${files.map(sqlString).join(', ')}]`;
  const raw = parquet ? `read_parquet(${list}, union_by_name = true)` : `read_json(${list}, format = 'newline_delimited', union_by_name = true, maximum_object_size = 100000000)`;
  const columns = new Set((await queryRows(`DESCRIBE SELECT * FROM ${raw}`)).map((r) => String(r.column_name)));
  if (!columns.has('text')) throw new CosmoError(`the rows of ${files[0]} have no text column`);
  return { from: `(SELECT * FROM ${raw}${columns.has('error') ? ' WHERE error IS NULL' : ''})`, columns };
}

/** The first five words of a text, lower-cased, without punctuation: how Cosmopedia caught boilerplate openings. */
const OPENING = `array_to_string(list_slice(regexp_split_to_array(trim(regexp_replace(lower(left(text, 200)), '[^\\p{L}\\p{N}\\s]+', '', 'g')), '\\s+'), 1, 5), ' ')`;

const counts = (rows: Record<string, unknown>[], total: number): Count[] =>
  rows.map((r) => ({ value: r.v === null || r.v === undefined ? null : String(r.v), n: Number(r.n), share: total ? Number(r.n) / total : 0 }));

const readJson = <T>(file: string): T | undefined => (existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as T) : undefined);

/** Lower-cased words of a text. */
const words = (t: string) => t.toLowerCase().match(/[\p{L}\p{N}']+/gu) ?? [];

function diversity(texts: string[]): ReportData['diversity'] {
  const sets = [new Set<string>(), new Set<string>(), new Set<string>()];
  const totals = [0, 0, 0];
  for (const t of texts) {
    const w = words(t);
    for (let n = 1; n <= 3; n++)
      for (let i = 0; i + n <= w.length; i++) {
        sets[n - 1]!.add(w.slice(i, i + n).join(' '));
        totals[n - 1]!++;
      }
  }
  const d = (n: number) => (totals[n]! ? sets[n]!.size / totals[n]! : 0);
  return { sampled: texts.length, distinct_1: d(0), distinct_2: d(1), distinct_3: d(2) };
}

/** Share of `texts` with a near-duplicate among them: MinHash LSH candidates, kept at signature agreement ≥ 0.7. */
export function nearDuplicateRate(texts: string[]): number {
  const bands = 14;
  const rows = 8;
  const hasher = new MinHasher({ ngram: 5, bands, rows, seed: 1 });
  const sigs = texts.map((t) => {
    const sig = new Uint32Array(bands * rows);
    return hasher.hash(t, sig).words > 0 ? sig : undefined;
  });
  const dup = new Uint8Array(texts.length);
  for (let b = 0; b < bands; b++) {
    const buckets = new Map<string, number[]>();
    sigs.forEach((s, i) => {
      if (!s) return;
      const key = Array.from(s.subarray(b * rows, (b + 1) * rows)).join(',');
      const list = buckets.get(key);
      if (list) list.push(i);
      else buckets.set(key, [i]);
    });
    for (const list of buckets.values()) {
      if (list.length < 2) continue;
      for (let x = 0; x < list.length; x++)
        for (let y = x + 1; y < list.length && y < x + 50; y++) {
          const [i, j] = [list[x]!, list[y]!];
          if (dup[i] && dup[j]) continue;
          let same = 0;
          for (let k = 0; k < bands * rows; k++) if (sigs[i]![k] === sigs[j]![k]) same++;
          if (same / (bands * rows) >= 0.7) dup[i] = dup[j] = 1;
        }
    }
  }
  return texts.length ? dup.reduce((n, x) => n + x, 0) / texts.length : 0;
}

/** All the report's numbers for `paths` (one corpus output folder, or dataset files and folders). */
export async function collectReport(paths: string[], opts: { title?: string; sample?: number; perTemplate?: number } = {}): Promise<ReportData> {
  const { files, source, outDir } = datasetFiles(paths);
  const { from, columns } = await relation(files);
  const has = (c: string) => columns.has(c);
  const tokenExpr = has('token_length') ? 'coalesce(token_length, length(text) / 4)' : 'length(text) / 4';
  const [totals] = await queryRows(`SELECT count(*)::BIGINT AS rows, coalesce(sum(${tokenExpr}), 0)::BIGINT AS tokens FROM ${from}`);
  const rows = Number(totals?.rows ?? 0);

  const distributions: ReportData['distributions'] = {};
  for (const d of DIMENSIONS.filter(has))
    distributions[d] = counts(await queryRows(`SELECT "${d}"::VARCHAR AS v, count(*)::BIGINT AS n FROM ${from} GROUP BY 1 ORDER BY n DESC, v LIMIT 30`), rows);

  // Lengths: 24 equal bins up to the 99th percentile, per format (the six largest).
  const fmt = has('format') ? 'coalesce(format, \'(none)\')' : "'all'";
  const [p99] = await queryRows(`SELECT coalesce(quantile_cont(${tokenExpr}, 0.99), 1)::DOUBLE AS p FROM ${from}`);
  const bin = Math.max(1, Math.ceil(Number(p99?.p ?? 1) / 24));
  const lengths: ReportData['lengths'] = { bin, formats: {} };
  const topFormats = (await queryRows(`SELECT ${fmt} AS f, count(*)::BIGINT AS n FROM ${from} GROUP BY 1 ORDER BY n DESC LIMIT 6`)).map((r) => String(r.f));
  for (const r of await queryRows(`SELECT ${fmt} AS f, least(floor(${tokenExpr} / ${bin}), 24)::INTEGER AS b, count(*)::BIGINT AS n FROM ${from} GROUP BY 1, 2`)) {
    const f = String(r.f);
    if (!topFormats.includes(f)) continue;
    (lengths.formats[f] ??= new Array<number>(25).fill(0))[Number(r.b)] = Number(r.n);
  }

  const openings: ReportData['openings'] = {
    overall: counts(await queryRows(`SELECT ${OPENING} AS v, count(*)::BIGINT AS n FROM ${from} GROUP BY 1 ORDER BY n DESC, v LIMIT 30`), rows),
    by_format: {},
    by_template: {},
  };
  for (const [key, col] of [['by_format', 'format'], ['by_template', 'template_id']] as const) {
    if (!has(col)) continue;
    const top = await queryRows(
      `SELECT g, v, n, total FROM (SELECT g, v, n, sum(n) OVER (PARTITION BY g)::BIGINT AS total, row_number() OVER (PARTITION BY g ORDER BY n DESC, v) AS r ` +
        `FROM (SELECT "${col}"::VARCHAR AS g, ${OPENING} AS v, count(*)::BIGINT AS n FROM ${from} GROUP BY 1, 2)) WHERE r <= 5 ORDER BY total DESC, g, n DESC LIMIT 200`,
    );
    for (const r of top) (openings[key][String(r.g)] ??= []).push({ value: String(r.v), n: Number(r.n), share: Number(r.n) / Number(r.total) });
  }

  const sample = (await queryRows(`SELECT text FROM ${from} USING SAMPLE reservoir(${opts.sample ?? 5000} ROWS) REPEATABLE (42)`)).map((r) => String(r.text));
  const perTemplate = opts.perTemplate ?? 2000;
  const near_duplicates: ReportData['near_duplicates'] = [];
  const groups = has('template_id') ? (distributions.template_id ?? []).slice(0, 20) : [{ value: 'all', n: rows, share: 1 }];
  for (const g of groups) {
    const where = has('template_id') ? `WHERE template_id ${g.value === null ? 'IS NULL' : `= ${sqlString(g.value)}`}` : '';
    const texts = (await queryRows(`SELECT text FROM ${from} ${where} USING SAMPLE reservoir(${perTemplate} ROWS) REPEATABLE (42)`)).map((r) => String(r.text));
    const top = openings.by_template[String(g.value)]?.[0]?.share ?? openings.overall[0]?.share ?? 0;
    near_duplicates.push({ template: String(g.value ?? '(none)'), checked: texts.length, rate: nearDuplicateRate(texts), top_opening_share: top });
  }

  return {
    title: opts.title ?? (outDir ? outDir.split('/').filter(Boolean).pop()! : 'dataset'),
    generated_at: new Date().toISOString(),
    source,
    rows,
    tokens: Number(totals?.tokens ?? 0),
    tokens_estimated: !has('token_length'),
    distributions,
    lengths,
    openings,
    diversity: diversity(sample),
    near_duplicates,
    stages: outDir ? stageFigures(outDir) : {},
  };
}

/** What the stages of a corpus output folder left, as far as they ran. */
function stageFigures(dir: string): ReportData['stages'] {
  const out: ReportData['stages'] = {};
  const filter = readJson<{ counters: Record<string, number> }>(join(dir, 'filter', 'stats.json'));
  if (filter) {
    const c = filter.counters;
    out.filter = { checked: c.samples ?? 0, kept: c.kept ?? 0, dropped: Object.fromEntries(Object.entries(c).filter(([k]) => k.startsWith('dropped.')).map(([k, n]) => [k.slice(8), n])) };
  }
  const dedup = readJson<{ counters: Record<string, number> }>(join(dir, 'dedup', 'stats.json'));
  if (dedup) out.dedup = { docs: dedup.counters.docs ?? 0, removed: (dedup.counters.docs ?? 0) - (dedup.counters.kept ?? 0) };
  const decontam = readJson<{ samples: { checked: number; removed: number }; benchmarks: { benchmark: string; items: number; samples_removed: number; unique_items: number }[] }>(join(dir, 'decontaminate', 'report.json'));
  if (decontam)
    out.decontaminate = {
      checked: decontam.samples.checked,
      removed: decontam.samples.removed,
      benchmarks: decontam.benchmarks.map(({ benchmark, items, samples_removed, unique_items }) => ({ benchmark, items, samples_removed, unique_items })),
    };
  const flagsFile = join(dir, 'review', 'flags.jsonl');
  if (existsSync(flagsFile)) {
    const by: Record<string, Record<string, number>> = {};
    let flags = 0;
    for (const line of readFileSync(flagsFile, 'utf8').split('\n').filter(Boolean)) {
      const f = JSON.parse(line) as { template_id?: string; reason?: string };
      flags++;
      const t = (by[f.template_id ?? '(none)'] ??= {});
      t[f.reason ?? 'flagged'] = (t[f.reason ?? 'flagged'] ?? 0) + 1;
    }
    out.review = { flags, by_template: by };
  }
  const genDir = join(dir, 'generate');
  const metrics = existsSync(genDir) ? readdirSync(genDir).filter((f) => f.endsWith('.metrics.json')) : [];
  if (metrics.length) {
    const g = { samples: 0, failed: 0, completion_tokens: 0, tokens_per_s: 0, timeline: [] as { t_s: number; tokens_per_s: number; failed: number }[], errors_by_kind: {} as Record<string, number>, finish_reasons: {} as Record<string, number> };
    const add = (into: Record<string, number>, from: Record<string, number> = {}) => {
      for (const [k, n] of Object.entries(from)) into[k] = (into[k] ?? 0) + n;
    };
    // Tasks ran side by side or one after another; their timelines are summed by time since each began.
    const byTime = new Map<number, { tokens_per_s: number; failed: number }>();
    for (const f of metrics) {
      const m = JSON.parse(readFileSync(join(genDir, f), 'utf8')) as {
        totals: { samples: number; failed: number; completion_tokens: number };
        throughput: { tokens_per_s: number };
        timeline: { t_s: number; tokens_per_s: number; failed: number }[];
        errors_by_kind: Record<string, number>;
        finish_reasons: Record<string, number>;
      };
      g.samples += m.totals.samples;
      g.failed += m.totals.failed;
      g.completion_tokens += m.totals.completion_tokens;
      g.tokens_per_s += m.throughput.tokens_per_s;
      add(g.errors_by_kind, m.errors_by_kind);
      add(g.finish_reasons, m.finish_reasons);
      for (const p of m.timeline) {
        const t = Math.round(p.t_s);
        const e = byTime.get(t) ?? { tokens_per_s: 0, failed: 0 };
        e.tokens_per_s += p.tokens_per_s;
        e.failed += p.failed;
        byTime.set(t, e);
      }
    }
    g.timeline = [...byTime].sort((a, b) => a[0] - b[0]).map(([t_s, e]) => ({ t_s, ...e }));
    out.generate = g;
  }
  const clusters = readJson<{ documents: number; clusters: { id: number; size: number; topic?: string; keywords: string[] }[] }>(join(dir, 'cluster', 'clusters.json'));
  if (clusters)
    out.cluster = {
      documents: clusters.documents,
      clusters: clusters.clusters.map((c) => ({ id: c.id, size: c.size, topic: c.topic ?? null, keywords: c.keywords })).sort((a, b) => b.size - a.size),
      map: existsSync(join(dir, 'cluster', 'map.html')) ? '../cluster/map.html' : null,
    };
  return out;
}

import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { readAll } from '../io/shards.js';
import type { PromptRecord } from '../records/types.js';
import type { BuildReport } from './build.js';

export interface PromptStats {
  prompts: number;
  /** Share of prompts per value, per dimension (Cosmopedia's figure 5). */
  distribution: Record<'seed_source' | 'format' | 'audience' | 'language' | 'template' | 'kind', Record<string, { count: number; share: number }>>;
  topic_conditioned_share: number;
  /** Prompt length in characters at the 10th, 50th, 90th and 99th percentiles (÷4 for a rough token count). */
  length_chars: Record<'p10' | 'p50' | 'p90' | 'p99' | 'max', number>;
  /** Exact duplicate prompts in this set (the builder removes them, so this should be 0). */
  exact_duplicates: number;
  /** From the build: duplicates removed, near duplicates found, shortfalls. */
  build?: Pick<BuildReport, 'requested' | 'duplicates_removed' | 'near_duplicates' | 'capped' | 'shortfalls' | 'expected'>;
  /** The largest gap, in percentage points, between configured and actual shares of format, audience, language and kind. */
  max_deviation_pp?: number;
}

function percentiles(values: number[]): Record<'p10' | 'p50' | 'p90' | 'p99' | 'max', number> {
  const v = values.slice().sort((a, b) => a - b);
  const at = (p: number) => (v.length ? v[Math.min(v.length - 1, Math.floor(p * v.length))]! : 0);
  return { p10: at(0.1), p50: at(0.5), p90: at(0.9), p99: at(0.99), max: v.at(-1) ?? 0 };
}

/** The kind of seed a template family writes from: the template id's first part (web.blogpost → web). */
const kindOf = (p: PromptRecord) => p.template_id.split('.')[0] ?? p.template_id;

/** Distributions, lengths and duplicates of a set of prompts. */
export function promptStats(prompts: Iterable<PromptRecord>, build?: PromptStats['build']): PromptStats {
  const dims = ['seed_source', 'format', 'audience', 'language', 'template', 'kind'] as const;
  const counts = Object.fromEntries(dims.map((d) => [d, new Map<string, number>()])) as Record<(typeof dims)[number], Map<string, number>>;
  const chars: number[] = [];
  const seen = new Set<string>();
  let n = 0;
  let topics = 0;
  let dups = 0;
  for (const p of prompts) {
    n++;
    const values = { seed_source: p.seed_source, format: p.format, audience: p.audience, language: p.language, template: p.template_id, kind: kindOf(p) };
    for (const d of dims) counts[d].set(values[d], (counts[d].get(values[d]) ?? 0) + 1);
    if (p.topic) topics++;
    chars.push(p.prompt.length);
    const h = createHash('sha1').update(p.prompt).digest('base64');
    if (seen.has(h)) dups++;
    else seen.add(h);
  }
  const distribution = Object.fromEntries(
    dims.map((d) => [
      d,
      Object.fromEntries(
        [...counts[d].entries()].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])).map(([k, c]) => [k, { count: c, share: n ? c / n : 0 }]),
      ),
    ]),
  ) as PromptStats['distribution'];
  const stats: PromptStats = {
    prompts: n,
    distribution,
    topic_conditioned_share: n ? topics / n : 0,
    length_chars: percentiles(chars),
    exact_duplicates: dups,
  };
  if (build) {
    const { requested, duplicates_removed, near_duplicates, capped, shortfalls, expected } = build;
    stats.build = { requested, duplicates_removed, near_duplicates, capped, shortfalls, expected };
    let worst = 0;
    for (const dim of ['format', 'audience', 'language', 'kind'] as const) {
      const actual = distribution[dim];
      const names = new Set([...Object.keys(expected[dim]), ...Object.keys(actual)]);
      for (const k of names) {
        if (dim === 'kind' && (k === 'mixed' || !(k in expected.kind))) continue;
        worst = Math.max(worst, Math.abs((expected[dim][k] ?? 0) - (actual[k]?.share ?? 0)) * 100);
      }
    }
    stats.max_deviation_pp = worst;
  }
  return stats;
}

const pct = (x: number) => `${(x * 100).toFixed(1).padStart(5)}%`;

/** A text rendering of the stats for a terminal: one bar chart per dimension. */
export function formatPromptStats(s: PromptStats): string {
  const lines: string[] = [`prompts: ${s.prompts}`];
  const expected = s.build?.expected as Record<string, Record<string, number>> | undefined;
  for (const [dim, values] of Object.entries(s.distribution)) {
    lines.push('', `${dim}:`);
    const entries = Object.entries(values);
    for (const [name, { count, share }] of entries.slice(0, 30)) {
      const exp = expected?.[dim]?.[name];
      const bar = '█'.repeat(Math.round(share * 40));
      lines.push(`  ${name.padEnd(32).slice(0, 32)} ${String(count).padStart(8)} ${pct(share)}${exp !== undefined ? ` (mix ${pct(exp).trim()})` : ''}  ${bar}`);
    }
    if (entries.length > 30) lines.push(`  … ${entries.length - 30} more`);
  }
  const l = s.length_chars;
  lines.push(
    '',
    `topic-conditioned: ${pct(s.topic_conditioned_share).trim()}`,
    `prompt length (chars): p10 ${l.p10}  p50 ${l.p50}  p90 ${l.p90}  p99 ${l.p99}  max ${l.max}`,
    `exact duplicates in output: ${s.exact_duplicates}`,
  );
  if (s.build) {
    lines.push(
      `duplicates removed while building: ${s.build.duplicates_removed}`,
      `near-duplicate prompts (kept, reported): ${s.build.near_duplicates}`,
      `draws refused by balance caps: ${s.build.capped}`,
      `largest gap from the configured mix: ${s.max_deviation_pp?.toFixed(2)} percentage points`,
    );
    for (const f of s.build.shortfalls) lines.push(`shortfall: ${f.cell}: ${f.built}/${f.requested} (${f.reason})`);
  }
  return lines.join('\n');
}

/** Stats of the prompt shards in a stage folder, with the build's duplicate and mix figures from its report. */
export async function promptStatsOfDir(dir: string): Promise<PromptStats> {
  const records: PromptRecord[] = [];
  for await (const p of readAll<PromptRecord>(dir)) records.push(p);
  let build: PromptStats['build'];
  try {
    build = (JSON.parse(readFileSync(join(dir, 'report.json'), 'utf8')) as PromptStats).build;
  } catch {
    // No report (prompts written by an older run): the stats stand without the build figures.
  }
  return promptStats(records, build);
}

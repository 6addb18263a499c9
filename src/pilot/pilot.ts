/**
 * `cosmo pilot` as a library: Cosmopedia's prompt-iteration loop as one command. A few samples for
 * every template × audience cell, in a small output folder of its own (`<output>-pilot`), generated
 * and filtered with the corpus's own settings; then, per cell, what a person looks at before paying
 * for the full run: how often the texts open alike, how many are near-duplicates, how long they
 * are, how many `max_tokens` cut, how many the filter drops. The worst cells come first, with
 * examples.
 */
import { readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic, writeJsonAtomic } from '../io/atomic.js';
import { collect, readAll, readRecords, writeShard } from '../io/shards.js';
import type { PromptRecord, Sample } from '../records/types.js';
import { nearDuplicateRate } from '../report/collect.js';
import { runPipeline, type StageResult } from '../pipeline/run.js';
import type { CorpusConfig } from '../pipeline/corpus.js';
import { CosmoError } from '../util/errors.js';
import type { Logger } from '../util/log.js';

export interface PilotCell {
  template: string;
  audience: string;
  samples: number;
  /** Share of the cell's texts that open with its most common first five words, and those words. */
  top_opening_share: number;
  top_opening: string;
  near_duplicate_rate: number;
  mean_tokens: number;
  /** Share stopped by max_tokens (finish_reason length). */
  cut_share: number;
  /** Share the filter dropped, and why (reason → samples). */
  drop_rate: number;
  drop_reasons: Record<string, number>;
  failed: number;
  /** The sum of the four shares: how much of the cell is a problem; the table is sorted by it. */
  badness: number;
  examples: string[];
}

export interface PilotResult {
  dir: string;
  perCell: number;
  cells: PilotCell[];
  stages: StageResult[];
}

/** The first five words, lower-cased, without punctuation (as the report counts openings). */
export const opening = (text: string) =>
  text
    .slice(0, 200)
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s]+/gu, '')
    .trim()
    .split(/\s+/)
    .slice(0, 5)
    .join(' ');

/** Keep the first `n` prompts of every template × audience cell in a prompts folder; returns the cells' sizes. */
async function keepPerCell(dir: string, n: number): Promise<Map<string, number>> {
  const shards = readdirSync(dir).filter((f) => /^\d+\.jsonl$/.test(f)).sort((a, b) => Number.parseInt(a) - Number.parseInt(b));
  const cells = new Map<string, number>();
  for (const shard of shards) {
    const kept: PromptRecord[] = [];
    for (const p of await collect(readRecords<PromptRecord>(join(dir, shard)))) {
      const key = `${p.template_id}\t${p.audience}`;
      const have = cells.get(key) ?? 0;
      if (have < n) {
        kept.push(p);
        cells.set(key, have + 1);
      }
    }
    await writeShard(join(dir, shard), kept);
  }
  return cells;
}

const share = (n: number, of: number) => (of ? n / of : 0);

export async function runPilot(cfg: CorpusConfig, opts: { perCell: number; log: Logger; signal?: AbortSignal; fresh?: boolean }): Promise<PilotResult> {
  const dir = cfg.output_dir;
  if (opts.fresh) rmSync(dir, { recursive: true, force: true });
  const stages: StageResult[] = [];
  stages.push(...(await runPipeline(cfg, { only: ['seeds', 'prompts'], log: opts.log, signal: opts.signal })));
  const cells = await keepPerCell(join(dir, 'prompts'), opts.perCell);
  opts.log.info('pilot prompts', { cells: cells.size, per_cell: opts.perCell, prompts: [...cells.values()].reduce((a, b) => a + b, 0) });
  stages.push(...(await runPipeline(cfg, { only: ['generate', ...(cfg.filter.enabled ? ['filter'] : [])], log: opts.log, signal: opts.signal })));

  const generated = await collect(readAll<Sample>(join(dir, 'generate')));
  const rejects = cfg.filter.enabled ? await collect(readAll<Sample & { reject_reason: string }>(join(dir, 'filter', 'rejects'))) : [];
  const rejectOf = new Map(rejects.map((r) => [r.id, r.reject_reason]));
  const byCell = new Map<string, Sample[]>();
  for (const s of generated) {
    const key = `${s.template_id}\t${s.audience}`;
    byCell.set(key, [...(byCell.get(key) ?? []), s]);
  }
  if (byCell.size === 0) throw new CosmoError(`pilot: no sample was generated in ${join(dir, 'generate')}`);
  const result: PilotCell[] = [];
  for (const [key, samples] of byCell) {
    const [template, audience] = key.split('\t') as [string, string];
    const ok = samples.filter((s) => !s.error && s.text);
    const openings = new Map<string, number>();
    for (const s of ok) openings.set(opening(s.text), (openings.get(opening(s.text)) ?? 0) + 1);
    const [top, topN] = [...openings].sort((a, b) => b[1] - a[1])[0] ?? ['', 0];
    const drops: Record<string, number> = {};
    for (const s of ok) {
      const why = rejectOf.get(s.id);
      if (why) drops[why] = (drops[why] ?? 0) + 1;
    }
    const cell = {
      template,
      audience,
      samples: ok.length,
      top_opening_share: share(topN, ok.length),
      top_opening: top,
      near_duplicate_rate: nearDuplicateRate(ok.map((s) => s.text)),
      mean_tokens: share(ok.reduce((n, s) => n + (s.token_length ?? 0), 0), ok.length),
      cut_share: share(ok.filter((s) => s.finish_reason === 'length').length, ok.length),
      drop_rate: share(Object.values(drops).reduce((a, b) => a + b, 0), ok.length),
      drop_reasons: drops,
      failed: samples.length - ok.length,
      examples: ok.slice(0, 2).map((s) => s.text.slice(0, 240).replace(/\s+/g, ' ')),
    };
    result.push({ ...cell, badness: cell.top_opening_share + cell.near_duplicate_rate + cell.cut_share + cell.drop_rate });
  }
  result.sort((a, b) => b.badness - a.badness || a.template.localeCompare(b.template) || a.audience.localeCompare(b.audience));
  await writeJsonAtomic(join(dir, 'pilot.json'), { per_cell: opts.perCell, cells: result });
  await writeFileAtomic(join(dir, 'pilot.md'), pilotTable(result));
  return { dir, perCell: opts.perCell, cells: result, stages };
}

const pct = (x: number) => `${(100 * x).toFixed(0)}%`;

/** The ranked table, worst first, and examples of the three worst cells (Markdown, also printed). */
export function pilotTable(cells: PilotCell[]): string {
  const cell = (s: string) => s.replace(/[|`*\\<>]/g, (c) => `\\${c}`);
  const lines = [
    '| template | audience | samples | top opening | near-dup | mean tokens | cut by max_tokens | filter drops |',
    '| --- | --- | ---: | --- | ---: | ---: | ---: | --- |',
    ...cells.map(
      (c) =>
        `| ${cell(c.template)} | ${cell(c.audience)} | ${c.samples} | ${pct(c.top_opening_share)} "${cell(c.top_opening)}" | ${pct(c.near_duplicate_rate)} | ${Math.round(c.mean_tokens)} | ${pct(c.cut_share)} | ${pct(c.drop_rate)}${
          Object.keys(c.drop_reasons).length ? ` (${Object.entries(c.drop_reasons).map(([k, n]) => `${cell(k)} ${n}`).join(', ')})` : ''
        } |`,
    ),
    '',
    ...cells.slice(0, 3).flatMap((c) => [`Examples of ${c.template} × ${c.audience}:`, ...c.examples.map((e) => `> ${cell(e)}…`), '']),
  ];
  return lines.join('\n');
}

import { existsSync } from 'node:fs';
import { readAll } from '../io/shards.js';
import type { PromptRecord } from '../records/types.js';
import { costOf, dearest, formatUsd, priceOf, type Price } from '../engines/prices.js';
import type { Logger } from '../util/log.js';
import type { CorpusConfig } from './corpus.js';
import { resolvePath } from './env.js';
import { runPipeline, stageDir } from './run.js';

export interface DryRunReport {
  prompts: number;
  byFormat: Record<string, number>;
  byAudience: Record<string, number>;
  promptTokens: number;
  /** How the prompt tokens were counted: the model's own tokenizer, or an estimate. */
  tokenizer: string;
  /** Upper bound: every prompt's max_tokens. */
  maxOutputTokens: number;
  tokensPerSecond: number;
  /** Seconds to generate maxOutputTokens at tokensPerSecond. */
  maxSeconds: number;
  /**
   * Dollars at most (every prompt's tokens and max_tokens) at the dearest priced engine's price,
   * and the per-run cap, when an engine has a price.
   */
  cost?: { maxUsd: number; model: string; price: Price; maxCost?: number };
}

type Counter = { name: string; count: (text: string) => number; close: () => Promise<void> };

/** The embedded model's tokenizer when the model is a local file (vocabulary only, no weights loaded); else ~4 chars a token. */
async function tokenCounter(cfg: CorpusConfig): Promise<Counter> {
  const embedded = cfg.generate.engines.find((e) => e.type === 'embedded');
  const path = embedded && !embedded.model.startsWith('hf:') ? resolvePath(cfg, embedded.model) : undefined;
  if (path && existsSync(path)) {
    const { getLlama } = await import('node-llama-cpp');
    const llama = await getLlama({ gpu: false });
    const model = await llama.loadModel({ modelPath: path, vocabOnly: true });
    return { name: `tokenizer of ${path}`, count: (t) => model.tokenize(t).length, close: () => model.dispose() };
  }
  return { name: 'estimated at 4 characters a token', count: (t) => Math.ceil(t.length / 4), close: async () => {} };
}

/** Build the prompts for real, then say what generating them would take, without generating anything. */
export async function dryRun(
  cfg: CorpusConfig,
  opts: { log: Logger; signal?: AbortSignal; tokensPerSecond: number; skipBad?: boolean },
): Promise<DryRunReport> {
  await runPipeline(cfg, { only: ['seeds', 'prompts'], log: opts.log, signal: opts.signal, skipBad: opts.skipBad });
  const counter = await tokenCounter(cfg);
  const report: DryRunReport = {
    prompts: 0,
    byFormat: {},
    byAudience: {},
    promptTokens: 0,
    tokenizer: counter.name,
    maxOutputTokens: 0,
    tokensPerSecond: opts.tokensPerSecond,
    maxSeconds: 0,
  };
  try {
    for await (const p of readAll<PromptRecord>(stageDir(cfg, 'prompts'))) {
      report.prompts++;
      report.byFormat[p.format] = (report.byFormat[p.format] ?? 0) + 1;
      report.byAudience[p.audience] = (report.byAudience[p.audience] ?? 0) + 1;
      report.promptTokens += counter.count(p.prompt);
      report.maxOutputTokens += p.max_tokens ?? cfg.generate.params.max_tokens;
    }
  } finally {
    await counter.close();
  }
  report.maxSeconds = report.maxOutputTokens / Math.max(1e-9, opts.tokensPerSecond);
  const priced = dearest(cfg.generate.engines, (e) => (e.type === 'embedded' ? undefined : priceOf(e.model, e.price, e.type === 'openai-batch')));
  if (priced)
    report.cost = { maxUsd: costOf({ prompt_tokens: report.promptTokens, completion_tokens: report.maxOutputTokens }, priced.price), model: priced.item.model, price: priced.price, maxCost: cfg.generate.max_cost };
  return report;
}

export function formatDuration(seconds: number): string {
  if (seconds < 90) return `${seconds.toFixed(0)} s`;
  if (seconds < 5400) return `${(seconds / 60).toFixed(0)} min`;
  if (seconds < 172800) return `${(seconds / 3600).toFixed(1)} h`;
  return `${(seconds / 86400).toFixed(1)} days`;
}

export function formatDryRun(r: DryRunReport): string {
  const dist = (m: Record<string, number>) =>
    Object.entries(m)
      .sort((a, b) => b[1] - a[1])
      .map(([k, v]) => `${k} ${v}`)
      .join(', ');
  return [
    'dry run: nothing was generated',
    `  prompts:             ${r.prompts}`,
    `  formats:             ${dist(r.byFormat)}`,
    `  audiences:           ${dist(r.byAudience)}`,
    `  prompt tokens:       ${r.promptTokens} (${r.tokenizer})`,
    `  output tokens:       up to ${r.maxOutputTokens} (max_tokens per prompt)`,
    `  time at ${r.tokensPerSecond} tok/s:  up to ${formatDuration(r.maxSeconds)}`,
    ...(r.cost
      ? [
          `  cost:                up to ${formatUsd(r.cost.maxUsd)} (${r.cost.model} at $${r.cost.price.input}/M prompt and $${r.cost.price.output}/M completion tokens; answers shorter than max_tokens cost less)` +
            (r.cost.maxCost !== undefined ? `; generate.max_cost stops at ${formatUsd(r.cost.maxCost)}` : ''),
        ]
      : []),
  ].join('\n');
}

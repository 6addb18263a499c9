/**
 * Cost in dollars: prices from the table or the config, the run's cost matching a hand computation
 * from what the server said it used, max_cost stopping cleanly with nothing lost and going on when
 * raised, and the dry run's estimate.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { costOf, priceOf } from '../../src/engines/prices.js';
import { ledgerPath, metricsPath, shardPath } from '../../src/generate/stage.js';
import type { GenerateMetrics } from '../../src/generate/metrics.js';
import { dryRun, formatDryRun } from '../../src/pipeline/dry-run.js';
import { parseConfig } from '../../src/pipeline/corpus.js';
import { runPipeline, stageDir } from '../../src/pipeline/run.js';
import { collect, readAll } from '../../src/io/shards.js';
import type { PromptRecord } from '../../src/records/types.js';
import { silentLogger } from '../../src/util/log.js';
import { mockServers } from '../helpers/mock-servers.js';
import { corpusConfig, makePrompts, readSamples, tmp, writePrompts } from './helpers.js';

const mock = mockServers();
// Dear on purpose, so that a few answers cost whole cents.
const PRICE = { input: 1000, output: 2000 };
const COMPLETION = 10;
/** What the mock server says a prompt used: its characters / 4, rounded up, and COMPLETION tokens. */
const handCost = (prompts: string[]) => prompts.reduce((usd, p) => usd + (Math.ceil(p.length / 4) * PRICE.input + COMPLETION * PRICE.output) / 1e6, 0);
const metrics = (dir: string) => JSON.parse(readFileSync(metricsPath(join(dir, 'generate'), 0), 'utf8')) as GenerateMetrics;

describe('cost', () => {
  it('prices models from the table, dated snapshots too, and lets the config override it', () => {
    expect(priceOf('gpt-4o-mini')).toEqual({ input: 0.15, output: 0.6 });
    expect(priceOf('gpt-4o-mini-2024-07-18')).toEqual({ input: 0.15, output: 0.6 });
    expect(priceOf('gpt-4o-mini', { input: 0.075, output: 0.3 })).toEqual({ input: 0.075, output: 0.3 });
    expect(priceOf('HuggingFaceTB/SmolLM2-1.7B-Instruct')).toBeUndefined();
    // 1,000 prompt tokens at $0.15/M and 500 completion tokens at $0.60/M: $0.00015 + $0.0003.
    expect(costOf({ prompt_tokens: 1000, completion_tokens: 500 }, priceOf('gpt-4o-mini'))).toBeCloseTo(0.00045, 12);
    expect(costOf({ prompt_tokens: 1000, completion_tokens: 500 }, undefined)).toBe(0);
  });

  it('adds up what the answers cost, as a hand computation does', async () => {
    const s = await mock({ completionTokens: COMPLETION });
    const dir = tmp();
    const prompts = makePrompts(20);
    writePrompts(dir, prompts);
    const cfg = corpusConfig(dir, { engines: [{ type: 'openai', base_url: s.url, model: 'm', concurrency: 4, price: PRICE }], params: { max_tokens: 50 }, cache: false });
    await runPipeline(cfg, { only: ['generate'], log: silentLogger });
    const expected = handCost(prompts.map((p) => p.prompt));
    // Each prompt has 67 or 68 characters, 17 tokens at $1,000/M, and 10 completion tokens at $2,000/M: $0.037.
    expect(expected).toBeCloseTo(20 * 0.037, 9);
    expect(metrics(dir).cost).toEqual({ usd: Number(expected.toFixed(4)), earlier_usd: 0, projected_usd: Number(expected.toFixed(4)) });

  });

  it('estimates the most a run can cost in the dry run', async () => {
    const dir = tmp();
    writeFileSync(join(dir, 'web.jsonl'), ['tides and the moon', 'how bread rises', 'the water cycle'].map((t, i) => JSON.stringify({ id: `d${i}`, text: `${t}. `.repeat(40) })).join('\n') + '\n');
    const cfg = parseConfig(
      {
        name: 'cost',
        output: 'out',
        seeds: [{ kind: 'web', path: 'web.jsonl' }],
        prompts: { count: 6, mix: [{ kind: 'web', format: 'textbook_academic' }], audiences: ['college', 'high_school'] },
        generate: { engines: [{ type: 'openai', base_url: 'http://127.0.0.1:9/v1', model: 'm', price: PRICE }], params: { max_tokens: 50 }, max_cost: 2 },
      },
      { file: join(dir, 'corpus.yaml'), baseDir: dir },
    );
    const report = await dryRun(cfg, { log: silentLogger, tokensPerSecond: 100 });
    const prompts = await collect(readAll<PromptRecord>(stageDir(cfg, 'prompts')));
    expect(prompts).toHaveLength(6);
    // At most: every prompt's tokens (four characters a token, as the dry run counts without a local model), and all 50 of max_tokens.
    const most = prompts.reduce((usd, p) => usd + (Math.ceil(p.prompt.length / 4) * PRICE.input + 50 * PRICE.output) / 1e6, 0);
    expect(report.cost?.maxUsd).toBeCloseTo(most, 9);
    expect(formatDryRun(report)).toContain(`cost:                up to $${most.toFixed(2)} (m at $1000/M prompt and $2000/M completion tokens; answers shorter than max_tokens cost less); generate.max_cost stops at $2.00`);
  });

  it('stops at max_cost with every answer paid for kept, and goes on when it is raised', async () => {
    const s = await mock({ completionTokens: COMPLETION, latencyMs: 5 });
    const dir = tmp();
    const prompts = makePrompts(40);
    writePrompts(dir, prompts);
    const engines = [{ type: 'openai', base_url: s.url, model: 'm', concurrency: 4, price: PRICE }];
    const stopped = await runPipeline(corpusConfig(dir, { engines, max_cost: 0.5, params: { max_tokens: 12 }, cache: false }), { only: ['generate'], log: silentLogger }).then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    expect(stopped?.message).toMatch(/stopped at generate\.max_cost: \$0\.\d\d spent of \$0\.50; \d+ of 40 prompts are done and kept\. Raise generate\.max_cost/);
    const first = metrics(dir);
    expect(first.status).toBe('interrupted');
    expect(first.cost!.usd).toBeLessThanOrEqual(0.5);
    // At $0.037 a prompt, 13 fit in $0.50 ($0.481; 14 would be $0.518), and every request made reached the ledger.
    expect(first.totals.samples).toBe(13);
    expect(s.stats.completed).toBe(13);
    expect(readFileSync(ledgerPath(join(dir, 'generate'), 0), 'utf8').trim().split('\n')).toHaveLength(13);

    await runPipeline(corpusConfig(dir, { engines, max_cost: 10, params: { max_tokens: 12 }, cache: false }), { only: ['generate'], log: silentLogger });
    const samples = readSamples(shardPath(join(dir, 'generate'), 0));
    expect(new Set(samples.map((x) => x.id)).size).toBe(40);
    expect(samples).toHaveLength(40);
    // No prompt was asked twice, and the cost counts the first run's answers too.
    expect(s.stats.completed).toBe(40);
    const all = handCost(prompts.map((p) => p.prompt));
    expect(metrics(dir).cost!.usd).toBeCloseTo(all, 4);
    expect(metrics(dir).cost!.earlier_usd).toBeCloseTo(handCost(prompts.slice(0, 13).map((p) => p.prompt)), 4);
  }, 60_000);
});

/**
 * The cluster stage in a pipeline and `cosmo cluster` on files: real web seeds, labels through a
 * local OpenAI-compatible server (with invalid answers retried) and through the real llama.cpp
 * engine, the topics reaching the prompts, and the map in a real browser.
 */
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { launchChromium } from '../helpers/chromium.js';
import { describe, expect, it } from 'vitest';
import type { ClusterInfo } from '../../src/cluster/run.js';
import { collect, readAll } from '../../src/io/shards.js';
import { parseConfig } from '../../src/pipeline/corpus.js';
import { runPipeline } from '../../src/pipeline/run.js';
import type { PromptRecord, SeedRecord } from '../../src/records/types.js';
import { silentLogger } from '../../src/util/log.js';
import { cosmo } from '../helpers/cli.js';
import { mockServers } from '../helpers/mock-servers.js';
import { hasSharedData, sharedPath } from '../helpers/shared-data.js';
import { tinyModelPath } from '../helpers/tiny-model.js';

const mock = mockServers();
/** Debian's Chromium, which .ci/run installs; never a browser a tool downloads. */

/** The shared web seeds (C4 and Dolma documents) as one JSONL file. */
function webFile(dir: string, extra: string[] = []): string {
  const lines = ['seed/web/c4_demo.jsonl', 'seed/web/dolma_cc_en_head-0091.jsonl', 'seed/web/dolma_cc_en_head-0174.jsonl'].flatMap((f) =>
    readFileSync(sharedPath(f), 'utf8').split('\n').filter(Boolean),
  );
  const file = join(dir, 'web.jsonl');
  writeFileSync(file, [...lines, ...extra.map((text) => JSON.stringify({ text }))].join('\n') + '\n');
  return file;
}

/** A labeller that names cluster n "Topic n", calls one "Celebrity gossip", and answers nonsense first now and then. */
const labeller = (prompt: string, n: number) => {
  if (n % 5 === 1) return 'I think these are about several things.';
  if (prompt.includes('celebrity') || n === 4) return '{"educational_score": 2, "topic": "Celebrity gossip"}';
  return JSON.stringify({ educational_score: 4 + (n % 6), topic: `Topic ${n}` });
};

describe.runIf(hasSharedData)('the cluster stage', () => {
  it('gives web seeds their cluster and its topic, drops blocklisted or low-scoring clusters, and the prompts use the topics', async () => {
    const server = await mock({ reply: labeller });
    const dir = mkdtempSync(join(tmpdir(), 'cosmo-cluster-'));
    const cfg = parseConfig(
      {
        output: join(dir, 'out'),
        seeds: [{ kind: 'web', path: webFile(dir) }],
        cluster: { enabled: true, label: { attempts: 2, concurrency: 2 } },
        prompts: { topic_probability: 1 },
        generate: { engines: [{ type: 'openai', base_url: server.url, model: 'm' }] },
      },
      { file: join(dir, 'corpus.yaml'), baseDir: dir },
    );
    const results = await runPipeline(cfg, { only: ['seeds', 'cluster', 'prompts'], log: silentLogger });
    const stats = results.find((r) => r.stage === 'cluster')!.stats.counters;
    const report = JSON.parse(readFileSync(join(dir, 'out/cluster/clusters.json'), 'utf8')) as { clusters: ClusterInfo[] };
    expect(report.clusters.length).toBeGreaterThan(3);
    // Invalid answers were asked again; every cluster got a label or a reported failure.
    expect(server.stats.requests).toBeGreaterThan(report.clusters.length);
    for (const c of report.clusters) expect(c.topic !== undefined || c.label_error !== undefined).toBe(true);
    const dropped = report.clusters.filter((c) => c.dropped);
    expect(dropped.length).toBeGreaterThan(0);
    for (const c of dropped) expect(c.dropped).toMatch(/^(blocklist:celebrity|score<3)$/);

    const seeds = await collect(readAll<SeedRecord>(join(dir, 'out/cluster')));
    const removed = await collect(readAll<SeedRecord>(join(dir, 'out/cluster/dropped')));
    expect(seeds.length + removed.length).toBe(stats.seeds);
    expect(removed.length).toBe(dropped.reduce((n, c) => n + c.size, 0));
    const named = seeds.filter((s) => typeof s.meta.topic === 'string');
    expect(named.length).toBeGreaterThan(0);
    for (const s of named) expect(report.clusters.find((c) => c.id === s.meta.cluster)!.topic).toBe(s.meta.topic);

    const prompts = await collect(readAll<PromptRecord>(join(dir, 'out/prompts')));
    const topicOf = new Map(seeds.map((s) => [s.id, s.meta.topic]));
    for (const p of prompts) expect(p.topic).toBe(topicOf.get(p.seed_id));
    expect(prompts.some((p) => p.topic && p.prompt.includes(`within the context of "${p.topic}"`))).toBe(true);
    expect(readFileSync(join(dir, 'out/cluster/map.html'), 'utf8')).toContain('<svg');
  });

  it('labels through the real llama.cpp engine with a JSON-schema grammar (random weights: the path, not the words)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cosmo-cluster-'));
    const r = await cosmo(['cluster', webFile(dir), '--out', join(dir, 'out'), '--embedder', 'tfidf', '--model', await tinyModelPath(), '--min-cluster-size', '40'], { cwd: dir }).done;
    expect(r.code, r.stderr).toBe(0);
    const report = JSON.parse(readFileSync(join(dir, 'out/clusters.json'), 'utf8')) as { clusters: ClusterInfo[] };
    expect(report.clusters.length).toBeGreaterThan(0);
    for (const c of report.clusters) {
      if (c.topic !== undefined) expect(c.educational_score).toBeGreaterThanOrEqual(1);
      else expect(c.label_error).toMatch(/no valid label after 3 attempts/);
    }
  }, 300_000);

  it('clusters any files with cosmo cluster --out, and draws a map a browser shows, every text escaped', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cosmo-cluster-'));
    const evil = '<script>window.__hacked = 1</script><img src=x onerror="window.__hacked = 2"> tricky text';
    const r = await cosmo(['cluster', webFile(dir, [evil]), '--out', join(dir, 'out'), '--no-label', '--embedder', 'tfidf'], { cwd: dir }).done;
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/cosmo cluster: 321 documents in \d+ clusters/);
    const assignments = readFileSync(join(dir, 'out/assignments.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(assignments.length).toBe(321);
    expect(assignments[0]).toMatchObject({ id: expect.any(String), cluster_id: expect.any(Number), topic: null });

    const browser = await launchChromium('the map');
    if (!browser) return;
    try {
      const page = await browser.newPage();
      const requests: string[] = [];
      page.on('request', (req) => requests.push(req.url()));
      await page.goto(`file://${join(dir, 'out/map.html')}`);
      expect(await page.locator('svg circle').count()).toBe(321);
      expect(await page.locator('table tbody tr').count()).toBeGreaterThan(1);
      expect(await page.evaluate(() => (globalThis as unknown as { __hacked?: number }).__hacked)).toBeUndefined();
      expect(await page.locator('svg circle title').filter({ hasText: 'tricky text' }).count()).toBe(1);
      // Self-contained: nothing fetched but the file itself.
      expect(requests.filter((u) => !u.startsWith('file://'))).toEqual([]);
      const png = join(dir, 'out/map.png');
      await page.screenshot({ path: png, fullPage: true });
      expect(existsSync(png) && readFileSync(png).length).toBeGreaterThan(10_000);
    } finally {
      await browser.close();
    }
  }, 300_000);
});

/**
 * `cosmo view` in real Chromium: pages, filters, search, sort, a flag saved from the page, text from
 * the data shown and never run; the server's guards (host, origin, content type, CSP); and the loop
 * closed: the flagged sample is dropped by the next filter run and counted by the report.
 */
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { launchChromium } from '../helpers/chromium.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readExport } from '../../src/export/stage.js';
import { collect, readAll, writeShard } from '../../src/io/shards.js';
import { parseConfig, type CorpusConfig } from '../../src/pipeline/corpus.js';
import { runPipeline } from '../../src/pipeline/run.js';
import { readFlags, flagsPath } from '../../src/records/review.js';
import { collectReport } from '../../src/report/collect.js';
import { silentLogger } from '../../src/util/log.js';
import { startViewer, type Viewer } from '../../src/view/server.js';
import { rng, seedParagraphs } from '../decontaminate/planted-corpus.js';
import { makeSample } from '../helpers/sample.js';
import { hasSharedData } from '../helpers/shared-data.js';

const SHOTS = join(import.meta.dirname, '../../out/screenshots');
const EVIL = '<script>window.__hacked = 1</script><img src=x onerror="window.__hacked = 2"></textarea><b>bold?</b>';

describe.skipIf(!hasSharedData)('cosmo view', () => {
  let out: string;
  let cfg: CorpusConfig;
  let viewer: Viewer;
  let flaggedId = '';

  beforeAll(async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cosmo-view-'));
    out = join(dir, 'out');
    const r = rng(4);
    const paragraphs = seedParagraphs().filter((p) => p.split(/\s+/).length > 130);
    const samples = Array.from({ length: 90 }, (_, i) =>
      makeSample(`${i === 7 ? `${EVIL} ` : ''}${i === 11 ? 'Zanzibarine marmalade appears only here. ' : ''}${paragraphs[Math.floor(r() * paragraphs.length)]!}${i % 5 === 0 ? `\n\n${paragraphs[i]!}` : ''}`, {
        format: i % 3 ? 'textbook' : 'story',
        template_id: i % 3 ? 'web.textbook' : 'web.story',
        audience: i % 2 ? 'college' : 'young_children',
        seed_id: `seed-${i}`,
      }),
    );
    await writeShard(join(out, 'generate', '0.jsonl'), samples);
    cfg = parseConfig({ output: 'out', seeds: [{ kind: 'web', path: 'unused.jsonl' }], dedup: { enabled: false }, decontaminate: { enabled: false } }, { file: join(dir, 'corpus.yaml'), baseDir: dir });
    await runPipeline(cfg, { only: ['filter', 'export'], log: silentLogger });
    viewer = await startViewer({ dir: out, port: 0, reviewer: 'tester' });
    // The page is tested on the catalog the viewer builds in the background (catalog.test.ts holds it to SQL's answers).
    let state = 'building';
    for (let i = 0; i < 300 && state === 'building'; i++) {
      await new Promise((r) => setTimeout(r, 100));
      state = ((await (await fetch(`${viewer.url}/api/info`)).json()) as { catalog: { state: string } }).catalog.state;
    }
    expect(state).toBe('ready');
  }, 120_000);

  afterAll(async () => {
    await viewer?.close();
  });

  it('guards its door: its own host name only, flags as JSON from its own page, a CSP on every answer', async () => {
    const info = await fetch(`${viewer.url}/api/info`);
    expect(info.headers.get('content-security-policy')).toContain("script-src 'self'");
    expect(((await info.json()) as { rows: number }).rows).toBe(viewer.rows);
    const port = new URL(viewer.url).port;
    const rebound = await new Promise<number>((resolve) => {
      import('node:http').then(({ request }) => request({ host: '127.0.0.1', port, path: '/api/info', headers: { host: `evil.example:${port}` } }, (res) => resolve(res.statusCode!)).end());
    });
    expect(rebound).toBe(421);
    const form = await fetch(`${viewer.url}/api/flag`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: '{"id":"x","verdict":"bad","reason":"other"}' });
    expect(form.status).toBe(403);
    const foreign = await fetch(`${viewer.url}/api/flag`, { method: 'POST', headers: { 'content-type': 'application/json', origin: 'https://evil.example' }, body: '{"id":"x","verdict":"bad","reason":"other"}' });
    expect(foreign.status).toBe(403);
    const unknown = await fetch(`${viewer.url}/api/flag`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"id":"nope","verdict":"bad","reason":"other"}' });
    expect(unknown.status).toBe(404);
    expect(readFlags(flagsPath(out))).toEqual([]);
  });

  it('pages, filters, searches, sorts and flags in Chromium, showing markup from the data as text', async () => {
    const browser = await launchChromium('the viewer');
    if (!browser) return;
    try {
      const page = await browser.newPage({ viewport: { width: 1150, height: 900 } });
      const errors: string[] = [];
      page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
      page.on('pageerror', (e) => errors.push(String(e)));
      await page.goto(`${viewer.url}/`);
      await page.waitForSelector('article.sample');
      expect(await page.locator('article.sample').count()).toBe(20);
      await expect.poll(() => page.locator('#position').textContent()).toBe(`1–20 of ${viewer.rows}`);
      await page.click('#next');
      await expect.poll(() => page.locator('#position').textContent()).toMatch(/^21–40/);

      // A filter: every sample shown is a story.
      await page.selectOption('select[data-facet="format"]', 'story');
      await expect.poll(() => page.locator('#position').textContent()).toMatch(/^1–20 of \d+/);
      const metas = await page.locator('article.sample .meta').allTextContents();
      expect(metas.every((m) => m.includes('format: story'))).toBe(true);
      await page.selectOption('select[data-facet="format"]', '');

      // Sorted by length: the first is the longest of all.
      await page.selectOption('#sort', 'long');
      await expect.poll(async () => (await page.locator('article.sample .text').first().textContent())?.length).toBe(Math.max(...(await readExport(join(out, 'export'))).map((x) => String(x.text).length)));
      await page.selectOption('#sort', '');

      // Search, then flag the one sample found.
      await page.fill('#q', 'zanzibarine marmalade');
      await expect.poll(() => page.locator('#position').textContent()).toBe('1–1 of 1');
      const found = page.locator('article.sample').first();
      flaggedId = (await found.getAttribute('data-id'))!;
      await found.locator('select').selectOption('off-topic');
      await found.locator('button.flag').click();
      await expect.poll(() => found.locator('.status').textContent()).toBe('flagged: off-topic by tester');
      const flags = readFlags(flagsPath(out));
      expect(flags).toMatchObject([{ id: flaggedId, verdict: 'bad', reason: 'off-topic', template_id: expect.any(String), who: 'tester' }]);

      // Markup in a sample is text: no script ran, no image, no bold element made from the data.
      await page.fill('#q', 'window.__hacked');
      await expect.poll(() => page.locator('article.sample .text').first().textContent()).toContain('<script>window.__hacked = 1</script>');
      await expect.poll(() => page.locator('#position').textContent()).toBe('1–1 of 1');
      expect(await page.evaluate(() => (globalThis as unknown as { __hacked?: number }).__hacked)).toBeUndefined();
      expect(await page.locator('article.sample img, article.sample b').count()).toBe(0);
      await page.screenshot({ path: join(out, 'view.png') });
      // Kept for CI's artifacts: the checkout's out/screenshots/.
      mkdirSync(SHOTS, { recursive: true });
      copyFileSync(join(out, 'view.png'), join(SHOTS, 'view.png'));
      expect(errors).toEqual([]);
    } finally {
      await browser.close();
    }
  }, 120_000);

  it('the next run filters again by itself, drops the flagged sample, and the report counts the flag by template', async () => {
    if (!flaggedId) return console.warn('skipped: no flag was made in the browser test');
    // No folder deleted by hand: the flag is newer than the filter tasks, so they run again, and export after them.
    const [filter, exported] = await runPipeline(cfg, { only: ['filter', 'export'], log: silentLogger });
    expect([filter!.skipped, exported!.skipped]).toEqual([0, 0]);
    const ids = (await readExport(join(out, 'export'))).map((x) => x.id);
    expect(ids).not.toContain(flaggedId);
    const rejects = await collect(readAll<{ id: string; reject_reason: string; reject_detail?: string }>(join(out, 'filter', 'rejects')));
    expect(rejects.find((x) => x.id === flaggedId)).toMatchObject({ reject_reason: 'review', reject_detail: 'off-topic' });
    const report = await collectReport([out]);
    expect(report.stages.review!.flags).toBe(1);
    expect(Object.values(report.stages.review!.by_template)).toEqual([{ 'off-topic': 1 }]);
    expect(report.stages.filter!.dropped.review).toBe(1);
    expect(JSON.parse(readFileSync(join(out, 'filter', 'stats.json'), 'utf8')).counters['dropped.review']).toBe(1);
    // With no flag since, the next run keeps what it has.
    const again = await runPipeline(cfg, { only: ['filter', 'export'], log: silentLogger });
    expect(again.map((r) => r.skipped)).toEqual([filter!.tasks, exported!.tasks]);
  }, 60_000);
});

/**
 * `cosmo report`: the numbers behind the page on a corpus with planted boilerplate and planted
 * near-duplicates (after the real filter, dedup, decontaminate and export stages), on a partial
 * run, on loose files; and the page itself in real Chromium: charts drawn, nothing fetched, no
 * console error, text from the data never run.
 */
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { launchChromium } from '../helpers/chromium.js';
import { beforeAll, describe, expect, it } from 'vitest';
import { writeShard } from '../../src/io/shards.js';
import { parseConfig } from '../../src/pipeline/corpus.js';
import { runPipeline } from '../../src/pipeline/run.js';
import type { ReportData } from '../../src/report/collect.js';
import { silentLogger } from '../../src/util/log.js';
import { cosmo } from '../helpers/cli.js';
import { rng, seedParagraphs } from '../decontaminate/planted-corpus.js';
import { makeSample } from '../helpers/sample.js';
import { hasSharedData, sharedPath } from '../helpers/shared-data.js';

const SHOTS = join(import.meta.dirname, '../../out/screenshots');
const EVIL = '<script>window.__hacked = 1</script><img src=x onerror="window.__hacked = 2"></textarea> Evil opening words here';

describe.skipIf(!hasSharedData)('cosmo report', () => {
  let dir: string;
  let out: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'cosmo-report-'));
    out = join(dir, 'out');
    const r = rng(9);
    const paragraphs = seedParagraphs().filter((p) => p.split(/\s+/).length > 60);
    const pick = () => paragraphs[Math.floor(r() * paragraphs.length)]!;
    const samples = [];
    // Stories: 60 of 150 open alike, as Cosmopedia's first story prompts did (the filter strips "Once upon a time" itself).
    for (let i = 0; i < 150; i++) samples.push(makeSample(`${i < 60 ? 'Maria and her grandfather walked to the market. ' : ''}${pick()}\n\n${pick()}`, { format: 'story', template_id: 'web.story', audience: 'young_children', ...(i === 100 ? { topic: EVIL } : {}) }));
    // Textbooks: 150, of which 30 are light edits of 15 others (near-duplicates within the template).
    const base = Array.from({ length: 120 }, () => `${pick()}\n\n${pick()}`);
    for (const t of base) samples.push(makeSample(t, { format: 'textbook', template_id: 'web.textbook' }));
    for (let i = 0; i < 30; i++) samples.push(makeSample(`${base[i % 15]!} Indeed.`, { format: 'textbook', template_id: 'web.textbook', seed_id: `copy-${i}` }));
    samples.push(makeSample(`${EVIL}. ${pick()}`, { format: 'story', template_id: 'web.story' }));
    await writeShard(join(out, 'generate', '0.jsonl'), samples);
    const cfg = parseConfig(
      { output: 'out', seeds: [{ kind: 'web', path: 'unused.jsonl' }], dedup: { enabled: false }, decontaminate: { benchmarks_dir: sharedPath('bench'), benchmarks: ['arc_easy'] } },
      { file: join(dir, 'corpus.yaml'), baseDir: dir },
    );
    await runPipeline(cfg, { only: ['filter', 'decontaminate', 'export'], log: silentLogger });
  }, 120_000);

  it('finds the planted boilerplate opening and the near-duplicates of one template, with every stage\'s figures', async () => {
    const r = await cosmo(['report', out, '--json'], { cwd: dir }).done;
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/cosmo report: [\d,]+ samples from export: .*report\/report\.html/);
    const data = JSON.parse(readFileSync(join(out, 'report', 'report.json'), 'utf8')) as ReportData;
    const kept = JSON.parse(readFileSync(join(out, 'filter', 'stats.json'), 'utf8')).counters.kept as number;
    expect(data.rows).toBe(kept);
    expect(data.openings.overall[0]).toMatchObject({ value: 'maria and her grandfather walked' });
    const story = data.openings.by_template['web.story']![0]!;
    expect(story.value).toBe('maria and her grandfather walked');
    expect(story.share).toBeGreaterThan(0.3);
    expect(story.share).toBeLessThan(0.45);
    const nd = Object.fromEntries(data.near_duplicates.map((d) => [d.template, d]));
    // 15 originals and their 30 copies: 45 of ~150 textbooks; the stories have none.
    expect(nd['web.textbook']!.rate).toBeGreaterThan(0.25);
    expect(nd['web.textbook']!.rate).toBeLessThan(0.35);
    expect(nd['web.story']!.rate).toBeLessThan(0.02);
    expect(data.distributions.format!.map((c) => c.value).sort()).toEqual(['story', 'textbook']);
    expect(data.diversity.distinct_1).toBeGreaterThan(0);
    expect(data.diversity.distinct_3).toBeGreaterThan(data.diversity.distinct_1);
    expect(data.stages.filter!.checked).toBe(301);
    expect(data.stages.decontaminate!.benchmarks[0]!.benchmark).toBe('arc_easy');
    expect(Object.keys(data.lengths.formats).sort()).toEqual(['story', 'textbook']);
  }, 60_000);

  it('works on a partial run and on loose files', async () => {
    const partial = mkdtempSync(join(tmpdir(), 'cosmo-report-partial-'));
    await writeShard(join(partial, 'generate', '0.jsonl'), [makeSample('A short text about rivers and deltas.'), makeSample('x', { error: 'HTTP 500', text: '' })]);
    const r = await cosmo(['report', partial]).done;
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('cosmo report: 1 samples from generate');
    const loose = join(partial, 'loose.jsonl');
    writeFileSync(loose, ['{"text": "One row of someone else\'s dataset."}', '{"text": "Another one."}'].join('\n') + '\n');
    const l = await cosmo(['report', loose, '--out', join(partial, 'loose-report')]).done;
    expect(l.code, l.stderr).toBe(0);
    const data = JSON.parse(readFileSync(join(partial, 'loose-report', 'report.json'), 'utf8')) as ReportData;
    expect([data.rows, data.tokens_estimated]).toEqual([2, true]);
    const none = await cosmo(['report', join(partial, 'nothing-here')]).done;
    expect(none.code).toBe(1);
    expect(none.stderr).toContain('report input path not found');
  }, 60_000);

  it('renders in Chromium: charts, no request, no console error, and data shown as text only', async () => {
    const html = join(out, 'report', 'report.html');
    if (!existsSync(html)) await cosmo(['report', out], { cwd: dir }).done;
    const browser = await launchChromium('the report');
    if (!browser) return;
    try {
      const page = await browser.newPage({ viewport: { width: 1150, height: 900 } });
      const errors: string[] = [];
      const requests: string[] = [];
      page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
      page.on('pageerror', (e) => errors.push(String(e)));
      page.on('request', (q) => requests.push(q.url()));
      await page.goto(`file://${html}`);
      expect(await page.locator('svg.chart').count()).toBeGreaterThan(8);
      expect(await page.locator('svg.chart rect').count()).toBeGreaterThan(20);
      expect(await page.evaluate(() => (globalThis as unknown as { __hacked?: number }).__hacked)).toBeUndefined();
      expect(await page.locator('img').count()).toBe(0);
      // The topic holding markup is drawn as the text it is.
      expect(await page.locator('svg text', { hasText: '<script>window.__hacked' }).count()).toBe(1);
      expect(errors).toEqual([]);
      expect(requests.filter((u) => !u.startsWith('file://'))).toEqual([]);
      const png = join(out, 'report', 'report.png');
      await page.screenshot({ path: png, fullPage: true });
      expect(readFileSync(png).length).toBeGreaterThan(20_000);
      // Kept for CI's artifacts: the checkout's out/screenshots/.
      mkdirSync(SHOTS, { recursive: true });
      copyFileSync(png, join(SHOTS, 'report.png'));
    } finally {
      await browser.close();
    }
  }, 120_000);
});

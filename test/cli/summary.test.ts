/** What the CLI tells a person: its version, an error said once, this run's speed, plain words for an estimate. */
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { reportMarkdown, type DecontamReport } from '../../src/decontaminate/report.js';
import { cosmo, ROOT } from '../helpers/cli.js';
import { startMockOpenAI, type MockServer } from '../helpers/mock-openai.js';
import { makePrompts, writePrompts } from '../generate/helpers.js';

let server: MockServer;
beforeAll(async () => {
  server = await startMockOpenAI({ latencyMs: 20, completionTokens: 10 });
});
afterAll(() => server.close());

function corpusDir(lines: string[]): string {
  const dir = mkdtempSync(join(tmpdir(), 'cosmo-cli-'));
  writeFileSync(join(dir, 'corpus.yaml'), ['output: out', ...lines, ''].join('\n'));
  return dir;
}

describe('the CLI', () => {
  it('prints its version', async () => {
    const r = await cosmo(['--version']).done;
    expect(r.stdout.trim()).toBe(JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).version);
  });

  it('says an error once, and never "done"', async () => {
    const dir = corpusDir(['seeds: [{ kind: web, path: web.jsonl }]']);
    writeFileSync(join(dir, 'web.jsonl'), 'not json\n');
    const r = await cosmo(['seeds', 'corpus.yaml'], { cwd: dir }).done;
    expect(r.code).toBe(1);
    expect(r.stderr.split('web.jsonl:1: malformed JSON').length - 1).toBe(1);
    expect(r.stdout).not.toContain('done');
  });

  it('measures speed on what this run generated, over this run\'s time', async () => {
    const dir = corpusDir([
      'seeds: [{ kind: web, path: unused.jsonl }]',
      `generate: { cache: false, engines: [{ type: openai, base_url: "${server.url}", model: m, concurrency: 2 }] }`,
    ]);
    writePrompts(join(dir, 'out'), makePrompts(60));
    // Kill it once some samples are in the ledger, then finish the job.
    const first = cosmo(['generate', 'corpus.yaml'], { cwd: dir });
    const ledger = join(dir, 'out/generate/0.jsonl.partial');
    for (let i = 0; i < 400 && !(existsSync(ledger) && readFileSync(ledger, 'utf8').split('\n').length > 20); i++) await new Promise((r) => setTimeout(r, 25));
    first.kill('SIGKILL');
    await first.done;
    const before = readFileSync(ledger, 'utf8').split('\n').filter(Boolean).length;
    const second = await cosmo(['generate', 'corpus.yaml'], { cwd: dir }).done;
    expect(second.code, second.stderr).toBe(0);
    expect(second.stdout).toContain('tokens: 600');
    // 10 tokens a sample: this run's tokens are those of the samples it made, not the resumed ones.
    expect(second.stdout).toContain(`this run: ${(60 - before) * 10} tokens at `);
    const third = await cosmo(['generate', 'corpus.yaml'], { cwd: dir }).done;
    expect(third.stdout).toMatch(/generate +done before/);
    expect(third.stdout).not.toContain('this run:');
  });

  it('says in plain words that prompt tokens are estimated when no tokenizer is at hand', async () => {
    const dir = corpusDir([
      `seeds: [{ kind: web, path: ${join(ROOT, 'examples/data/web.jsonl')} }]`,
      `generate: { engines: [{ type: openai, base_url: "${server.url}", model: m }] }`,
    ]);
    const r = await cosmo(['run', 'corpus.yaml', '--dry-run'], { cwd: dir }).done;
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/prompt tokens: +\d+ \(estimated at 4 characters a token\)/);
  });
});

describe('the decontamination report', () => {
  it('writes names from the config as text, not Markdown or HTML', () => {
    const report = {
      mode: 'drop',
      ngram: 10,
      threshold: 0.5,
      samples: { checked: 1, kept: 1, removed: 0, cut: 0 },
      benchmarks: [{ benchmark: 'my|bench<script>', items: 1, indexed: 1, samples_removed: 0, samples_cut: 0, unique_items: 0 }],
    } as unknown as DecontamReport;
    const md = reportMarkdown(report);
    expect(md).toContain('| my\\|bench\\<script\\> |');
    expect(md).not.toContain('<script>');
  });
});

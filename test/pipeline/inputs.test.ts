/** Inputs are checked up front and watched: clear words for a bad config value or an empty seed file, changed files noticed, bad benchmark files found before generation. */
import { appendFileSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig, parseConfig } from '../../src/pipeline/corpus.js';
import { runPipeline } from '../../src/pipeline/run.js';
import { silentLogger } from '../../src/util/log.js';
import { startMockOpenAI, type MockServer } from '../helpers/mock-openai.js';

const doc = (text: string) => JSON.stringify({ text }) + '\n';
const corpus = (dir: string, over: Record<string, unknown> = {}) =>
  parseConfig({ output: join(dir, 'out'), seeds: [{ kind: 'web', path: 'web.jsonl' }], ...over }, { file: join(dir, 'corpus.yaml'), baseDir: dir });
const build = (cfg: ReturnType<typeof corpus>) => runPipeline(cfg, { only: ['seeds', 'prompts'], log: silentLogger });

describe('seed files', () => {
  it('an empty one is named, and once filled it is read: the stage had not finished', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cosmo-inputs-'));
    writeFileSync(join(dir, 'web.jsonl'), '');
    await expect(build(corpus(dir))).rejects.toThrow(`the seed file ${join(dir, 'web.jsonl')} has no records`);
    writeFileSync(join(dir, 'web.jsonl'), doc('The glaciers of the last ice age carved the valleys of the Alps.'));
    const results = await build(corpus(dir));
    expect(results.find((r) => r.stage === 'prompts')!.stats.counters.prompts).toBeGreaterThan(0);
  });

  it('one changed after its stage finished is noticed and named', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cosmo-inputs-'));
    writeFileSync(join(dir, 'web.jsonl'), doc('Tides rise and fall twice a day because of the moon and the sun.'));
    await build(corpus(dir));
    appendFileSync(join(dir, 'web.jsonl'), doc('Bees dance to tell each other where the flowers are.'));
    await expect(build(corpus(dir))).rejects.toThrow(`seeds task 0 read ${join(dir, 'web.jsonl')}, which has changed since it ran`);
  });
});

describe('config values of the wrong type', () => {
  it('say what was expected and what was given, with the line', () => {
    const dir = mkdtempSync(join(tmpdir(), 'cosmo-inputs-'));
    const file = join(dir, 'corpus.yaml');
    writeFileSync(file, ['seeds:', '  - kind: web', '    path: web.jsonl', 'generate:', '  params:', '    max_tokens: "fifty"', '    temperature: [1]', 'prompts:', '  tasks: true', ''].join('\n'));
    expect(() => loadConfig(file)).toThrow(`${file}:6  generate.params.max_tokens: expected number, got string "fifty"`);
    expect(() => loadConfig(file)).toThrow(`${file}:7  generate.params.temperature: expected number, got a list`);
    expect(() => loadConfig(file)).toThrow(`${file}:9  prompts.tasks: expected number, got boolean true`);
  });
});

describe('a bad benchmark file', () => {
  let server: MockServer;
  beforeAll(async () => {
    server = await startMockOpenAI();
  });
  afterAll(() => server.close());

  it('is found before anything runs: no seed read, no request sent', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cosmo-inputs-'));
    writeFileSync(join(dir, 'web.jsonl'), doc('Volcanoes form where plates meet.'));
    writeFileSync(join(dir, 'mine.jsonl'), '{"text": "a fine item"}\n{"txt": "no text field"}\n');
    const cfg = corpus(dir, {
      generate: { engines: [{ type: 'openai', base_url: server.url, model: 'm' }] },
      decontaminate: { extra: ['mine.jsonl'] },
    });
    const err = await runPipeline(cfg, { log: silentLogger }).then(() => new Error('should fail'), (e: Error) => e);
    expect(err.message).toContain('cannot start: what the run needs is not all there');
    expect(err.message).toMatch(/decontaminate: .*mine\.jsonl:2/);
    expect(server.stats.requests).toBe(0);
  });
});

import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { shardPath } from '../../src/generate/stage.js';
import { startMockOpenAI, type MockServer } from '../helpers/mock-openai.js';
import { tinyModelPath } from '../helpers/tiny-model.js';
import { corpusConfig, generate, makePrompts, readSamples, tmp, writePrompts } from './helpers.js';

let server: MockServer | undefined;
afterAll(async () => server?.close());

describe('generate with the embedded llama.cpp engine', () => {
  it('generates through the tiny model, pooled with an HTTP endpoint', async () => {
    const model = await tinyModelPath();
    server = await startMockOpenAI({ latencyMs: 300 });
    const embedded = { type: 'embedded', model, threads: 1, sequences: 2, context_size: 256, gpu: false };
    const prompts = makePrompts(12);

    const dir = tmp();
    writePrompts(dir, prompts);
    const cfg = corpusConfig(dir, {
      engines: [embedded, { type: 'openai', base_url: server.url, model: 'm', concurrency: 2 }],
      params: { max_tokens: 12, temperature: 0.8, seed: 3 },
    });
    const outputDir = join(dir, 'generate');
    const marker = await generate(cfg);
    const samples = readSamples(shardPath(outputDir, 0));
    expect(samples.map((s) => s.id)).toEqual(prompts.map((p) => p.id));
    expect(samples.filter((s) => s.error)).toEqual([]);
    const local = samples.filter((s) => s.engine === 'embedded:tiny.gguf');
    expect(local.length).toBeGreaterThanOrEqual(2); // least-outstanding routing sends the first request (and more) to it
    expect(samples.filter((s) => s.engine === server!.url).length).toBeGreaterThanOrEqual(2);
    for (const s of local) {
      expect(s.text.length).toBeGreaterThan(0);
      expect(s.token_length).toBeGreaterThan(0);
      expect(s.usage.prompt_tokens).toBeGreaterThan(0);
      expect(s.gen_params).toMatchObject({ max_tokens: 12, seed: 3 });
    }
    expect(marker.stats.counters.samples).toBe(12);
  });
});

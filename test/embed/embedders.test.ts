import { describe, expect, it } from 'vitest';
import { createEmbedder } from '../../src/embed/create.js';
import { mockServers } from '../helpers/mock-servers.js';
import { tinyModelPath } from '../helpers/tiny-model.js';

const mock = mockServers();
const texts = ['The river carved a deep valley.', 'Interest rates rose again.', 'The river carved a deep valley.'];
const norm = (v: Float32Array, dim: number, i: number) => Math.hypot(...v.subarray(i * dim, (i + 1) * dim));
const resolve = (p: string) => p;

describe('embedders', () => {
  it('an OpenAI-compatible /v1/embeddings endpoint: batched, retried when it is not ready, unit vectors in input order', async () => {
    const server = await mock({ failFirst: 1 });
    const e = await createEmbedder({ type: 'openai', base_url: server.url, model: 'm', batch: 2, concurrency: 2, attempts: 3 }, [], { resolve });
    const v = await e.embed(texts);
    expect(e.dim).toBe(8);
    expect(v.length).toBe(24);
    for (let i = 0; i < 3; i++) expect(norm(v, 8, i)).toBeCloseTo(1, 5);
    expect([...v.subarray(0, 8)]).toEqual([...v.subarray(16, 24)]);
    expect(server.stats.requests).toBe(3); // two batches, the first asked twice
    await e.close?.();
  });

  it('a GGUF model through llama.cpp (random weights: the vectors, not their meaning)', async () => {
    const e = await createEmbedder({ type: 'gguf', model: await tinyModelPath(), threads: 1, context_size: 128 }, [], { resolve });
    try {
      const v = await e.embed(texts);
      expect(e.dim).toBeGreaterThan(0);
      for (let i = 0; i < 3; i++) expect(norm(v, e.dim, i)).toBeCloseTo(1, 4);
      expect([...v.subarray(0, e.dim)]).toEqual([...v.subarray(2 * e.dim, 3 * e.dim)]);
    } finally {
      await e.close?.();
    }
  });
});

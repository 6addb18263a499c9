import { stableId } from '../../src/records/id.js';
import type { Sample } from '../../src/records/types.js';

/** A generated sample around `text` (about 1.3 tokens a word unless `over` says otherwise), id derived from both. */
export function makeSample(text: string, over: Partial<Sample> = {}): Sample {
  const tokens = Math.round(text.split(/\s+/).length * 1.3);
  return {
    id: stableId(text, over),
    prompt: 'Write a textbook section.',
    seed_id: 'seed',
    seed_data: '',
    seed_source: 'test',
    format: 'textbook',
    audience: 'college',
    template_id: 'textbook',
    template_version: 1,
    language: 'en',
    text,
    token_length: tokens,
    model: 'test-model',
    finish_reason: 'stop',
    usage: { prompt_tokens: 10, completion_tokens: tokens },
    gen_params: { temperature: 0.6, top_p: 0.95, max_tokens: 1024 },
    engine: 'test',
    latency_ms: 1,
    created_at: '2026-01-01T00:00:00.000Z',
    ...over,
  };
}

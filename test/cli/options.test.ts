/** The pipeline commands' shared flags, as they reach the corpus config (no process: the library's config path). */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { configFromOptions } from '../../src/cli/common.js';

const corpus = () => {
  const file = join(mkdtempSync(join(tmpdir(), 'cosmo-options-')), 'corpus.yaml');
  writeFileSync(file, 'output: out\nseeds: [{kind: web, path: web.jsonl}]\n');
  return file;
};
const endpoint = { endpoint: 'http://127.0.0.1:9/v1', endpointModel: 'm' };

describe('--concurrency', () => {
  it('sets the requests in flight to --endpoint, 64 when not given', async () => {
    const engines = async (extra: object) => (await configFromOptions(corpus(), { ...endpoint, ...extra })).generate.engines;
    expect(await engines({ concurrency: '300' })).toMatchObject([{ type: 'openai', base_url: endpoint.endpoint, model: 'm', concurrency: 300 }]);
    expect(await engines({})).toMatchObject([{ type: 'openai', concurrency: 64 }]);
  });

  it('names the flag when its value is not a whole number above 0, or when there is no --endpoint', async () => {
    await expect(configFromOptions(corpus(), { ...endpoint, concurrency: '0' })).rejects.toThrow('--concurrency: a whole number above 0, not "0"');
    await expect(configFromOptions(corpus(), { ...endpoint, concurrency: 'lots' })).rejects.toThrow('not "lots"');
    await expect(configFromOptions(corpus(), { concurrency: '8' })).rejects.toThrow('give --endpoint URL too');
  });
});

import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeTestModel, type TestModelOptions } from '../../src/engines/gguf.js';

let tiny: Promise<string> | undefined;

/**
 * Path of the tiny random-weight GGUF model (ChatML template, ~300-token vocabulary, ~0.4 MB),
 * written once per test process into a temp folder. Its text is noise; loading, templating and
 * batching are real.
 */
export function tinyModelPath(): Promise<string> {
  tiny ??= writeModel('tiny.gguf', { preset: 'tiny', seed: 1 });
  return tiny;
}

/** Write a model with other options (e.g. another seed or Q8_0 weights) into a fresh temp folder. */
export async function writeModel(name: string, opts: TestModelOptions): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'cosmo-model-'));
  return (await writeTestModel(join(dir, name), opts)).path;
}

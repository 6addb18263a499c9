import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineStage, type AnyStage } from '../../src/exec/stage.js';
import { corpusSchema } from '../../src/pipeline/corpus.js';
import { checkRegistry, REGISTRY, STAGES } from '../../src/pipeline/registry.js';
import { loadStage, STAGE_NAMES } from '../../src/pipeline/stage-modules.js';
import { SAMPLE_RECORD } from '../../src/records/check.js';

/** A well-formed extra stage, to add to the registry in these tests. */
const extra = {
  name: 'extra',
  key: 'extra',
  schema: z.strictObject({ level: z.number().default(1) }).prefault({}),
  description: 'a stage added in a test',
  input: { records: SAMPLE_RECORD },
  output: SAMPLE_RECORD,
  settings: (cfg: { level: number }) => cfg,
  enabled: () => true,
  tasks: () => 1,
  async runTask() {},
};

describe('the stage registry', () => {
  it('accepts a new stage: its folder and one line', () => {
    expect(checkRegistry([...STAGES, defineStage(extra)] as AnyStage[]).map((s) => s.name).at(-1)).toBe('extra');
  });

  it('refuses a stage without a fingerprint: its changed settings would never invalidate its old output', () => {
    const { settings: _s, ...noFingerprint } = extra;
    // @ts-expect-error settings() is required by the type as well
    expect(() => defineStage(noFingerprint)).toThrow(/stage "extra" cannot be registered: it needs settings\(\)/);
    expect(() => checkRegistry([...STAGES, noFingerprint as unknown as AnyStage])).toThrow(/needs settings\(\)/);
  });

  it('refuses a stage whose input no earlier stage writes, or whose config key clashes', () => {
    expect(() => checkRegistry([defineStage(extra)] as AnyStage[])).toThrow(/no stage before it writes the sample records it reads/);
    expect(() => checkRegistry([...STAGES, defineStage({ ...extra, key: 'generate' })] as AnyStage[])).toThrow(/config key "generate" is another stage's/);
    expect(() => checkRegistry([...STAGES, defineStage({ ...extra, name: 'filter' })] as AnyStage[])).toThrow(/another stage has that name/);
  });

  it('composes the corpus schema from the stages: every stage key is a section', () => {
    const keys = Object.keys(corpusSchema.shape);
    for (const def of REGISTRY) expect(keys).toContain(def.key);
  });

  it('lets a worker load each stage from its own module: the same definitions as the registry, by name', async () => {
    expect(STAGE_NAMES, 'a stage is missing from (or extra in) src/pipeline/stage-modules.ts').toEqual(REGISTRY.map((s) => s.name));
    for (const def of REGISTRY) expect(await loadStage(def.name)).toBe(def);
    await expect(loadStage('nope')).rejects.toThrow(/unknown stage "nope"; stages are: seeds, /);
  });
});

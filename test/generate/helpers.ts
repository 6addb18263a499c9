import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseConfig } from '../../src/pipeline/corpus.js';
import { corpusEnv } from '../../src/pipeline/env.js';
import type { CorpusConfig } from '../../src/pipeline/corpus.js';
import { stableId } from '../../src/records/id.js';
import type { PromptRecord } from '../../src/records/types.js';
import { generateStage, type GeneratedSample } from '../../src/generate/stage.js';
import { runTask, type StagePlan } from '../../src/exec/task.js';
import { silentLogger, type Logger } from '../../src/util/log.js';

export const tmp = () => mkdtempSync(join(tmpdir(), 'cosmo-gen-'));

export function makePrompts(n: number, opts: { formats?: string[] } = {}): PromptRecord[] {
  const formats = opts.formats ?? ['textbook'];
  return Array.from({ length: n }, (_, i) => {
    const prompt = `Write a ${formats[i % formats.length]} section about topic number ${i} for college students.`;
    return {
      id: stableId('test-prompt', i),
      prompt,
      seed_id: `seed-${i}`,
      seed_data: `seed text ${i}`,
      seed_source: 'test',
      format: formats[i % formats.length]!,
      audience: 'college',
      template_id: 'test',
      template_version: 1,
      language: 'en',
    };
  });
}

/** Prompt shards under `<dir>/prompts`, `perShard` records each. */
export function writePrompts(dir: string, prompts: PromptRecord[], perShard = prompts.length): string {
  const promptsDir = join(dir, 'prompts');
  mkdirSync(promptsDir, { recursive: true });
  for (let s = 0; s * perShard < prompts.length; s++) {
    const part = prompts.slice(s * perShard, (s + 1) * perShard);
    writeFileSync(join(promptsDir, `${s}.jsonl`), part.map((p) => JSON.stringify(p)).join('\n') + '\n');
  }
  return promptsDir;
}

/** A corpus config whose output folder is `dir`. */
export function corpusConfig(dir: string, generate: Record<string, unknown>): CorpusConfig {
  return parseConfig({ name: 'gen-test', output: dir, seeds: [{ kind: 'web', path: 'unused.jsonl' }], generate }, { file: join(dir, 'corpus.yaml'), baseDir: dir });
}

export function readSamples(file: string): GeneratedSample[] {
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as GeneratedSample);
}

function generatePlan(cfg: CorpusConfig, worldSize = 1): StagePlan {
  return {
    stage: 'generate',
    worldSize,
    inputDir: join(cfg.output_dir, 'prompts'),
    outputDir: join(cfg.output_dir, 'generate'),
    workDir: cfg.output_dir,
    options: { progress: 'none' },
    dirs: {},
    concurrent: 1,
  };
}

/** Run one generate task in this process, as the executor would; resolves to its completion marker. */
export function generate(cfg: CorpusConfig, opts: { rank?: number; worldSize?: number; log?: Logger; signal?: AbortSignal } = {}) {
  return runTask(generateStage, cfg.generate, corpusEnv(cfg), generatePlan(cfg, opts.worldSize), opts.rank ?? 0, opts.log ?? silentLogger, opts.signal ?? new AbortController().signal);
}

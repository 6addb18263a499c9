import { dirname, resolve } from 'node:path';
import { z } from 'zod';
import { readYaml, validate, type ConfigSource } from '../config/load.js';
import { executorSchema, type ExecutorConfig } from '../exec/config.js';
import type { StageDef } from '../exec/stage.js';
import { serveSchema } from '../serve/config.js';
import { STAGES } from './registry.js';

/**
 * The corpus file, composed from the stages' own sections: `seeds`, `prompts`, `generate`, … come
 * from each stage's schema in the registry, beside the few corpus-wide keys below.
 */
const corpusKeys = {
  name: z.string().regex(/^[\w.-]+$/, 'use letters, digits, dot, dash or underscore').default('corpus'),
  /** Output folder, relative to the corpus file. Defaults to out/<name>. */
  output: z.string().optional(),
  /** Seed of every random choice, so the same file always yields the same corpus. */
  seed: z.number().int().default(42),
  executor: executorSchema.prefault({}),
  /** Inference servers for `cosmo serve corpus.yaml` (not a stage: it runs beside the pipeline). */
  serve: serveSchema.optional(),
};

type Stage = (typeof STAGES)[number];
type SectionOf<S> = S extends StageDef<infer C, infer _I, infer _K> ? C : never;
/** Each stage's config section under its key. */
type Sections = { [S in Stage as S['key']]: SectionOf<S> };

export const corpusSchema = z.strictObject({
  ...corpusKeys,
  ...Object.fromEntries(STAGES.map((s) => [s.key, s.schema])),
});

/** A validated corpus config, with paths resolved against the corpus file's folder. */
export type CorpusConfig = z.output<z.ZodObject<typeof corpusKeys>> &
  Sections & {
    executor: ExecutorConfig;
    /** Folder relative paths in the file are resolved against. */
    base_dir: string;
    /** Absolute output folder. */
    output_dir: string;
  };

/**
 * Defaults one section takes from another, the only place sections meet: the LLMs that judge
 * samples (filter) and name clusters (cluster) ask generate's engines (and endpoints file) unless
 * they list their own, and tokenize and mix use the embedded model's tokenizer unless they name one
 * (mix: tokenize's).
 */
function link(cfg: CorpusConfig): CorpusConfig {
  const engines = <T extends { engines?: unknown[]; endpoints_file?: string }>(own: T): T =>
    own.engines === undefined && own.endpoints_file === undefined ? { ...own, engines: cfg.generate.engines, endpoints_file: cfg.generate.endpoints_file } : own;
  // Training tokens are the generating model's unless a tokenizer is named.
  const embedded = cfg.generate.engines?.find((e) => e.type === 'embedded');
  const tokenizer = cfg.tokenize.tokenizer ?? (embedded?.type === 'embedded' ? embedded.model : undefined);
  return {
    ...cfg,
    tokenize: { ...cfg.tokenize, tokenizer },
    mix: { ...cfg.mix, tokenizer: cfg.mix.tokenizer ?? tokenizer },
    filter: { ...cfg.filter, judge: engines(cfg.filter.judge) },
    cluster: { ...cfg.cluster, label: engines(cfg.cluster.label) },
  };
}

/** Validate a parsed corpus object. `file` names the source in errors; `baseDir` anchors relative paths. */
export function parseConfig(raw: unknown, opts: Omit<ConfigSource, 'file'> & { file: string; baseDir: string }): CorpusConfig {
  const cfg = validate(corpusSchema, raw, opts) as Omit<CorpusConfig, 'base_dir' | 'output_dir'>;
  const output = cfg.output ?? `out/${cfg.name}`;
  return link({ ...cfg, base_dir: opts.baseDir, output_dir: resolve(opts.baseDir, output) });
}

/** Read, parse and validate a corpus YAML file. `edit` changes the parsed object before validation (command-line overrides). */
export function loadConfig(file: string, edit?: (raw: Record<string, unknown>) => void): CorpusConfig {
  const src = readYaml(file);
  const raw = (src.raw ?? {}) as Record<string, unknown>;
  if (raw && typeof raw === 'object' && !Array.isArray(raw)) edit?.(raw);
  return parseConfig(raw, { ...src, baseDir: dirname(resolve(file)) });
}


import { basename, isAbsolute, resolve } from 'node:path';
import type { AnyStage, CorpusEnv } from '../exec/stage.js';
import type { CorpusConfig } from './corpus.js';

/*
 * What a stage sees of a validated corpus config. Kept apart from corpus.ts, which composes the
 * schema from every stage, so that a worker process uses these without importing every stage.
 */

/** A path from the config, made absolute against the corpus file's folder. */
export function resolvePath(cfg: Pick<CorpusConfig, 'base_dir'>, p: string): string {
  return isAbsolute(p) ? p : resolve(cfg.base_dir, p);
}

/** A stage's own config section. */
export const sectionOf = (cfg: CorpusConfig, def: AnyStage): unknown => (cfg as unknown as Record<string, unknown>)[def.key];

/** What every stage may know of the corpus besides its own section. */
export function corpusEnv(cfg: CorpusConfig): CorpusEnv {
  return { name: cfg.name, seed: cfg.seed, resolve: (p) => resolvePath(cfg, p), publicConfig: publicConfig(cfg) };
}

/**
 * The config as a dataset card may show it: the corpus file's settings without where this machine
 * keeps things. Absolute paths keep only their file name; endpoint addresses become `<endpoint>`.
 */
export function publicConfig(cfg: CorpusConfig): unknown {
  const { base_dir: _b, output_dir: _o, ...rest } = cfg;
  const scrub = (v: unknown): unknown => {
    if (typeof v === 'string') {
      if (/^[a-z][a-z0-9+.-]*:\/\//i.test(v)) return '<endpoint>';
      if (isAbsolute(v)) return `…/${basename(v)}`;
      return v;
    }
    if (Array.isArray(v)) return v.map(scrub);
    if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, scrub(x)]));
    return v;
  };
  return scrub(rest);
}

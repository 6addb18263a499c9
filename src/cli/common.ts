import type { Command } from 'commander';
import { loadConfig } from '../config/load.js';
import type { CorpusConfig } from '../config/schema.js';
import type { EngineConfig } from '../generate/config.js';

export interface CommonOptions {
  model?: string;
  endpoint?: string;
  endpointModel?: string;
  skipBad?: boolean;
  workers?: string;
  output?: string;
}

/** Options every pipeline command takes. */
export function addCommonOptions(cmd: Command): Command {
  return cmd
    .option('--model <path>', 'generate with this local GGUF model (embedded llama.cpp engine)')
    .option('--endpoint <url>', 'generate against this OpenAI-compatible endpoint (e.g. http://host:8000/v1)')
    .option('--endpoint-model <name>', 'model name to ask the endpoint for', 'default')
    .option('--skip-bad', 'skip malformed input lines and count them, instead of stopping')
    .option('--workers <n>', 'local worker processes to run tasks on')
    .option('--output <dir>', 'output folder (overrides the corpus file)');
}

/** The corpus config with command-line overrides applied. */
export function configFromOptions(file: string, opts: CommonOptions): CorpusConfig {
  const cfg = loadConfig(file);
  if (opts.output) cfg.output_dir = opts.output.startsWith('/') ? opts.output : `${process.cwd()}/${opts.output}`;
  if (opts.workers) cfg.executor = { ...cfg.executor, workers: Math.max(1, Number(opts.workers) | 0) };
  const engines: EngineConfig[] = [];
  if (opts.model) {
    const base = cfg.generate.engines.find((e) => e.type === 'embedded');
    engines.push({ threads: 2, sequences: 4, context_size: 4096, ...base, type: 'embedded', model: opts.model });
  }
  if (opts.endpoint) engines.push({ type: 'openai', base_url: opts.endpoint, model: opts.endpointModel ?? 'default', concurrency: 64 });
  if (engines.length) cfg.generate = { ...cfg.generate, engines };
  return cfg;
}

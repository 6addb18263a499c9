import { isAbsolute, resolve } from 'node:path';
import type { Command } from 'commander';
import type { CorpusConfig } from '../pipeline/corpus.js';
import { CosmoError } from '../util/errors.js';

export interface CommonOptions {
  model?: string;
  endpoint?: string;
  endpointModel?: string;
  concurrency?: string;
  skipBad?: boolean;
  workers?: string;
  output?: string;
}

/** Options every pipeline command takes. */
export function addCommonOptions(cmd: Command): Command {
  return cmd
    .option('--model <path>', 'generate with this local GGUF model (embedded llama.cpp engine)')
    .option('--endpoint <url>', 'generate against this OpenAI-compatible endpoint (e.g. http://host:8000/v1)')
    .option('--endpoint-model <name>', 'model name to ask the endpoint for (default: the one its /v1/models lists)')
    .option('--concurrency <n>', "requests in flight to --endpoint (default 64; a vLLM or SGLang server on a GPU takes 256 or more)")
    .option('--skip-bad', 'skip malformed input lines and count them, instead of stopping')
    .option('--workers <n>', 'tasks run at once on this machine (this process takes one, worker processes the others)')
    .option('--output <dir>', 'output folder (overrides the corpus file)');
}

/** A whole number above zero typed as `flag`, or an error naming the flag and what it got. */
export function positiveInt(flag: string, raw: string): number {
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1) throw new CosmoError(`${flag}: a whole number above 0, not ${JSON.stringify(raw)}`);
  return n;
}

/** A path typed on the command line: relative to the current folder, not the corpus file's. */
export const fromHere = (p: string) => (isAbsolute(p) ? p : resolve(p));

/** `--endpoint` without `--endpoint-model`: ask the endpoint which model it serves (vLLM answers 404 to any other name). */
export async function resolveEndpointModel(opts: CommonOptions): Promise<void> {
  if (opts.endpoint && !opts.endpointModel) opts.endpointModel = await (await import('../engines/open.js')).servedModel(opts.endpoint);
}

/** The corpus config with command-line overrides applied (before validation, so they are checked like the file). */
export async function configFromOptions(file: string, opts: CommonOptions, edit?: (raw: Record<string, unknown>) => void): Promise<CorpusConfig> {
  await resolveEndpointModel(opts);
  const { loadConfig } = await import('../pipeline/corpus.js');
  return loadConfig(file, (raw) => {
    edit?.(raw);
    if (opts.output) raw.output = fromHere(opts.output);
    if (opts.workers) raw.executor = { ...(raw.executor as object), workers: Math.max(1, Number(opts.workers) | 0) };
    const generate = (raw.generate ?? {}) as Record<string, unknown>;
    const base = ((generate.engines ?? []) as Record<string, unknown>[]).find((e) => e.type === 'embedded');
    const engines = enginesFromOptions(opts, base);
    if (engines.length) raw.generate = { ...generate, engines, endpoints_file: undefined };
  });
}

/**
 * The engines `--model` and `--endpoint` ask for, as config entries (validated with the rest):
 * `base` lends an embedded engine its other settings (threads, sequences, …).
 */
export function enginesFromOptions(opts: Pick<CommonOptions, 'model' | 'endpoint' | 'endpointModel' | 'concurrency'>, base: Record<string, unknown> = {}): Record<string, unknown>[] {
  const engines: Record<string, unknown>[] = [];
  if (opts.concurrency !== undefined && !opts.endpoint) throw new CosmoError('--concurrency sets the requests in flight to --endpoint: give --endpoint URL too (in a corpus file, engines[].concurrency)');
  if (opts.model) engines.push({ ...base, type: 'embedded', model: opts.model.startsWith('hf:') ? opts.model : fromHere(opts.model) });
  if (opts.endpoint) engines.push({ type: 'openai', base_url: opts.endpoint, model: opts.endpointModel, ...(opts.concurrency !== undefined ? { concurrency: positiveInt('--concurrency', opts.concurrency) } : {}) });
  return engines;
}

import type { Command } from 'commander';
import { isAbsolute, join, resolve } from 'node:path';
import { resolvePath } from '../pipeline/env.js';
import { SERVER_ENGINES, serveSchema, type ServeConfig } from '../serve/config.js';
import { CosmoError } from '../util/errors.js';
import { createLogger } from '../util/log.js';
import { withInterrupt } from './interrupt.js';

/** Flags that take a number, and those that name a file or folder (relative to the current folder, not the corpus file's). */
const NUMERIC = new Set(['instances', 'port', 'gpusPerInstance', 'cpusPerGpu', 'cpusPerInstance', 'concurrency', 'minReady', 'resubmits', 'heartbeatStale', 'healthTimeout']);
const PATHS = new Set(['template', 'endpointsFile', 'dir', 'cacheDir']);

const kebab = (name: string) => name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);

/** The flags given, as `serve:` keys (`--gpus-per-instance` is `gpus_per_instance`), to lay over the file's section. */
function flagsSection(o: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [name, v] of Object.entries(o)) {
    if (v === undefined || (Array.isArray(v) && v.length === 0)) continue;
    const key = name === 'sbatchArg' ? 'sbatch_args' : kebab(name).replace(/-/g, '_');
    if (NUMERIC.has(name)) {
      const n = Number(v);
      if (!Number.isInteger(n) || n < 0) throw new CosmoError(`--${kebab(name)} must be a whole number, not "${String(v)}"`);
      out[key] = n;
    } else out[key] = PATHS.has(name) && !isAbsolute(String(v)) ? resolve(String(v)) : v;
  }
  return out;
}

/** The `serve:` section: the corpus file's (when given) with the flags over it, validated as one. */
async function serveConfig(file: string | undefined, flags: Record<string, unknown>): Promise<{ section: ServeConfig; path: (p: string) => string; endpointsFile: string }> {
  if (!file) {
    if (flags.engine === undefined || flags.model === undefined) throw new CosmoError('cosmo serve needs --engine and --model, or a corpus file with a serve: section');
    const parsed = serveSchema.safeParse(flags);
    // Named as the flags they came from.
    if (!parsed.success) throw new CosmoError(parsed.error.issues.map((i) => `--${i.path.map(String).join('.').replace(/_/g, '-')}: ${i.message}`).join('\n'));
    return { section: parsed.data, path: (p) => resolve(p), endpointsFile: resolve('endpoints.json') };
  }
  const { loadConfig } = await import('../pipeline/corpus.js');
  const cfg = loadConfig(file, (raw) => {
    if (raw.serve !== undefined || Object.keys(flags).length) raw.serve = { ...(raw.serve as object), ...flags };
  });
  if (!cfg.serve) throw new CosmoError(`${file} has no serve: section: add one (engine, model, instances, …) or pass --engine and --model`);
  const path = (p: string) => resolvePath(cfg, p);
  // By default the servers are written where this corpus's generate step reads them.
  return { section: cfg.serve, path, endpointsFile: path(cfg.generate.endpoints_file ?? 'endpoints.json') };
}

/** `cosmo serve`: inference servers as Slurm jobs, an endpoints file for `generate`, cancelled on exit. */
export function registerServe(program: Command): void {
  program
    .command('serve [corpus]')
    .description(
      "start N inference servers (vLLM, TGI, SGLang or your own template) as Slurm jobs and write an endpoints file for generate; settings come from the corpus file's serve: section, flags win over it",
    )
    .option('--engine <engine>', `server: ${SERVER_ENGINES.join(', ')}`)
    .option('--model <name>', 'model to serve (Hub id or path), also the model name generate asks for')
    .option('--revision <rev>', 'model revision (branch, tag or commit) the servers load')
    .option('--instances <n>', 'server instances (one Slurm job each; default 1)')
    .option('--template <file>', 'sbatch template to use instead of the shipped templates/serve/<engine>.sbatch')
    .option('--endpoints-file <path>', "where to write the endpoints (default: the corpus file's generate.endpoints_file, else endpoints.json)")
    .option('--dir <dir>', 'state folder for job scripts, logs and addresses (on a filesystem the nodes share)')
    .option('--port <p>', 'first port; instance i listens on port + i')
    .option('--partition <name>', 'Slurm partition')
    .option('--gpus-per-instance <k>', 'GPUs per instance (--gres=gpu:k; tensor parallel size)')
    .option('--cpus-per-gpu <n>', 'CPUs per GPU of an instance (default 8)')
    .option('--mem-per-gpu <size>', "memory per GPU of an instance, e.g. 64G (default: the cluster's)")
    .option('--cpus-per-instance <n>', 'CPUs per instance, in place of --cpus-per-gpu')
    .option('--mem <size>', 'memory per instance, e.g. 64G, in place of --mem-per-gpu')
    .option('--time <limit>', "time limit per instance, e.g. 12:00:00 (default 24 h, or the partition's limit when shorter)")
    .option('--cache-dir <dir>', 'Hugging Face cache on a filesystem every node sees (HF_HOME in the jobs): the model is downloaded once')
    .option('--concurrency <n>', "requests in flight per endpoint that generate may send (default: the server's own limit: TGI's max concurrent requests, 256 sequences for vLLM and SGLang, 64 for a custom template)")
    .option('--server-args <args>', 'extra arguments for the server command line')
    .option('--sbatch-arg <arg>', 'extra sbatch option (repeatable), e.g. --sbatch-arg=--account=proj', (v: string, all: string[]) => [...all, v], [])
    .option('--job-name <prefix>', 'job name prefix (instance i is <prefix>-i)')
    .option('--min-ready <k>', 'go on once k instances are healthy (default: all); the others join the endpoints file when they are')
    .option('--resubmits <n>', 'times an instance whose job dies, or that never becomes healthy, is submitted again (default 2)')
    .option('--heartbeat-stale <s>', 'each server job stops by itself when cosmo serve has not touched its heartbeat file for this long, a lost client (default 600)')
    .option('--health-timeout <s>', 'seconds an instance may take to become healthy once its job runs; queueing does not count (default 1800)')
    .action(async (file: string | undefined, o: Record<string, unknown>) => {
      const { section, path, endpointsFile } = await serveConfig(file, flagsSection(o));
      const { serveOptions, startServers } = await import('../serve/servers.js');
      const opts = serveOptions(section, path);
      const log = createLogger('serve');
      await withInterrupt(async (signal) => {
        const servers = await startServers({
          ...opts,
          endpointsFile: opts.endpointsFile ?? endpointsFile,
          dir: opts.dir ?? join('.cosmo-serve', `${section.engine}-${new Date().toISOString().replace(/[:.]/g, '-')}`),
          log,
          signal,
        }).catch((err: unknown) => {
          // Ctrl-C while waiting: the jobs are already cancelled; that is not a failure to report.
          if (signal.aborted) return undefined;
          throw err;
        });
        if (!servers) {
          process.exitCode = 130;
          return;
        }
        try {
          process.stdout.write(
            `${servers.endpoints.map((e) => e.base_url).join('\n')}\n` +
              `cosmo serve: ${servers.endpoints.length} server(s) up${servers.endpoints.length < servers.instances.length ? ` of ${servers.instances.length}; the others join as they come up` : ''}; endpoints in ${servers.endpointsFile}. ` +
              `Set generate.endpoints_file to it. Ctrl-C stops the servers.\n`,
          );
          await servers.watch(signal);
        } finally {
          await servers.stop();
        }
      });
    });
}

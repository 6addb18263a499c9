import type { Command } from 'commander';
import { join } from 'node:path';
import { SERVER_ENGINES, startServers, type ServerEngine } from '../serve/servers.js';
import { CosmoError } from '../util/errors.js';
import { createLogger } from '../util/log.js';
import { withInterrupt } from './interrupt.js';

interface ServeCliOptions {
  engine: string;
  model: string;
  instances: string;
  template?: string;
  endpointsFile: string;
  dir?: string;
  port?: string;
  partition?: string;
  gpusPerInstance?: string;
  cpusPerInstance?: string;
  mem?: string;
  time?: string;
  concurrency?: string;
  serverArgs?: string;
  sbatchArg: string[];
  healthTimeout: string;
  heartbeatStale: string;
  minReady?: string;
  resubmits: string;
  jobName?: string;
}

function positiveInt(name: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new CosmoError(`${name} must be a whole number, not "${v}"`);
  return n;
}

/** `cosmo serve`: inference servers as Slurm jobs, an endpoints file for `generate`, cancelled on exit. */
export function registerServe(program: Command): void {
  program
    .command('serve')
    .description('start N inference servers (vLLM, TGI, SGLang or your own template) as Slurm jobs and write an endpoints file for generate')
    .requiredOption('--engine <engine>', `server: ${SERVER_ENGINES.join(', ')}`)
    .requiredOption('--model <name>', 'model to serve (Hub id or path), also the model name generate asks for')
    .option('--instances <n>', 'server instances (one Slurm job each)', '1')
    .option('--template <file>', 'sbatch template to use instead of the shipped templates/serve/<engine>.sbatch')
    .option('--endpoints-file <path>', 'where to write the endpoints (set generate.endpoints_file to it)', 'endpoints.json')
    .option('--dir <dir>', 'state folder for job scripts, logs and addresses (on a filesystem the nodes share)')
    .option('--port <p>', 'first port; instance i listens on port + i')
    .option('--partition <name>', 'Slurm partition')
    .option('--gpus-per-instance <k>', 'GPUs per instance (--gres=gpu:k; tensor parallel size)')
    .option('--cpus-per-instance <n>', 'CPUs per instance')
    .option('--mem <size>', 'memory per instance, e.g. 64G')
    .option('--time <limit>', 'time limit per instance, e.g. 12:00:00')
    .option('--concurrency <n>', "requests in flight per endpoint that generate may send (default: the server's own limit: TGI's max concurrent requests, 256 sequences for vLLM and SGLang, 64 for a custom template)")
    .option('--server-args <args>', 'extra arguments for the server command line')
    .option('--sbatch-arg <arg>', 'extra sbatch option (repeatable), e.g. --sbatch-arg=--account=proj', (v: string, all: string[]) => [...all, v], [])
    .option('--job-name <prefix>', 'job name prefix (instance i is <prefix>-i)')
    .option('--min-ready <k>', 'go on once k instances are healthy (default: all); the others join the endpoints file when they are')
    .option('--resubmits <n>', 'times an instance whose job dies, or that never becomes healthy, is submitted again', '2')
    .option('--heartbeat-stale <s>', 'each server job stops by itself when cosmo serve has not touched its heartbeat file for this long (a lost client)', '600')
    .option('--health-timeout <s>', 'seconds an instance may take to become healthy once its job runs (queueing does not count)', '1800')
    .action(async (o: ServeCliOptions) => {
      if (!(SERVER_ENGINES as readonly string[]).includes(o.engine))
        throw new CosmoError(`--engine must be one of ${SERVER_ENGINES.join(', ')}, not "${o.engine}"`);
      const log = createLogger('serve');
      await withInterrupt(async (signal) => {
        const servers = await startServers({
          engine: o.engine as ServerEngine,
          model: o.model,
          instances: positiveInt('--instances', o.instances)!,
          template: o.template,
          endpointsFile: o.endpointsFile,
          dir: o.dir ?? join('.cosmo-serve', `${o.engine}-${new Date().toISOString().replace(/[:.]/g, '-')}`),
          port: positiveInt('--port', o.port),
          partition: o.partition,
          gpusPerInstance: positiveInt('--gpus-per-instance', o.gpusPerInstance),
          cpusPerInstance: positiveInt('--cpus-per-instance', o.cpusPerInstance),
          mem: o.mem,
          time: o.time,
          concurrency: positiveInt('--concurrency', o.concurrency),
          serverArgs: o.serverArgs,
          sbatchArgs: o.sbatchArg,
          healthTimeoutMs: positiveInt('--health-timeout', o.healthTimeout)! * 1000,
          heartbeatStaleS: positiveInt('--heartbeat-stale', o.heartbeatStale),
          minReady: positiveInt('--min-ready', o.minReady),
          resubmits: positiveInt('--resubmits', o.resubmits),
          jobName: o.jobName,
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

/**
 * `cosmo serve` as a library: start N inference servers (vLLM, TGI, SGLang or a custom template) as
 * Slurm jobs, wait until each answers its health URL, write the endpoints file that `generate`
 * reads (`generate.endpoints_file`), and cancel every job on stop, exit, Ctrl-C or SIGTERM.
 * Unlike llm-swarm there is no nginx in front: the generate client routes across the endpoints.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, rm, utimes, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { sbatch, scancel, sleep, squeue, waitGone, type QueueEntry } from '../exec/slurm.js';
import { writeJsonAtomic } from '../io/atomic.js';
import { CosmoError, errorMessage } from '../util/errors.js';
import { silentLogger, type Logger } from '../util/log.js';
import { shippedDir } from '../util/shipped.js';

export const SERVER_ENGINES = ['vllm', 'tgi', 'sglang', 'custom'] as const;
export type ServerEngine = (typeof SERVER_ENGINES)[number];

/** Where the shipped templates live (`templates/serve/<engine>.sbatch`), from src/ or dist/. */
export const TEMPLATE_DIR = shippedDir('serve');

/** Ports the servers listen on by default; instance i gets port + i, so instances sharing a node do not collide. */
const DEFAULT_PORT: Record<ServerEngine, number> = { vllm: 8000, tgi: 8080, sglang: 30000, custom: 8000 };

export interface ServeOptions {
  engine: ServerEngine;
  /** Model to serve (a Hub id or a path the server understands); also the model name in the endpoints file. */
  model: string;
  instances: number;
  /** A template of your own; required for `custom`, optional for the others. */
  template?: string;
  /** Where to write the endpoints file; removed again on stop. */
  endpointsFile: string;
  /** State folder (rendered job scripts, logs, address files); must be visible to the compute nodes. */
  dir: string;
  /** First port; instance i listens on port + i. */
  port?: number;
  gpusPerInstance?: number;
  partition?: string;
  time?: string;
  cpusPerInstance?: number;
  mem?: string;
  /** More sbatch options, e.g. ["--account=proj", "--exclusive"]. */
  sbatchArgs?: string[];
  /** Extra server arguments, in place of {{args}} in the template. */
  serverArgs?: string;
  /** Requests in flight per endpoint that generate may send. */
  concurrency?: number;
  /** Job name prefix, to tell these jobs apart in squeue. */
  jobName?: string;
  /**
   * Seconds after which a server job stops by itself when this process has stopped touching its
   * heartbeat file (`<dir>/heartbeat`): a lost client never holds GPUs for the job's whole time limit.
   */
  heartbeatStaleS?: number;
  /** How long an instance may take from its job starting to run to healthy (model loading included; queueing is not counted). */
  healthTimeoutMs?: number;
  pollMs?: number;
  log?: Logger;
  signal?: AbortSignal;
}

export interface Endpoint {
  base_url: string;
  model: string;
  concurrency: number;
  /** The server kind, so that generate sends each what it accepts (absent for a custom template: generate asks). */
  server?: Exclude<ServerEngine, 'custom'>;
}

export interface ServerInstance {
  index: number;
  jobId: string;
  script: string;
  log: string;
  addressFile: string;
  port: number;
  /** Set once healthy. */
  endpoint?: Endpoint;
}

export interface RunningServers {
  endpoints: Endpoint[];
  instances: ServerInstance[];
  endpointsFile: string;
  /**
   * Watch the servers until `signal` aborts: an instance whose job ends or that stops answering is
   * reported with its log and dropped from the endpoints file. Rejects when none is left.
   */
  watch(signal: AbortSignal): Promise<void>;
  /** Cancel every job, wait until Slurm has them gone, and remove the endpoints file. Idempotent. */
  stop(): Promise<void>;
}

interface Template {
  file: string;
  text: string;
  health: string;
  api: string;
}

/** Read a template and its `# cosmo: health=/path api=/v1` line. */
export function loadTemplate(engine: ServerEngine, file?: string): Template {
  if (!file && engine === 'custom') throw new CosmoError('cosmo serve --engine custom needs --template <file.sbatch>');
  const path = resolve(file ?? join(TEMPLATE_DIR, `${engine}.sbatch`));
  if (!existsSync(path)) throw new CosmoError(`serve template ${path} does not exist`);
  const text = readFileSync(path, 'utf8');
  const meta: Record<string, string> = {};
  for (const m of text.matchAll(/^#\s*cosmo:\s*(.*)$/gm)) for (const kv of m[1]!.trim().split(/\s+/)) meta[kv.split('=')[0]!] = kv.split('=').slice(1).join('=');
  return { file: path, text, health: meta.health ?? '/health', api: meta.api ?? '/v1' };
}

/** Fill a template's {{name}} fields; an unknown field is an error naming the template and its line. */
export function renderTemplate(tpl: Pick<Template, 'file' | 'text'>, vars: Record<string, string | number>): string {
  return tpl.text.replace(/\{\{\s*(\w+)\s*\}\}/g, (match, name: string, offset: number) => {
    if (!(name in vars)) {
      const line = tpl.text.slice(0, offset).split('\n').length;
      throw new CosmoError(`${tpl.file}:${line}: unknown template field ${match}; fields are ${Object.keys(vars).map((k) => `{{${k}}}`).join(', ')}`);
    }
    return String(vars[name]);
  });
}

/** The last lines of a log, for error messages. */
function tail(file: string, lines = 15): string {
  if (!existsSync(file)) return '    (no log yet: the job never started)';
  const text = readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines);
  return text.map((l) => `    ${l}`).join('\n');
}

async function healthy(url: string): Promise<boolean> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(5000) });
    await res.body?.cancel();
    return res.ok;
  } catch {
    return false;
  }
}

/**
 * Which model the server at `root` serves: TGI's `/info` names it (`model_id`), the others list it at
 * `<api>/models`. Undefined when neither answers. A server on the expected address that serves
 * another model is someone else's, started on the same node and port: never ours to use.
 */
export async function servedModelAt(root: string, api: string): Promise<string[] | undefined> {
  const get = async (url: string) => {
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(5000) });
      return res.ok ? ((await res.json()) as Record<string, unknown>) : undefined;
    } catch {
      return undefined;
    }
  };
  const info = await get(`${root}/info`);
  if (typeof info?.model_id === 'string') return [info.model_id];
  const models = (await get(`${root}${api}/models`))?.data;
  return Array.isArray(models) ? models.map((m: { id?: unknown }) => String(m.id)) : undefined;
}

/** Jobs of every RunningServers not yet stopped: cancelled even if the process exits without stop(). */
const live = new Set<string>();
let exitHookInstalled = false;
function guardJobs(ids: string[]): void {
  for (const id of ids) live.add(id);
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    if (live.size) spawnSync('scancel', [...live], { stdio: 'ignore' });
  });
}

/** Start the servers and resolve once every one is healthy and the endpoints file is written. */
export async function startServers(opts: ServeOptions): Promise<RunningServers> {
  const log = opts.log ?? silentLogger;
  const signal = opts.signal ?? new AbortController().signal;
  const pollMs = opts.pollMs ?? 2000;
  const timeoutMs = opts.healthTimeoutMs ?? 30 * 60_000;
  if (!Number.isInteger(opts.instances) || opts.instances < 1) throw new CosmoError(`--instances must be a positive integer, not ${opts.instances}`);
  const tpl = loadTemplate(opts.engine, opts.template);
  const dir = resolve(opts.dir);
  const endpointsFile = resolve(opts.endpointsFile);
  const gpus = opts.gpusPerInstance ?? (opts.engine === 'custom' ? 0 : 1);
  const basePort = opts.port ?? DEFAULT_PORT[opts.engine];
  const jobName = opts.jobName ?? `cosmo-serve-${opts.engine}`;
  await mkdir(dir, { recursive: true });
  // The jobs' watchdogs look at this file's age; it is touched for as long as this process lives.
  const heartbeat = join(dir, 'heartbeat');
  const staleS = opts.heartbeatStaleS ?? 600;
  const checkS = Math.max(1, Math.min(60, Math.floor(staleS / 4)));
  await writeFile(heartbeat, `${process.pid}\n`);
  const beating = setInterval(() => {
    const now = new Date();
    utimes(heartbeat, now, now).catch(() => undefined);
  }, checkS * 500);
  beating.unref();

  const instances: ServerInstance[] = [];
  let stopped = false;
  let wroteEndpoints = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    clearInterval(beating);
    const ids = instances.map((i) => i.jobId);
    // Only our own file: a failed start must not delete the endpoints of servers started elsewhere.
    if (wroteEndpoints) await rm(endpointsFile, { force: true });
    if (ids.length === 0) return;
    log.info('cancelling server jobs', { jobs: ids.join(',') });
    await scancel(ids);
    await waitGone(ids, Math.min(pollMs, 1000), 120_000).catch((e: unknown) => log.warn(errorMessage(e)));
    for (const id of ids) live.delete(id);
  };

  try {
    for (let index = 0; index < opts.instances; index++) {
      const port = basePort + index;
      const script = join(dir, `instance-${index}.sbatch`);
      const logFile = join(dir, `instance-${index}.log`);
      const addressFile = join(dir, `instance-${index}.address`);
      await rm(addressFile, { force: true });
      const vars = {
        model: opts.model,
        port,
        gpus,
        instance: index,
        address_file: addressFile,
        dir,
        args: opts.serverArgs ?? '',
        heartbeat,
        heartbeat_stale_s: staleS,
        heartbeat_check_s: checkS,
      };
      await writeFile(script, renderTemplate(tpl, vars), { mode: 0o755 });
      // Command-line options win over the template's #SBATCH lines.
      const args = [`--job-name=${jobName}-${index}`, `--output=${logFile}`];
      if (gpus > 0) args.push(`--gres=gpu:${gpus}`);
      if (opts.partition) args.push(`--partition=${opts.partition}`);
      if (opts.time) args.push(`--time=${opts.time}`);
      if (opts.cpusPerInstance) args.push(`--cpus-per-task=${opts.cpusPerInstance}`);
      if (opts.mem) args.push(`--mem=${opts.mem}`);
      args.push(...(opts.sbatchArgs ?? []));
      signal.throwIfAborted();
      const jobId = await sbatch(script, args);
      instances.push({ index, jobId, script, log: logFile, addressFile, port });
      guardJobs([jobId]);
      log.info('submitted server', { instance: index, job: jobId, log: logFile });
    }
    await waitHealthy(instances, tpl, { ...opts, model: opts.model }, { log, signal, pollMs, timeoutMs });
  } catch (err) {
    await stop();
    throw err;
  }

  const endpoints = instances.map((i) => i.endpoint!);
  await writeJsonAtomic(endpointsFile, { endpoints });
  wroteEndpoints = true;
  log.info('endpoints written', { file: endpointsFile, endpoints: endpoints.length });

  return {
    endpoints,
    instances,
    endpointsFile,
    stop,
    watch: (watchSignal) => watchServers(instances, tpl, endpointsFile, { log, signal: watchSignal, pollMs }),
  };
}

/** Poll until every instance answers its health URL; a job that ends or takes too long is an error. */
async function waitHealthy(
  instances: ServerInstance[],
  tpl: Template,
  opts: Pick<ServeOptions, 'model' | 'concurrency' | 'engine'>,
  ctx: { log: Logger; signal: AbortSignal; pollMs: number; timeoutMs: number },
): Promise<void> {
  const started = Date.now();
  /** When each job started running: its health clock (time in the queue is not start-up time). */
  const running = new Map<ServerInstance, number>();
  const foreign = new Set<ServerInstance>();
  const queued = new Set<ServerInstance>();
  const waiting = new Set(instances);
  while (waiting.size > 0) {
    ctx.signal.throwIfAborted();
    const queue = new Map<string, QueueEntry>((await squeue(instances.map((i) => i.jobId))).map((e) => [e.jobId, e]));
    for (const inst of [...waiting]) {
      const job = queue.get(inst.jobId);
      if (job?.state === 'RUNNING' && !running.has(inst)) running.set(inst, Date.now());
      const address = existsSync(inst.addressFile) ? readFileSync(inst.addressFile, 'utf8').trim() : '';
      // Healthy means: our job runs, the address it wrote answers its health URL, and serves our model.
      if (address && job?.state === 'RUNNING') {
        const root = address.startsWith('http') ? address.replace(/\/+$/, '') : `http://${address}`;
        const models = (await healthy(root + tpl.health)) ? await servedModelAt(root, tpl.api) : undefined;
        if (models && !models.includes(opts.model) && !foreign.has(inst)) {
          foreign.add(inst);
          ctx.log.warn('the address answers, but serves another model: not this instance; still waiting', { instance: inst.index, address, serves: models.join(', '), expected: opts.model });
        }
        if (models?.includes(opts.model)) {
          inst.endpoint = { base_url: root + tpl.api, model: opts.model, concurrency: opts.concurrency ?? 64, ...(opts.engine !== 'custom' && { server: opts.engine }) };
          waiting.delete(inst);
          ctx.log.info('server healthy', { instance: inst.index, url: inst.endpoint.base_url, after_s: Math.round((Date.now() - started) / 1000) });
          continue;
        }
      }
      if (!job || !['PENDING', 'CONFIGURING', 'RUNNING'].includes(job.state))
        throw new CosmoError(
          `server instance ${inst.index} (job ${inst.jobId}) ended before it became healthy${job ? ` (state ${job.state})` : ''}; ` +
            `log: ${inst.log}\n${tail(inst.log)}`,
        );
      const since = running.get(inst);
      if (since !== undefined && Date.now() - since > ctx.timeoutMs) {
        const where = foreign.has(inst)
          ? `${address} serves another model than ${opts.model} (another server on that port?)`
          : address
            ? `${address}${tpl.health} does not answer 200`
            : `it never wrote ${inst.addressFile}`;
        throw new CosmoError(
          `server instance ${inst.index} (job ${inst.jobId}) not healthy ${Math.round(ctx.timeoutMs / 1000)} s after it started running: ${where}; log: ${inst.log}\n${tail(inst.log)}`,
        );
      }
      if (since === undefined && job?.state === 'PENDING' && Date.now() - started > ctx.timeoutMs && !queued.has(inst)) {
        // Queue time does not count; say once why it waits.
        queued.add(inst);
        ctx.log.info('server job still waiting in the queue', { instance: inst.index, job: inst.jobId, reason: job.reason });
      }
    }
    if (waiting.size) await sleep(ctx.pollMs, ctx.signal);
  }
}

/** Keep watch while the user generates; drop instances that die, rewriting the endpoints file. */
async function watchServers(
  instances: ServerInstance[],
  tpl: Template,
  endpointsFile: string,
  ctx: { log: Logger; signal: AbortSignal; pollMs: number },
): Promise<void> {
  const alive = new Set(instances);
  const misses = new Map<ServerInstance, number>();
  while (!ctx.signal.aborted) {
    await sleep(ctx.pollMs * 5, ctx.signal);
    if (ctx.signal.aborted) return;
    const inQueue = new Set((await squeue(instances.map((i) => i.jobId))).map((e) => e.jobId));
    let changed = false;
    for (const inst of [...alive]) {
      const ok = inQueue.has(inst.jobId) && (await healthy(inst.endpoint!.base_url.replace(/\/v1$/, '') + tpl.health));
      misses.set(inst, ok ? 0 : (misses.get(inst) ?? 0) + 1);
      // One missed health check can be a busy server; three in a row, or a job gone, is a dead one.
      if (!inQueue.has(inst.jobId) || misses.get(inst)! >= 3) {
        alive.delete(inst);
        changed = true;
        ctx.log.error('server lost', { instance: inst.index, job: inst.jobId, log: inst.log });
      }
    }
    if (changed) {
      if (alive.size === 0) throw new CosmoError(`every server is gone; see the logs: ${instances.map((i) => i.log).join(', ')}`);
      await writeJsonAtomic(endpointsFile, { endpoints: [...alive].map((i) => i.endpoint!) });
      ctx.log.warn('endpoints file rewritten', { file: endpointsFile, endpoints: alive.size });
    }
  }
}

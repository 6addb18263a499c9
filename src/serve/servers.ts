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
import { formatSlurmTime, parseSlurmTime, partitionLimit, sbatch, scancel, shellQuote, sleep, squeue, waitGone, type QueueEntry } from '../exec/slurm.js';
import { writeJsonAtomic } from '../io/atomic.js';
import { CosmoError, errorMessage } from '../util/errors.js';
import { silentLogger, type Logger } from '../util/log.js';
import { shippedDir } from '../util/shipped.js';
import type { ServeConfig, ServerEngine } from './config.js';

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
  /** Time limit per instance (default 24 h, or the partition's limit when shorter); one longer than the partition's is refused. */
  time?: string;
  /** CPUs per GPU of an instance (default 8), scaled with gpusPerInstance; `cpusPerInstance` fixes the number instead. */
  cpusPerGpu?: number;
  cpusPerInstance?: number;
  /** Memory per GPU (e.g. "64G"), scaled with gpusPerInstance; `mem` fixes it per instance instead. Default: the cluster's. */
  memPerGpu?: string;
  mem?: string;
  /** Model revision (branch, tag or commit) the server loads ({{revision}} in the template). */
  revision?: string;
  /** Hugging Face cache on a shared filesystem, HF_HOME in the jobs ({{cache_dir}}), so that N instances download once. */
  cacheDir?: string;
  /** More sbatch options, e.g. ["--account=proj", "--exclusive"]. */
  sbatchArgs?: string[];
  /** Extra server arguments, in place of {{args}} in the template. */
  serverArgs?: string;
  /** Requests in flight per endpoint that generate may send; default: what the server admits (TGI's /info `max_concurrent_requests`, vLLM's and SGLang's 256 sequences; 64 for a custom template). */
  concurrency?: number;
  /** Job name prefix, to tell these jobs apart in squeue. */
  jobName?: string;
  /**
   * Seconds after which a server job stops by itself when this process has stopped touching its
   * heartbeat file (`<dir>/heartbeat`): a lost client never holds GPUs for the job's whole time limit.
   */
  heartbeatStaleS?: number;
  /** Resolve once this many instances are healthy (default: all); the others join the endpoints file as they become healthy. */
  minReady?: number;
  /** Times an instance whose job dies (or never becomes healthy) is submitted again before it is given up; default 2. */
  resubmits?: number;
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
  /** starting: submitted, not yet healthy; ready: in the endpoints file; failed: given up. */
  state: 'starting' | 'ready' | 'failed';
  /** Set while healthy. */
  endpoint?: Endpoint;
  /** Jobs submitted for it so far (1 + resubmissions). */
  submissions: number;
  /** When its current job started running (its health clock), and what was said about it. */
  runningSince?: number;
  warned?: 'foreign' | 'queued';
  /** Why its last warm-up generation failed, when it did. */
  warmUpError?: string;
  misses: number;
}

export interface RunningServers {
  endpoints: Endpoint[];
  instances: ServerInstance[];
  endpointsFile: string;
  /**
   * Watch the servers until `signal` aborts: instances still starting join the endpoints file once
   * healthy; one whose job ends or that stops answering is dropped from it, reported with its log,
   * and submitted again (at most `resubmits` times) to rejoin. Rejects when none is left.
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
export async function servedModelAt(root: string, api: string): Promise<{ models: string[]; maxConcurrent?: number } | undefined> {
  const get = async (url: string) => {
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(5000) });
      return res.ok ? ((await res.json()) as Record<string, unknown>) : undefined;
    } catch {
      return undefined;
    }
  };
  const info = await get(`${root}/info`);
  if (typeof info?.model_id === 'string')
    return { models: [info.model_id], ...(typeof info.max_concurrent_requests === 'number' && { maxConcurrent: info.max_concurrent_requests }) };
  const models = (await get(`${root}${api}/models`))?.data;
  return Array.isArray(models) ? { models: models.map((m: { id?: unknown }) => String(m.id)) } : undefined;
}

/** Requests in flight per endpoint when `--concurrency` is not given: what each server admits by default (vLLM and SGLang: 256 sequences; TGI says its own in /info). */
const SERVER_CONCURRENCY: Record<ServerEngine, number> = { vllm: 256, sglang: 256, tgi: 128, custom: 64 };

/** One short generation, so that an instance is ready only once it really answers (the first request also loads kernels and warms caches). */
async function warmUp(baseUrl: string, model: string): Promise<string | undefined> {
  try {
    const res = await fetch(`${baseUrl}/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model, messages: [{ role: 'user', content: 'Say hello.' }], max_tokens: 4, temperature: 0 }),
      signal: AbortSignal.timeout(120_000),
    });
    const text = await res.text();
    return res.ok ? undefined : `HTTP ${res.status}: ${text.slice(0, 200)}`;
  } catch (err) {
    return errorMessage(err);
  }
}

/** CPUs and memory per instance: fixed, or per GPU times its GPUs (a CPU-only instance counts as one). */
export function instanceResources(o: Pick<ServeOptions, 'cpusPerInstance' | 'cpusPerGpu' | 'mem' | 'memPerGpu'>, gpus: number): { cpus: number; mem?: string } {
  const scale = Math.max(1, gpus);
  const perGpu = o.memPerGpu && /^(\d+)([KMGT]?)$/i.exec(o.memPerGpu);
  if (o.memPerGpu && !perGpu) throw new CosmoError(`mem_per_gpu "${o.memPerGpu}" is not a Slurm memory size such as 64G`);
  const mem = o.mem ?? (perGpu ? `${Number(perGpu[1]) * scale}${perGpu[2]!.toUpperCase()}` : undefined);
  return { cpus: o.cpusPerInstance ?? (o.cpusPerGpu ?? 8) * scale, ...(mem && { mem }) };
}

/** The instances' default time limit: a day, as llm-swarm's templates ask. */
const DEFAULT_TIME = '1-00:00:00';

/**
 * The time limit to ask for, checked against the partition's (sinfo): a job asking for more than its
 * partition allows waits in the queue for ever (reason PartitionTimeLimit) on most clusters, so a
 * longer `time` is refused here, and the default is shortened to the partition's limit.
 */
export async function instanceTime(time: string | undefined, partition: string | undefined, log: Logger): Promise<string> {
  const wanted = parseSlurmTime(time ?? DEFAULT_TIME);
  if (wanted === undefined || wanted === Infinity) throw new CosmoError(`time "${time}" is not a Slurm time limit such as 12:00:00 or 2-00:00:00`);
  const limit = await partitionLimit(partition);
  if (!limit || wanted <= limit.seconds) return time ?? DEFAULT_TIME;
  if (time !== undefined)
    throw new CosmoError(`time ${time} is longer than partition ${limit.partition}'s limit of ${limit.text} (sinfo): its jobs would wait in the queue for ever. Ask for ${limit.text} or less, or another --partition.`);
  log.info("the default time limit is longer than the partition allows: asking for the partition's limit", { partition: limit.partition, time: limit.text });
  return formatSlurmTime(limit.seconds);
}

/** The library's options from a `serve:` section, paths made absolute with `resolvePath`. */
export function serveOptions(c: ServeConfig, resolvePath: (p: string) => string): Omit<ServeOptions, 'endpointsFile' | 'dir'> & { endpointsFile?: string; dir?: string } {
  const path = (p: string | undefined) => (p === undefined ? undefined : resolvePath(p));
  return {
    engine: c.engine,
    model: c.model,
    instances: c.instances,
    template: path(c.template),
    endpointsFile: path(c.endpoints_file),
    dir: path(c.dir),
    port: c.port,
    partition: c.partition,
    time: c.time,
    gpusPerInstance: c.gpus_per_instance,
    cpusPerGpu: c.cpus_per_gpu,
    cpusPerInstance: c.cpus_per_instance,
    memPerGpu: c.mem_per_gpu,
    mem: c.mem,
    revision: c.revision,
    cacheDir: path(c.cache_dir),
    serverArgs: c.server_args,
    sbatchArgs: c.sbatch_args,
    jobName: c.job_name,
    concurrency: c.concurrency,
    minReady: c.min_ready,
    resubmits: c.resubmits,
    heartbeatStaleS: c.heartbeat_stale,
    healthTimeoutMs: c.health_timeout === undefined ? undefined : c.health_timeout * 1000,
  };
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
  const resources = instanceResources(opts, gpus);
  const time = await instanceTime(opts.time, opts.partition, log);
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
  const minReady = opts.minReady ?? opts.instances;
  if (!Number.isInteger(minReady) || minReady < 1 || minReady > opts.instances) throw new CosmoError(`--min-ready must be between 1 and --instances (${opts.instances}), not ${minReady}`);
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    clearInterval(beating);
    const ids = instances.filter((i) => i.state !== 'failed').map((i) => i.jobId);
    // Only our own file: a failed start must not delete the endpoints of servers started elsewhere.
    if (fleet.wrote) await rm(endpointsFile, { force: true });
    if (ids.length === 0) return;
    log.info('cancelling server jobs', { jobs: ids.join(',') });
    await scancel(ids);
    await waitGone(ids, Math.min(pollMs, 1000), 120_000).catch((e: unknown) => log.warn(errorMessage(e)));
    for (const id of ids) live.delete(id);
  };

  const submit = async (inst: Pick<ServerInstance, 'index' | 'script' | 'log' | 'addressFile'>): Promise<string> => {
    await rm(inst.addressFile, { force: true });
    // Command-line options win over the template's #SBATCH lines.
    const args = [`--job-name=${jobName}-${inst.index}`, `--output=${inst.log}`, '--open-mode=append'];
    if (gpus > 0) args.push(`--gres=gpu:${gpus}`);
    if (opts.partition) args.push(`--partition=${opts.partition}`);
    args.push(`--time=${time}`, `--cpus-per-task=${resources.cpus}`);
    if (resources.mem) args.push(`--mem=${resources.mem}`);
    args.push(...(opts.sbatchArgs ?? []));
    signal.throwIfAborted();
    const jobId = await sbatch(inst.script, args);
    guardJobs([jobId]);
    log.info('submitted server', { instance: inst.index, job: jobId, log: inst.log });
    return jobId;
  };

  const fleet = new Fleet(instances, tpl, { ...opts, resubmits: opts.resubmits ?? 2 }, endpointsFile, submit, { log, pollMs, timeoutMs });
  try {
    for (let index = 0; index < opts.instances; index++) {
      const port = basePort + index;
      const script = join(dir, `instance-${index}.sbatch`);
      const logFile = join(dir, `instance-${index}.log`);
      const addressFile = join(dir, `instance-${index}.address`);
      const vars = {
        model: opts.model,
        port,
        gpus,
        instance: index,
        address_file: addressFile,
        dir,
        args: opts.serverArgs ?? '',
        // Shell words, quoted: the templates pass them on only when set.
        revision: shellQuote(opts.revision ?? ''),
        cache_dir: shellQuote(opts.cacheDir ? resolve(opts.cacheDir) : ''),
        heartbeat,
        heartbeat_stale_s: staleS,
        heartbeat_check_s: checkS,
      };
      await writeFile(script, renderTemplate(tpl, vars), { mode: 0o755 });
      await rm(logFile, { force: true });
      const inst = { index, script, log: logFile, addressFile, port };
      instances.push({ ...inst, jobId: await submit(inst), state: 'starting', submissions: 1, misses: 0 });
    }
    while (fleet.ready.length < minReady) {
      await fleet.poll();
      if (fleet.ready.length < minReady) await sleep(pollMs, signal);
    }
  } catch (err) {
    await stop();
    throw err;
  }
  log.info('endpoints written', { file: endpointsFile, endpoints: fleet.ready.length, of: opts.instances });

  return {
    endpoints: fleet.ready.map((i) => i.endpoint!),
    instances,
    endpointsFile,
    stop,
    watch: async (watchSignal) => {
      while (!watchSignal.aborted) {
        await sleep(pollMs * 5, watchSignal).catch(() => undefined);
        if (watchSignal.aborted) return;
        await fleet.poll();
      }
    },
  };
}

/**
 * The instances' life after submission, one poll at a time. A starting instance is healthy when its
 * job runs, the address it wrote answers its health URL, and the server there serves our model (a
 * server of someone else's on that node and port never is); it then joins the endpoints file. The
 * health clock starts when the job starts running: queueing is not start-up. A ready instance whose
 * job ends, or that misses three health checks in a row, leaves the file. An instance that dies or
 * never becomes healthy is submitted again, at most `resubmits` times, then given up; when every
 * instance is given up, or too few can still be ready, the poll throws.
 */
class Fleet {
  constructor(
    private readonly instances: ServerInstance[],
    private readonly tpl: Template,
    private readonly opts: Pick<ServeOptions, 'model' | 'concurrency' | 'engine' | 'instances'> & { resubmits: number; minReady?: number },
    private readonly endpointsFile: string,
    private readonly submit: (inst: ServerInstance) => Promise<string>,
    private readonly ctx: { log: Logger; pollMs: number; timeoutMs: number },
  ) {}

  /** Whether this fleet wrote the endpoints file (so that stopping removes it, and only then). */
  wrote = false;

  get ready(): ServerInstance[] {
    return this.instances.filter((i) => i.state === 'ready');
  }

  async poll(): Promise<void> {
    const live = this.instances.filter((i) => i.state !== 'failed');
    const queue = new Map<string, QueueEntry>((await squeue(live.map((i) => i.jobId))).map((e) => [e.jobId, e]));
    let changed = false;
    for (const inst of live) {
      const job = queue.get(inst.jobId);
      const problem = inst.state === 'starting' ? await this.start(inst, job) : await this.check(inst, job);
      if (problem === 'ready') changed = true;
      else if (problem) {
        if (inst.state === 'ready') changed = true;
        await this.replace(inst, problem);
      }
    }
    if (changed) {
      await writeJsonAtomic(this.endpointsFile, { endpoints: this.ready.map((i) => i.endpoint!) });
      this.wrote = true;
    }
    const possible = this.instances.filter((i) => i.state !== 'failed').length;
    if (possible === 0) throw new CosmoError(`every server is gone; see the logs: ${this.instances.map((i) => i.log).join(', ')}`);
    if (possible < (this.opts.minReady ?? 1)) throw new CosmoError(`only ${possible} server instance(s) can still come up, fewer than --min-ready ${this.opts.minReady}`);
  }

  /** A starting instance: 'ready' once healthy, a problem when its job ended or it took too long, else undefined. */
  private async start(inst: ServerInstance, job: QueueEntry | undefined): Promise<string | undefined> {
    const { tpl, opts, ctx } = this;
    if (job?.state === 'RUNNING') inst.runningSince ??= Date.now();
    const address = existsSync(inst.addressFile) ? readFileSync(inst.addressFile, 'utf8').trim() : '';
    if (address && job?.state === 'RUNNING') {
      const root = address.startsWith('http') ? address.replace(/\/+$/, '') : `http://${address}`;
      const served = (await healthy(root + tpl.health)) ? await servedModelAt(root, tpl.api) : undefined;
      if (served?.models.includes(opts.model)) {
        const failed = await warmUp(root + tpl.api, opts.model);
        if (failed) {
          if (!inst.warmUpError) ctx.log.info('server answers, but its warm-up generation failed; still waiting', { instance: inst.index, error: failed });
          inst.warmUpError = failed;
          return this.timedOut(inst, address) ?? undefined;
        }
        inst.state = 'ready';
        inst.misses = 0;
        const concurrency = opts.concurrency ?? served.maxConcurrent ?? SERVER_CONCURRENCY[opts.engine];
        inst.endpoint = { base_url: root + tpl.api, model: opts.model, concurrency, ...(opts.engine !== 'custom' && { server: opts.engine }) };
        ctx.log.info('server healthy', { instance: inst.index, url: inst.endpoint.base_url, concurrency, after_s: Math.round((Date.now() - inst.runningSince!) / 1000) });
        return 'ready';
      }
      if (served && inst.warned !== 'foreign') {
        inst.warned = 'foreign';
        ctx.log.warn('the address answers, but serves another model: not this instance; still waiting', { instance: inst.index, address, serves: served.models.join(', '), expected: opts.model });
      }
    }
    if (!job || !['PENDING', 'CONFIGURING', 'RUNNING'].includes(job.state))
      return `server instance ${inst.index} (job ${inst.jobId}) ended before it became healthy${job ? ` (state ${job.state})` : ''}; log: ${inst.log}\n${tail(inst.log)}`;
    const late = this.timedOut(inst, address);
    if (late) return late;
    if (job.state === 'PENDING' && !inst.warned) {
      inst.warned = 'queued';
      ctx.log.info('server job waiting in the queue (the health clock starts when it runs)', { instance: inst.index, job: inst.jobId, reason: job.reason });
    }
    return undefined;
  }

  /** Why an instance that has run for longer than the health timeout is not healthy, or undefined while it has time. */
  private timedOut(inst: ServerInstance, address: string): string | undefined {
    const { tpl, opts, ctx } = this;
    if (inst.runningSince === undefined || Date.now() - inst.runningSince <= ctx.timeoutMs) return undefined;
    const where = inst.warmUpError
      ? `its warm-up generation fails: ${inst.warmUpError}`
      : inst.warned === 'foreign'
        ? `${address} serves another model than ${opts.model} (another server on that port?)`
        : address
          ? `${address}${tpl.health} does not answer 200`
          : `it never wrote ${inst.addressFile}`;
    return `server instance ${inst.index} (job ${inst.jobId}) not healthy ${Math.round(ctx.timeoutMs / 1000)} s after it started running: ${where}; log: ${inst.log}\n${tail(inst.log)}`;
  }

  /** A ready instance: a problem when its job is gone or it missed three health checks in a row (one can be a busy server). */
  private async check(inst: ServerInstance, job: QueueEntry | undefined): Promise<string | undefined> {
    const ok = !!job && (await healthy(inst.endpoint!.base_url.replace(/\/v1$/, '') + this.tpl.health));
    inst.misses = ok ? 0 : inst.misses + 1;
    if (job && inst.misses < 3) return undefined;
    return `server instance ${inst.index} (job ${inst.jobId}) lost: ${job ? 'three health checks missed' : 'its job ended'}; log: ${inst.log}\n${tail(inst.log)}`;
  }

  /** Take an instance out of service, and submit it again while it has resubmissions left. */
  private async replace(inst: ServerInstance, problem: string): Promise<void> {
    const { ctx } = this;
    // Gone before anything else: a job given up must not hold its GPU, nor outlive the run.
    await scancel([inst.jobId]).catch(() => undefined);
    await waitGone([inst.jobId], Math.min(ctx.pollMs, 1000), 120_000).catch((e: unknown) => ctx.log.warn(errorMessage(e)));
    live.delete(inst.jobId);
    inst.endpoint = undefined;
    if (inst.submissions > this.opts.resubmits) {
      inst.state = 'failed';
      ctx.log.error('server instance given up', { instance: inst.index, submissions: inst.submissions, problem });
      if (this.opts.minReady === undefined || this.opts.minReady >= this.opts.instances) throw new CosmoError(problem);
      return;
    }
    ctx.log.warn('server instance submitted again', { instance: inst.index, problem: problem.split('\n')[0] });
    Object.assign(inst, { state: 'starting', runningSince: undefined, warned: undefined, warmUpError: undefined, misses: 0 });
    inst.jobId = await this.submit(inst);
    inst.submissions++;
  }
}


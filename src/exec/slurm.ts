/**
 * The Slurm executor: every stage runs as ONE job array of its pending tasks (array index = task
 * rank), each array task running the same worker entry as the local executor. The arrays of a run
 * are submitted at once, chained with --dependency=afterok, so the cluster carries the whole run
 * even while the submitting process only watches. That process then waits for each array in turn,
 * reports progress, and runs the stage's `finalize` (stats merge, reports, dataset card) once its
 * array is through. Success is read from the completion markers the tasks leave, not from Slurm's
 * accounting, which many clusters (and our test cluster) do not keep.
 */
import { execFile } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { writeJsonAtomic } from '../io/atomic.js';
import { CosmoError, errorMessage } from '../util/errors.js';
import { SECRET_ENV } from '../util/redact.js';
import { sleep as abortableSleep } from '../util/sleep.js';
import type { SlurmConfig, SlurmResources } from './config.js';
import type { Executor, ExecutorOptions, ExecutorRun, StageJob, TaskFailure } from './executor.js';
import { isTaskDone, pendingRanks, TASK_ENV, type StagePlan } from './task.js';

// ---------------------------------------------------------------------------------------------
// The Slurm commands, as small typed calls. Shared with `cosmo serve`.

/** Run a Slurm client command; a failure becomes an error naming the command and Slurm's message. */
export function slurmCommand(cmd: string, args: string[], opts: { input?: string; env?: NodeJS.ProcessEnv } = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile(cmd, args, { maxBuffer: 64 << 20, env: opts.env }, (err, stdout, stderr) => {
      if (!err) return resolve(stdout);
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT')
        return reject(new CosmoError(`${cmd} not found: run cosmo on a Slurm login node (or start a test cluster with scripts/slurm-up.sh)`));
      reject(new CosmoError(`${cmd} ${args.join(' ')} failed: ${stderr.trim() || err.message}`));
    });
    if (opts.input !== undefined) child.stdin?.end(opts.input);
  });
}

/**
 * The environment sbatch runs with, and so (with Slurm's default --export=ALL) the job's: this
 * one without its secrets. Slurm copies the submitting environment into the job's record, which
 * `scontrol show job` and, on sites that store job environments, the accounting database keep.
 */
export function submitEnv(env: NodeJS.ProcessEnv = process.env, secret: readonly string[] = []): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(env).filter(([k]) => !secret.includes(k) && !SECRET_ENV.test(k)));
}

/** Submit a batch script; returns the job id. With `secret`, the job gets this environment without its secrets. */
export async function sbatch(script: string, args: string[] = [], secret?: readonly string[]): Promise<string> {
  const out = await slurmCommand('sbatch', ['--parsable', ...args, script], { env: secret && submitEnv(process.env, secret) });
  // --parsable prints "id" or "id;cluster".
  const id = out.trim().split(';')[0] ?? '';
  if (!/^\d+$/.test(id)) throw new CosmoError(`sbatch ${script}: unexpected answer "${out.trim()}"`);
  return id;
}

export interface QueueEntry {
  /** The job id, or for an array task the array's job id. */
  jobId: string;
  /** The array index, when the entry is an array task. */
  arrayIndex?: number;
  state: string;
  reason: string;
  /** Where it runs (empty while pending). */
  node: string;
}

/** This user's jobs still known to the queue, array tasks listed one by one. */
export async function squeue(jobIds?: string[]): Promise<QueueEntry[]> {
  const args = ['--noheader', '--array', `--user=${userInfo().username}`, '--format=%F|%K|%T|%r|%N'];
  let out: string;
  // A busy controller times out now and then; that must not cancel a run of many hours.
  for (let attempt = 1; ; attempt++) {
    try {
      out = await slurmCommand('squeue', args);
      break;
    } catch (err) {
      if (attempt >= 5 || (err instanceof CosmoError && err.message.includes('not found'))) throw err;
      await sleep(1000 * 2 ** (attempt - 1));
    }
  }
  const wanted = jobIds && new Set(jobIds);
  const entries: QueueEntry[] = [];
  for (const line of out.split('\n')) {
    const [jobId, index, state, reason, node] = line.trim().split('|');
    if (!jobId || !state || (wanted && !wanted.has(jobId))) continue;
    const arrayIndex = /^\d+$/.test(index ?? '') ? Number(index) : undefined;
    entries.push({ jobId, arrayIndex, state, reason: reason ?? '', node: node ?? '' });
  }
  return entries;
}

/** Cancel jobs (whole arrays included); jobs already gone are not an error. */
export async function scancel(jobIds: string[]): Promise<void> {
  if (jobIds.length === 0) return;
  await slurmCommand('scancel', jobIds).catch(() => undefined);
}

/** Wait until none of these jobs is in the queue any more. */
export async function waitGone(jobIds: string[], pollMs: number, timeoutMs = 60_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while ((await squeue(jobIds)).length > 0) {
    if (Date.now() > until) throw new CosmoError(`jobs ${jobIds.join(', ')} are still in the queue after ${timeoutMs / 1000} s`);
    await sleep(pollMs);
  }
}

/**
 * A Slurm time limit in seconds (Infinity for "infinite"/"UNLIMITED"), in any form sbatch takes:
 * "M", "M:S", "H:M:S", "D-H", "D-H:M", "D-H:M:S". Undefined when it is none of them.
 */
export function parseSlurmTime(text: string): number | undefined {
  const t = text.trim();
  if (/^(infinite|unlimited)$/i.test(t)) return Infinity;
  const m = /^(?:(\d+)-)?(\d+)(?::(\d+))?(?::(\d+))?$/.exec(t);
  if (!m) return undefined;
  const [days, a, b, c] = [m[1], m[2]!, m[3], m[4]].map((x) => (x === undefined ? undefined : Number(x)));
  if (days !== undefined) return days * 86400 + a! * 3600 + (b ?? 0) * 60 + (c ?? 0);
  if (c !== undefined) return a! * 3600 + b! * 60 + c;
  return b !== undefined ? a! * 60 + b : a! * 60;
}

/** Seconds as a Slurm time limit, "D-HH:MM:SS". */
export function formatSlurmTime(s: number): string {
  const pad = (n: number) => String(n).padStart(2, '0');
  const days = Math.floor(s / 86400);
  return `${days}-${pad(Math.floor((s % 86400) / 3600))}:${pad(Math.floor((s % 3600) / 60))}:${pad(Math.floor(s % 60))}`;
}

/**
 * A partition's name and time limit (seconds, Infinity when unlimited), as sinfo reports them; the
 * default partition when none is named. Undefined when sinfo does not know it.
 */
export async function partitionLimit(partition?: string): Promise<{ partition: string; seconds: number; text: string } | undefined> {
  const out = await slurmCommand('sinfo', ['--noheader', '--format=%P|%l']);
  for (const line of out.split('\n')) {
    const [raw, limit] = line.trim().split('|');
    if (!raw || !limit) continue;
    const name = raw.replace(/\*$/, '');
    const wanted = partition === undefined ? raw.endsWith('*') : name === partition;
    const seconds = parseSlurmTime(limit);
    if (wanted && seconds !== undefined) return { partition: name, seconds, text: limit };
  }
  return undefined;
}

/** Wait `ms`, ending early (without error) when the signal aborts: callers check the signal themselves. */
export const sleep = (ms: number, signal?: AbortSignal): Promise<void> => abortableSleep(ms, signal).catch(() => undefined);

/** A string as one single-quoted shell word. */
export const shellQuote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

/** `--array` value for a set of ranks, with runs compressed: [0,1,2,5,7,8] -> "0-2,5,7-8". */
export function arraySpec(ranks: number[], maxParallel?: number): string {
  const sorted = [...new Set(ranks)].sort((a, b) => a - b);
  const parts: string[] = [];
  for (let i = 0; i < sorted.length; ) {
    let j = i;
    while (j + 1 < sorted.length && sorted[j + 1] === sorted[j]! + 1) j++;
    parts.push(i === j ? `${sorted[i]}` : `${sorted[i]}-${sorted[j]}`);
    i = j + 1;
  }
  return parts.join(',') + (maxParallel ? `%${maxParallel}` : '');
}

/** `#SBATCH` lines for a set of resources. */
export function resourceDirectives(r: SlurmResources): string[] {
  const lines: string[] = [];
  const add = (opt: string, v: string | number | undefined) => v !== undefined && lines.push(`#SBATCH --${opt}=${v}`);
  add('partition', r.partition);
  add('time', r.time);
  add('cpus-per-task', r.cpus_per_task);
  add('mem', r.mem);
  add('gres', r.gres);
  add('account', r.account);
  add('qos', r.qos);
  for (const a of r.sbatch_args ?? []) lines.push(`#SBATCH ${a}`);
  return lines;
}

// ---------------------------------------------------------------------------------------------
// Stages as job arrays.

/** The submission record a stage folder keeps, so that a rerun never races jobs still queued. */
interface JobRecord {
  job_id: string;
  ranks: number[];
  script: string;
  submitted_at: string;
}

export const slurmDir = (outputDir: string) => join(outputDir, '.slurm');
export const jobScriptPath = (outputDir: string) => join(slurmDir(outputDir), 'job.sbatch');
export const jobRecordPath = (outputDir: string) => join(slurmDir(outputDir), 'job.json');
/** Log of task `rank`; every (re)submission appends to it. */
export const taskLogPath = (outputDir: string, rank: number) => join(outputDir, '.logs', `${rank}.log`);
/** Keys for the jobs of one run: a file only its owner can read, sourced by each job, removed when the run ends. */
export const secretsPath = (workDir: string) => join(workDir, '.cosmo', `slurm-keys-${process.pid}.sh`);

/** Resources for one stage: the executor-wide settings with the stage's overrides on top. */
export function stageResources(slurm: SlurmConfig, stage: string): SlurmResources {
  const { stages, job_name: _n, poll_seconds: _p, setup: _s, ...base } = slurm;
  const over = stages[stage] ?? {};
  return { ...base, ...over, sbatch_args: [...(base.sbatch_args ?? []), ...(over.sbatch_args ?? [])] };
}

export interface JobScriptOptions {
  runName: string;
  workerCommand: string[];
  /** A file of `export NAME=...` lines the job sources for its keys. */
  secretsFile?: string;
}

/** The batch script of one stage's array: readable, and resubmittable by hand with `sbatch --array=...`. */
export function stageJobScript(slurm: SlurmConfig, plan: StagePlan, ranks: number[], opts: JobScriptOptions): string {
  const res = stageResources(slurm, plan.stage);
  // Array tasks have no terminal: progress goes to the log as lines.
  const taskEnv = JSON.stringify({ ...plan, options: { ...plan.options, progress: 'lines' } });
  return [
    '#!/bin/bash',
    `# cosmo: stage "${plan.stage}" of corpus "${opts.runName}", ${plan.worldSize} task(s); array index = task rank.`,
    `# Written by the Slurm executor. To rerun tasks by hand: sbatch --array=<ranks> ${jobScriptPath(plan.outputDir)}`,
    `#SBATCH --job-name=${slurm.job_name}-${opts.runName}-${plan.stage}`,
    `#SBATCH --array=${arraySpec(ranks, res.max_parallel)}`,
    `#SBATCH --output=${join(plan.outputDir, '.logs', '%a.log')}`,
    '#SBATCH --open-mode=append',
    `#SBATCH --chdir=${process.cwd()}`,
    ...resourceDirectives(res),
    'set -eo pipefail',
    // Logs append across reruns; this line tells the attempts apart.
    'echo "== cosmo ${SLURM_JOB_NAME} task ${SLURM_ARRAY_TASK_ID} (job ${SLURM_ARRAY_JOB_ID}_${SLURM_ARRAY_TASK_ID}) on $(hostname) at $(date -Is)" >&2',
    ...slurm.setup,
    // Keys come from a file, never from the job's environment record or this script.
    ...(opts.secretsFile ? [`if [ -r ${shellQuote(opts.secretsFile)} ]; then . ${shellQuote(opts.secretsFile)}; fi`] : []),
    `export ${TASK_ENV}=${shellQuote(taskEnv)}`,
    `exec ${opts.workerCommand.map(shellQuote).join(' ')}`,
    '',
  ].join('\n');
}

/** Refuse to submit while an earlier submission of this stage is still queued: two writers would race. */
async function assertNotQueued(plan: StagePlan, queue: QueueEntry[]): Promise<void> {
  const file = jobRecordPath(plan.outputDir);
  if (!existsSync(file)) return;
  const prev = JSON.parse(readFileSync(file, 'utf8')) as JobRecord;
  if (queue.some((e) => e.jobId === prev.job_id))
    throw new CosmoError(
      `stage ${plan.stage}: job ${prev.job_id} from an earlier run is still in the queue (squeue -j ${prev.job_id}). ` +
        `Wait for it to finish, or cancel it with "scancel ${prev.job_id}", then run again.`,
    );
}

/** Why a task without a marker failed: the worker's own last words in its log, else the log's last line. */
function failureOf(plan: StagePlan, rank: number, jobId: string): TaskFailure {
  const log = taskLogPath(plan.outputDir, rank);
  if (!existsSync(log)) return { rank, error: `no log: array task ${jobId}_${rank} never started (cancelled, or it could not launch)`, log };
  const lines = readFileSync(log, 'utf8').trimEnd().split('\n');
  // Only this attempt's lines: those after the last header the job script wrote.
  const attempt = lines.slice(lines.findLastIndex((l) => l.startsWith('== cosmo ')) + 1).filter((l) => l.trim());
  const said = attempt.findLast((l) => l.startsWith('task failed:'))?.replace(/^task failed: /, '') ?? attempt.at(-1);
  return { rank, error: said ?? `array task ${jobId}_${rank} ended without a completion marker`, log };
}

/** Writes the keys the jobs need (those set here) to a file only this user can read; undefined when there are none. */
async function writeSecrets(workDir: string, names: readonly string[]): Promise<string | undefined> {
  const set = names.filter((n) => process.env[n]);
  if (set.length === 0) return undefined;
  const file = secretsPath(workDir);
  await mkdir(join(workDir, '.cosmo'), { recursive: true });
  await writeFile(file, set.map((n) => `export ${n}=${shellQuote(process.env[n]!)}`).join('\n') + '\n', { mode: 0o600 });
  return file;
}

/**
 * The Slurm executor: every stage's pending tasks are submitted at once, as one job array per
 * stage chained with --dependency=afterok, so the cluster carries the whole run while this process
 * only watches. It then waits for each array in turn and hands the stage to `onStageDone`. Ctrl-C
 * (the signal), a failed stage or any error cancels every job of this run still queued.
 */
export class SlurmExecutor implements Executor {
  constructor(
    private readonly slurm: SlurmConfig,
    private readonly opts: ExecutorOptions,
  ) {}

  /** Each array task has its own allocation: its cores are its own. */
  concurrent(): number {
    return 1;
  }

  async run(jobs: StageJob[], opts: ExecutorRun): Promise<void> {
    const pollMs = this.slurm.poll_seconds * 1000;
    const queue = await squeue();
    const submitted = new Map<StageJob, { id: string; ranks: number[] }>();
    const ids: string[] = [];
    const cancelRest = async () => {
      const left = [...new Set((await squeue(ids).catch(() => [])).map((e) => e.jobId))];
      if (left.length === 0) return;
      opts.log.warn('cancelling jobs', { jobs: left.join(',') });
      await scancel(left);
      // Report only once they are really gone (Slurm gives tasks KillWait seconds to stop).
      await waitGone(left, Math.min(pollMs, 1000), 120_000).catch((e: unknown) => opts.log.warn(errorMessage(e)));
    };
    const workDir = jobs[0]?.plan.workDir;
    const secretsFile = workDir ? await writeSecrets(workDir, this.opts.secretEnv) : undefined;

    try {
      let previous: string | undefined;
      for (const job of jobs) {
        const { plan } = job;
        const ranks = pendingRanks(plan);
        if (ranks.length === 0) continue;
        await assertNotQueued(plan, queue);
        const script = jobScriptPath(plan.outputDir);
        await mkdir(slurmDir(plan.outputDir), { recursive: true });
        await mkdir(join(plan.outputDir, '.logs'), { recursive: true });
        const text = stageJobScript(this.slurm, plan, ranks, { ...this.opts, secretsFile });
        await writeFile(script, text, { mode: 0o755 });
        // A failed stage must not leave its dependants pending forever (DependencyNeverSatisfied).
        const args = previous ? [`--dependency=afterok:${previous}`, '--kill-on-invalid-dep=yes'] : [];
        opts.signal.throwIfAborted();
        const id = await sbatch(script, args, this.opts.secretEnv);
        ids.push(id);
        const record: JobRecord = { job_id: id, ranks, script, submitted_at: new Date().toISOString() };
        await writeJsonAtomic(jobRecordPath(plan.outputDir), record);
        opts.log.child(plan.stage).info('submitted', { job: id, tasks: `${arraySpec(ranks)} of ${plan.worldSize}`, after: previous, script });
        submitted.set(job, { id, ranks });
        previous = id;
      }

      for (const job of jobs) {
        const sub = submitted.get(job);
        if (sub) await this.waitForArray(job, sub, pollMs, opts);
        opts.signal.throwIfAborted();
        const failures = sub ? pendingRanks(job.plan).map((r) => failureOf(job.plan, r, sub.id)) : [];
        await opts.onStageDone(job, failures);
      }
    } catch (err) {
      await cancelRest();
      throw err;
    } finally {
      if (secretsFile) rmSync(secretsFile, { force: true });
    }
  }

  /** Poll the queue until the array is gone, logging progress when it changes. */
  private async waitForArray(job: StageJob, sub: { id: string; ranks: number[] }, pollMs: number, opts: ExecutorRun) {
    const log = opts.log.child(job.plan.stage);
    let last = '';
    for (;;) {
      const entries = await squeue([sub.id]);
      const done = sub.ranks.filter((r) => isTaskDone(job.plan.outputDir, r)).length;
      if (entries.length === 0) return;
      const running = entries.filter((e) => e.state === 'RUNNING' || e.state === 'COMPLETING').length;
      const pending = entries.filter((e) => e.state === 'PENDING');
      const line = `${done}/${sub.ranks.length} done, ${running} running, ${pending.length} pending`;
      if (line !== last) {
        log.info(`job ${sub.id}: ${line}`, pending.length ? { reason: pending[0]!.reason } : undefined);
        last = line;
      }
      await sleep(pollMs, opts.signal);
      opts.signal.throwIfAborted();
    }
  }
}

/**
 * The generate stage: every prompt of the task becomes exactly one Sample, through the engine pool.
 *
 * A finished sample is appended to the task's ledger `<rank>.jsonl.partial` before it counts as done,
 * so a task killed at any moment loses only the requests in flight; a rerun reads the ledger and
 * generates only what is missing. When every prompt is done, the task writes `<rank>.jsonl` (one
 * record per prompt, in input order) atomically and drops the ledger.
 */
import { closeSync, existsSync, openSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { poolModels } from '../engines/config.js';
import { openPool, readEndpointsFile, resolveEngines } from '../engines/open.js';
import { paramProblems } from '../engines/openai.js';
import type { EngineMetrics, PooledCompletion } from '../engines/pool.js';
import { costOf, dearest, formatUsd } from '../engines/prices.js';
import { EngineError, type ChatMessage, type CompletionRequest, type EngineErrorKind } from '../engines/types.js';
import { defineStage, type TaskContext } from '../exec/stage.js';
import type { Stats } from '../exec/stats.js';
import { writeJsonAtomic } from '../io/atomic.js';
import { readFully } from '../io/files.js';
import type { JsonlWriter } from '../io/jsonl-writer.js';
import { readLines } from '../io/jsonl.js';
import { forEachLineSync } from '../io/lines.js';
import { PROMPT_RECORD, SAMPLE_RECORD } from '../records/check.js';
import { STRUCTURED_COLUMNS_FILE, type GenParams, type PromptRecord, type Sample } from '../records/types.js';
import { CosmoError, errorMessage } from '../util/errors.js';
import { Checkpoint } from './checkpoint.js';
import { generateSchema, type GenerateConfig } from './config.js';
import { GenerateTracker, poolProgress, startProgress, type GenerateMetrics } from './metrics.js';
import { answerChecker, feedbackMessage, structuredColumns, type AnswerCheck } from './structured.js';

/** A generated record: a Sample, plus, when the request failed, the kind of error and the attempts made on it over all runs. */
export type GeneratedSample = Sample & { error_kind?: EngineErrorKind; attempts?: number };

/** Failures that are the prompt's fault: a rerun would fail the same way. */
const PROMPT_FAULTS: Record<string, string> = {
  bad_request: 'the server refuses the request',
  context_length: 'the prompt does not fit the context',
  invalid_json: 'its answers were not JSON (generate.json_retries are spent)',
  schema_mismatch: 'its answers did not match generate.json_schema (generate.json_retries are spent)',
};

/** Why a failed sample is final (no rerun retries it), or undefined when a rerun retries it. */
export function finalReason(s: Pick<GeneratedSample, 'error' | 'error_kind' | 'attempts'>, maxAttempts: number): string | undefined {
  if (!s.error) return undefined;
  const fault = PROMPT_FAULTS[s.error_kind ?? ''];
  if (fault) return fault;
  if ((s.attempts ?? 0) >= maxAttempts) return `its ${s.attempts} attempts are spent (generate.max_attempts_total)`;
  return undefined;
}

/** Count a failure in the task's stats: by kind, with an example, and whether a rerun retries it. */
function countFailure(stats: Stats, s: Finished, maxAttempts: number): void {
  const kind = s.error_kind ?? 'unknown';
  stats.inc('failed');
  stats.inc(`failed.${kind}`);
  stats.note(`failed.${kind}`, s.error ?? '');
  const final = finalReason(s, maxAttempts);
  if (final === undefined) stats.inc('retryable');
  else stats.note(`final.${kind}`, final);
}

export const ledgerPath = (outputDir: string, rank: number) => join(outputDir, `${rank}.jsonl.partial`);
export const shardPath = (outputDir: string, rank: number) => join(outputDir, `${rank}.jsonl`);
export const metricsPath = (outputDir: string, rank: number) => join(outputDir, `${rank}.metrics.json`);

/** Sampling parameters for one prompt: its own max_tokens, else its format's, else the default. */
export function paramsFor(g: GenerateConfig, p: PromptRecord): GenParams {
  const params: GenParams = { ...g.params, max_tokens: p.max_tokens ?? g.max_tokens_by_format[p.format] ?? g.params.max_tokens };
  if (params.seed === undefined) delete params.seed;
  if (params.stop === undefined) delete params.stop;
  return params;
}

export function messagesFor(g: GenerateConfig, p: PromptRecord): ChatMessage[] {
  return g.system_prompt ? [{ role: 'system', content: g.system_prompt }, { role: 'user', content: p.prompt }] : [{ role: 'user', content: p.prompt }];
}

// `id` first, so the final pass can read a ledger line's id without parsing the line (the spread
// writes it again, in place). A literal with a spread, not Object.assign: the record keeps fast
// properties, where Object.assign left one of this many in dictionary mode, slower to build and to
// serialise.
const toSample = (p: PromptRecord, params: GenParams, c: PooledCompletion): GeneratedSample => ({
  id: p.id,
  ...(p as Omit<PromptRecord, 'id'>),
  text: c.text,
  token_length: c.usage.completion_tokens,
  model: c.model,
  finish_reason: c.finish_reason,
  usage: c.usage,
  gen_params: params,
  engine: c.engine,
  latency_ms: c.latency_ms,
  created_at: new Date().toISOString(),
});

const toFailure = (p: PromptRecord, params: GenParams, e: EngineError, model: string, attempts: number): GeneratedSample => ({
  id: p.id,
  ...(p as Omit<PromptRecord, 'id'>),
  text: '',
  token_length: 0,
  model,
  finish_reason: 'error' as const,
  usage: { prompt_tokens: 0, completion_tokens: 0 },
  gen_params: params,
  engine: '',
  latency_ms: 0,
  created_at: new Date().toISOString(),
  error: e.message,
  error_kind: e.kind,
  attempts,
});

/** What resuming needs of an earlier record: all of a failure, and of a sample its engine and usage (not its text). */
type Finished = Pick<GeneratedSample, 'id' | 'engine' | 'usage' | 'error' | 'error_kind' | 'attempts'>;

const finished = (s: GeneratedSample): Finished => (s.error ? s : { id: s.id, engine: s.engine, usage: s.usage });

/** Totals of what an earlier run already left in the ledger or the shard. */
interface Prior {
  samples: number;
  prompt_tokens: number;
  completion_tokens: number;
  /** Failures that stay failed (final), to count again in this run's stats. */
  failures: Finished[];
  /** Attempts already made on each failure a rerun retries. */
  attempts: Map<string, number>;
  /** Tokens of the samples by the engine that answered: what they cost once the engines' prices are known. */
  usageByEngine: Map<string, { prompt_tokens: number; completion_tokens: number }>;
}

/** Which owned prompts earlier runs finished for good (later records win), and their totals. */
function finishedBefore(latest: ReadonlyMap<string, Finished>, owned: Set<string>, maxAttempts: number): { done: Set<string>; prior: Prior } {
  const done = new Set<string>();
  const prior: Prior = { samples: 0, prompt_tokens: 0, completion_tokens: 0, failures: [], attempts: new Map(), usageByEngine: new Map() };
  for (const [id, s] of latest) {
    if (!owned.has(id)) continue;
    if (s.error && finalReason(s, maxAttempts) === undefined) {
      prior.attempts.set(id, s.attempts ?? 0);
      continue;
    }
    done.add(id);
    if (s.error) prior.failures.push(s);
    else {
      prior.samples++;
      const u = prior.usageByEngine.get(s.engine) ?? { prompt_tokens: 0, completion_tokens: 0 };
      u.prompt_tokens += s.usage.prompt_tokens;
      u.completion_tokens += s.usage.completion_tokens;
      prior.usageByEngine.set(s.engine, u);
    }
    prior.prompt_tokens += s.usage.prompt_tokens;
    prior.completion_tokens += s.usage.completion_tokens;
  }
  return { done, prior };
}

async function* readShardFile(file: string): AsyncGenerator<GeneratedSample> {
  for await (const { text } of readLines(file)) if (text) yield JSON.parse(text) as GeneratedSample;
}

export async function runGenerateTask(g: GenerateConfig, ctx: TaskContext<PromptRecord>): Promise<void> {
  const { rank, outputDir, log } = ctx;
  const finalFile = shardPath(outputDir, rank);
  const ledgerFile = ledgerPath(outputDir, rank);

  // The prompts this task owns, in input order, once each.
  const ids: string[] = [];
  const owned = new Set<string>();
  for await (const p of ctx.input()) {
    if (owned.has(p.id)) {
      ctx.stats.inc('duplicate_prompts');
      continue;
    }
    owned.add(p.id);
    ids.push(p.id);
  }

  // What earlier runs finished: the shard (if a run got that far), then the ledger; later records
  // win. Only what resuming needs is kept of each, not the texts: a ledger may outgrow memory.
  const latest = new Map<string, Finished>();
  if (existsSync(finalFile)) for await (const s of readShardFile(finalFile)) latest.set(s.id, finished(s));
  const checkpoint = Checkpoint.open<GeneratedSample>(ledgerFile, (s) => latest.set(s.id, finished(s)));
  const { done, prior } = finishedBefore(latest, owned, g.max_attempts_total);
  latest.clear();
  for (const s of prior.failures) countFailure(ctx.stats, s, g.max_attempts_total);

  const tracker = new GenerateTracker();
  tracker.total = ids.length;
  tracker.resumed = done.size;
  const metricsBase = { stage: ctx.stage, rank, world_size: ctx.worldSize };
  if (done.size < ids.length) {
    const { pool, close } = await openPool(g, { log, cacheName: `${ctx.stage}-${rank}`, workDir: ctx.workDir, resolve: ctx.corpus.resolve }).catch((err: unknown) => {
      checkpoint.close();
      throw err;
    });
    log.info(done.size ? 'resuming generation' : 'generating', {
      prompts: ids.length,
      resumed: done.size,
      todo: ids.length - done.size,
      engines: pool.engineIds.join(','),
    });
    tracker.priced = pool.engines().some((e) => e.price);
    for (const [engine, usage] of prior.usageByEngine) tracker.earlierCostUsd += costOf(usage, pool.priceOf(engine));
    const progress = startProgress(ctx.options.progress, tracker, () => poolProgress(pool), log);
    // A snapshot every 30 s, so a long task shows its metrics while it runs (and keeps them if killed).
    let metricsWrite = Promise.resolve(); // one write at a time: they share a temporary file name
    const saveMetrics = (m: GenerateMetrics) =>
      (metricsWrite = metricsWrite
        .then(() => writeJsonAtomic(metricsPath(outputDir, rank), m))
        .catch((err: unknown) => log.warn('cannot write metrics', { error: errorMessage(err) })));
    tracker.startTimeline(5000, (n) => {
      if (n % 6 === 0) void saveMetrics(tracker.snapshot({ ...metricsBase, status: 'running' }, poolSnapshot(pool)));
    });

    // Stop on Ctrl-C / scancel, when the ledger cannot be written, or when too many prompts in a row fail for good.
    const run = new AbortController();
    const onAbort = () => run.abort(ctx.signal.reason);
    if (ctx.signal.aborted) onAbort();
    else ctx.signal.addEventListener('abort', onAbort, { once: true });
    let stopError: CosmoError | undefined;
    const stop = (err: CosmoError) => {
      stopError ??= err;
      run.abort(stopError);
    };
    checkpoint.onError = (message) => stop(new CosmoError(`generate task ${rank}: ${message}`));
    let consecutiveFailures = 0;
    checkpoint.onWritten = (records) => {
      for (const s of records) {
        done.add(s.id);
        if (s.error) countFailure(ctx.stats, s, g.max_attempts_total);
        if (!s.error) consecutiveFailures = 0;
        else if (++consecutiveFailures >= g.max_consecutive_failures)
          stop(
            new CosmoError(
              `generate task ${rank}: ${consecutiveFailures} prompts in a row failed for good; last error: ${s.error}\n` +
                `The ${done.size} finished samples are kept in ${ledgerFile}; rerun to retry the rest.`,
            ),
          );
      }
    };

    const check = g.json_schema ? answerChecker(g.json_schema) : undefined;
    const costOfAnswer = (c: PooledCompletion) => (c.cached ? 0 : costOf(c.usage, pool.priceOf(c.engine)));
    /**
     * The answer to `req` and its object, when there is a schema: an answer that is not JSON valid
     * for it is asked for again, fresh (the cache holds the invalid one), up to json_retries times.
     */
    const structuredAnswer = async (req: CompletionRequest, check: AnswerCheck): Promise<{ c: PooledCompletion; structured: Record<string, unknown> }> => {
      let c = await pool.complete(req);
      for (let retry = 0; ; retry++) {
        const checked = check(c.text);
        if (checked.ok) return { c, structured: checked.value };
        tracker.recordInvalid(checked.kind, costOfAnswer(c));
        if (retry >= g.json_retries)
          throw new EngineError(`${c.engine}: after ${retry + 1} answers, none valid; the last is ${checked.message}`, checked.kind === 'not_json' ? 'invalid_json' : 'schema_mismatch', { retryable: false });
        const messages = g.json_feedback ? [...req.messages, { role: 'assistant' as const, content: c.text }, { role: 'user' as const, content: feedbackMessage(checked.message) }] : req.messages;
        c = await pool.complete({ ...req, messages, fresh: true });
      }
    };
    const generateOne = async (p: PromptRecord) => {
      const params = paramsFor(g, p);
      try {
        const req: CompletionRequest = { messages: messagesFor(g, p), params, jsonSchema: g.json_schema, signal: run.signal };
        // Without a schema the pool is asked directly: each async frame on the way is held by every request in flight.
        const { c, structured } = check ? await structuredAnswer(req, check) : { c: await pool.complete(req), structured: undefined };
        tracker.recordSample(c, c.cached, costOfAnswer(c));
        const sample = toSample(p, params, c);
        if (structured) sample.structured = structured;
        checkpoint.add(sample);
      } catch (err) {
        if (run.signal.aborted) return; // not recorded: a rerun asks again
        const e = err instanceof EngineError ? err : new EngineError(errorMessage(err), 'unknown');
        // A refused key is no prompt's fault and will refuse every other prompt too: stop now.
        if (e.kind === 'auth')
          return stop(new CosmoError(`generate: ${e.message}\nThe endpoint refuses the credentials; check its key (the variable named by api_key_env) and run again.`));
        tracker.recordFailure(e.kind);
        checkpoint.add(toFailure(p, params, e, pool.modelKey, (prior.attempts.get(p.id) ?? 0) + (e.opts.attempts ?? 1)));
      }
    };

    let inflight = 0;
    // Keep the pool saturated, and no more: its capacity in flight (engines may join while it
    // runs), plus the requests waiting out a retry's backoff, plus a few ready to take a slot the
    // moment one frees. Twice the capacity, as before, held ~1,000 more requests waiting in line
    // at 1,000 in flight: 3% more CPU a request (their frames outlived young-generation
    // collections) and ~20 MB more memory, for no more requests a second.
    const room = () => inflight < pool.concurrency + pool.backingOff + READY_REQUESTS;
    let wake: (() => void) | undefined;
    const waitUntil = async (ok: () => boolean): Promise<void> => {
      while (!ok()) await new Promise<void>((r) => (wake = r));
    };
    const started = new Set<string>();
    let loopFailed = true;
    // max_cost: each task's equal share. A request starts only if what is spent, what those in flight
    // will likely cost, and it fit; before any answer, a request's likely cost is its most (prompt + max_tokens).
    const budget = g.max_cost === undefined ? undefined : g.max_cost / ctx.worldSize;
    const dearestPrice = dearest(pool.engines(), (e) => e.price)?.price;
    let overBudget: CosmoError | undefined;
    const fits = (p: PromptRecord): boolean => {
      if (budget === undefined || !dearestPrice) return true;
      const likely = tracker.samples ? tracker.costUsd / tracker.samples : costOf({ prompt_tokens: Math.ceil(p.prompt.length / 4), completion_tokens: paramsFor(g, p).max_tokens }, dearestPrice);
      return tracker.earlierCostUsd + tracker.costUsd + (inflight + 1) * likely <= budget;
    };
    try {
      for await (const p of readAgain(ctx)) {
        if (run.signal.aborted) break;
        if (done.has(p.id) || started.has(p.id)) continue;
        started.add(p.id);
        if (!room()) await waitUntil(room);
        if (run.signal.aborted) break;
        // Over the budget: no new request; those in flight finish and reach the ledger (nothing paid
        // for is lost), and if what they really cost leaves room, the run goes on.
        if (!fits(p)) await waitUntil(() => inflight === 0);
        if (!fits(p)) {
          const spent = tracker.earlierCostUsd + tracker.costUsd;
          overBudget = new CosmoError(
            `generate task ${rank}: stopped at generate.max_cost: ${formatUsd(spent)} spent of ${formatUsd(budget!)}` +
              `${ctx.worldSize > 1 ? ` (this task's share of ${formatUsd(g.max_cost!)} over ${ctx.worldSize} tasks)` : ''}; ` +
              `${done.size} of ${ids.length} prompts are done and kept. Raise generate.max_cost (or remove it) and run the same command again to go on.`,
          );
          break;
        }
        inflight++;
        void generateOne(p).finally(() => {
          inflight--;
          const w = wake;
          wake = undefined;
          w?.();
        });
      }
      loopFailed = false;
    } finally {
      // Whatever ended the loop, answers that already arrived reach the ledger before it closes.
      if (loopFailed) run.abort(new CosmoError('generate: reading prompts failed'));
      await waitUntil(() => inflight === 0);
      ctx.signal.removeEventListener('abort', onAbort);
      progress.stop();
      await close();
      checkpoint.close();
    }
    const interrupted = stopError ?? overBudget ?? (ctx.signal.aborted ? ctx.signal.reason : undefined);
    const status = interrupted ? (stopError ? 'failed' : 'interrupted') : 'complete';
    await saveMetrics(tracker.finish({ ...metricsBase, status }, poolSnapshot(pool)));
    if (interrupted) throw interrupted;
  } else {
    checkpoint.close();
    // Nothing left to generate (an earlier run finished but was stopped before its marker): keep its metrics.
    if (!existsSync(metricsPath(outputDir, rank)))
      await writeJsonAtomic(metricsPath(outputDir, rank), tracker.finish({ ...metricsBase, status: 'complete' }, { errorsByKind: {}, attempts: 0, retries: 0, engines: [] }));
  }

  await writeFinalShard(ids, finalFile, ledgerFile, ctx.output);

  const s = ctx.stats;
  s.inc('prompts', ids.length);
  s.inc('samples', prior.samples + tracker.samples);
  s.inc('failed', 0); // counted as they were written; always shown
  s.inc('prompt_tokens', prior.prompt_tokens + tracker.promptTokens);
  s.inc('completion_tokens', prior.completion_tokens + tracker.completionTokens);
  // Tokens generated by this run alone: what its speed is measured on.
  s.inc('generated_tokens', tracker.completionTokens);
  s.inc('cached', tracker.cached);
  s.inc('resumed', tracker.resumed);
  log.info('generated', {
    samples: prior.samples + tracker.samples,
    failed: s.get('failed'),
    resumed: tracker.resumed,
    cached: tracker.cached,
    shard: finalFile,
  });
}

/** The second pass over the input: its records were checked (and bad ones counted) in the first. */
/** Requests kept ready beyond the pool's capacity, to take a slot the moment one frees. */
const READY_REQUESTS = 64;

async function* readAgain(ctx: TaskContext<PromptRecord>): AsyncGenerator<PromptRecord> {
  const counted = ctx.stats.get('bad_lines');
  yield* ctx.input();
  ctx.stats.inc('bad_lines', counted - ctx.stats.get('bad_lines'));
  if (counted === 0) delete ctx.stats.counters['bad_lines'];
}

/** One line per kind of failure: how many, an example, and why it is final when it is. */
export function failureSummary(stats: Stats): string {
  return Object.entries(stats.counters)
    .filter(([k]) => k.startsWith('failed.'))
    .sort((a, b) => b[1] - a[1])
    .map(([k, n]) => {
      const kind = k.slice('failed.'.length);
      const final = stats.notes[`final.${kind}`];
      return `  ${kind} x${n}${final ? ` (final: ${final})` : ''}: ${stats.notes[k] ?? ''}`;
    })
    .join('\n');
}

const poolSnapshot = (pool: { errorsByKind: Record<string, number>; attempts: number; retries: number; metrics(): EngineMetrics[] }) => ({
  errorsByKind: pool.errorsByKind,
  attempts: pool.attempts,
  retries: pool.retries,
  engines: pool.metrics(),
});

const ID_PREFIX = Buffer.from('{"id":"');

/** The id of a sample's JSON line; cheap for the lines this stage writes, which start with the id. */
function lineId(line: Buffer): string {
  if (line.subarray(0, ID_PREFIX.length).equals(ID_PREFIX)) {
    const end = line.indexOf(0x22, ID_PREFIX.length);
    const id = line.toString('utf8', ID_PREFIX.length, end);
    if (end > 0 && !id.includes('\\')) return id;
  }
  return (JSON.parse(line.toString('utf8')) as { id: string }).id;
}

/**
 * One line per prompt, in input order: the latest record for each id from the old shard and the
 * ledger. Lines are moved as bytes, never decoded: this pass touches every byte the task wrote.
 * Only where each line lies is held, not the lines: a task's ledger can outgrow memory, and reading
 * it whole into fresh memory cost more in page faults than the reading (~11 us a 4 KB page here).
 * The ledger goes once the shard is committed (by the runner); until then a crash keeps both.
 */
async function writeFinalShard(ids: string[], finalFile: string, ledgerFile: string, writer: JsonlWriter): Promise<void> {
  const slots = new Map(ids.map((id, i) => [id, i]));
  // Per prompt: which file holds its latest line (-1: none yet), where, and how long.
  const fileOf = new Int8Array(ids.length).fill(-1);
  const at = new Float64Array(ids.length);
  const length = new Int32Array(ids.length);
  const files = [finalFile, ledgerFile].filter((f) => existsSync(f));
  files.forEach((file, f) =>
    forEachLineSync(file, (line, offset) => {
      const slot = line.length ? slots.get(lineId(line)) : undefined;
      if (slot === undefined) return;
      fileOf[slot] = f;
      at[slot] = offset;
      length[slot] = line.length + 1;
    }),
  );
  const fds = files.map((f) => openSync(f, 'r'));
  try {
    // Lines are read into one reused buffer and written from it a buffer's worth at a time.
    let buf = Buffer.allocUnsafe(1 << 22);
    let used = 0;
    let lines: Buffer[] = [];
    for (const id of ids) {
      const slot = slots.get(id)!;
      const f = fileOf[slot]!;
      if (f < 0) throw new CosmoError(`generate: prompt ${id} has no sample in ${ledgerFile}; rerun to generate it`);
      const n = length[slot]!;
      if (used + n > buf.length) {
        await writer.writeLines(lines);
        lines = [];
        used = 0;
        if (n > buf.length) buf = Buffer.allocUnsafe(n);
      }
      if (!readFully(fds[f]!, buf, used, n, at[slot]!)) throw new CosmoError(`generate: ${files[f]} was cut short while the shard was being written`);
      lines.push(buf.subarray(used, used + n));
      used += n;
    }
    await writer.writeLines(lines);
  } finally {
    for (const fd of fds) closeSync(fd);
  }
  writer.onCommit(() => rmSync(ledgerFile, { force: true }));
}

/** generate: every prompt of the task becomes exactly one Sample, through the engine pool. */
export const generateStage = defineStage({
  name: 'generate',
  key: 'generate',
  schema: generateSchema.prefault({}),
  description: 'generate a sample for every prompt, resuming after any crash',
  input: { records: PROMPT_RECORD, ownProgress: true },
  output: SAMPLE_RECORD,
  // The models shape the text; their addresses, keys, retries and timeouts do not.
  settings: (g) => ({
    params: g.params,
    max_tokens_by_format: g.max_tokens_by_format,
    system_prompt: g.system_prompt,
    json_schema: g.json_schema,
    // Only with a schema: corpora without one keep the settings they were made with.
    ...(g.json_schema ? { json_retries: g.json_retries, json_feedback: g.json_feedback } : {}),
    models: poolModels(g.engines),
  }),
  enabled: () => true,
  tasks: (g) => g.tasks,
  // A finished task whose failures a retry may fix runs again: only those prompts are asked again.
  rerun: (_g, marker) => (marker.stats.counters['retryable'] ?? 0) > 0,
  async finalize(g, ctx) {
    // The columns a valid answer fills, for export (which reads this file, not generate's settings).
    const columnsFile = join(ctx.outputDir, STRUCTURED_COLUMNS_FILE);
    if (g.json_schema) await writeJsonAtomic(columnsFile, structuredColumns(g.json_schema));
    else rmSync(columnsFile, { force: true });
    const c = ctx.stats.counters;
    const failed = c['failed'] ?? 0;
    if (failed === 0) return;
    const prompts = c['prompts'] ?? 0;
    const retryable = c['retryable'] ?? 0;
    const message =
      `${failed} of ${prompts} prompts failed:\n${failureSummary(ctx.stats)}\n` +
      (retryable
        ? `${retryable} of them will be asked again when you run the same command again; the others are final.`
        : 'Each of them is final (the reason is given above): running again will not retry them.');
    if ((c['samples'] ?? 0) === 0) throw new CosmoError(`generate: no sample was generated. ${message}`);
    if (failed / Math.max(1, prompts) > g.max_failed_share)
      throw new CosmoError(`generate: ${message}\nThat is more than generate.max_failed_share (${g.max_failed_share}) of the prompts, so the run stops here.`);
    ctx.log.warn(`${message.replace(/\n/g, ' ')}`);
  },
  async check(g, corpus) {
    for (const e of resolveEngines(g, corpus.resolve)) {
      if (e.type === 'embedded' && !e.model.startsWith('hf:') && !existsSync(e.model))
        throw new CosmoError(`generate: model file not found: ${e.model} (pass a .gguf file, or hf:owner/repo/file.gguf)`);
      // A server kind given in the config is checked now; one found out is checked at its first request.
      if (e.type !== 'openai' || !e.server || e.server === 'auto') continue;
      const problems = paramProblems(e.server, g.params);
      if (problems.length) throw new CosmoError(`generate.params: the ${e.server} server at ${e.base_url} would refuse them: ${problems.join('; ')}`);
    }
    if (g.endpoints_file) readEndpointsFile(corpus.resolve(g.endpoints_file));
  },
  runTask: runGenerateTask,
});

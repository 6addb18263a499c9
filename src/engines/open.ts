import { readFileSync, statSync } from 'node:fs';
import { get as httpGet } from 'node:http';
import { get as httpsGet } from 'node:https';
import { isAbsolute, join, resolve } from 'node:path';
import { CosmoError, errorMessage } from '../util/errors.js';
import type { Logger } from '../util/log.js';
import { RequestCache, requestCacheDir } from './cache.js';
import { endpointsFileSchema, type EngineConfig, type PoolConfig } from './config.js';
import { createEngine } from './create.js';
import { endpointId } from './openai.js';
import { EnginePool, type PoolOptions, type PoolPolicy } from './pool.js';

/** Makes a path from the config absolute (against the corpus file's folder). */
export type Resolve = (path: string) => string;
const asIs: Resolve = (p) => (isAbsolute(p) ? p : resolve(p));

/** Read and validate the endpoints file `cosmo serve` writes. Errors name the file. */
export function readEndpointsFile(file: string): EngineConfig[] {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new CosmoError(`endpoints file ${file} does not exist; start servers with \`cosmo serve\` first`);
    throw new CosmoError(`endpoints file ${file}: ${code ?? (err as Error).message}`);
  }
  const parsed = endpointsFileSchema.safeParse(raw);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `  ${file}  ${i.path.map(String).join('.') || '(top level)'}: ${i.message}`);
    throw new CosmoError(`endpoints file ${file} is invalid\n${problems.join('\n')}`);
  }
  return parsed.data.endpoints.map((e) => ({ type: 'openai', ...e }));
}

/** A pool's engines: the configured ones, plus those of the endpoints file. Local model paths become absolute. */
export function resolveEngines(cfg: Pick<PoolConfig, 'engines' | 'endpoints_file'>, resolvePath: Resolve = asIs): EngineConfig[] {
  const engines = cfg.engines.map((e) => (e.type === 'embedded' && !e.model.startsWith('hf:') ? { ...e, model: resolvePath(e.model) } : e));
  if (cfg.endpoints_file) engines.push(...readEndpointsFile(resolvePath(cfg.endpoints_file)));
  return engines;
}

/** The pool's retry, timeout and breaker settings. */
export function poolPolicy(g: PoolConfig): PoolPolicy {
  return {
    maxAttempts: g.retry.max_attempts,
    timeoutMs: g.timeout_s * 1000,
    backoffMs: g.retry.backoff_ms,
    maxBackoffMs: g.retry.max_backoff_ms,
    breakerFailures: g.breaker.failures,
    breakerCooldownMs: g.breaker.cooldown_s * 1000,
    maxOutageMs: g.breaker.max_outage_s * 1000,
  };
}

/**
 * The model an OpenAI-compatible endpoint serves, from its `/models` (vLLM, TGI, SGLang and
 * llama.cpp server all list it): so that `--endpoint` works without `--endpoint-model`. An endpoint
 * serving several models, or none, or not answering, is an error that says what to do.
 */
export function servedModel(baseUrl: string, timeoutMs = 10_000): Promise<string> {
  const url = `${baseUrl.replace(/\/$/, '')}/models`;
  const get = url.startsWith('https:') ? httpsGet : httpGet;
  const fail = (why: string) => new CosmoError(`cannot tell which model ${url} serves (${why}); name it with --endpoint-model`);
  return new Promise((resolve, reject) => {
    const req = get(url, { timeout: timeoutMs }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        if (res.statusCode !== 200) return reject(fail(`HTTP ${res.statusCode}`));
        let ids: string[];
        try {
          ids = ((JSON.parse(Buffer.concat(chunks).toString('utf8')) as { data?: { id?: unknown }[] }).data ?? []).map((m) => String(m.id));
        } catch {
          return reject(fail('its answer is not a model list'));
        }
        if (ids.length === 1) resolve(ids[0]!);
        else reject(fail(ids.length ? `it serves ${ids.join(', ')}` : 'it lists none'));
      });
    });
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs / 1000} s`)));
    req.on('error', (err: NodeJS.ErrnoException) => reject(fail(err.code ?? err.message)));
  });
}

/** Why an OpenAI-compatible endpoint cannot be reached at all, or undefined when it answers (any HTTP status). */
export function probeEndpoint(baseUrl: string, timeoutMs = 5000): Promise<string | undefined> {
  const url = `${baseUrl.replace(/\/$/, '')}/models`;
  // node:http rather than fetch: fetch refuses some ports (6000, 6665, …) that servers may well use.
  const get = url.startsWith('https:') ? httpsGet : httpGet;
  return new Promise((resolve) => {
    const req = get(url, { timeout: timeoutMs }, (res) => {
      res.resume();
      resolve(undefined);
    });
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs / 1000} s`)));
    req.on('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
  });
}

/**
 * Before the first request: an endpoint that cannot be reached at all is most often a typo or a
 * server not started, so when no engine is reachable, stop at once and say which and why. Outages
 * that start later are the breaker's job.
 */
async function checkReachable(engines: EngineConfig[], log: Logger): Promise<void> {
  const http = engines.filter((e) => e.type === 'openai');
  const down = (await Promise.all(http.map(async (e) => ({ id: endpointId(e.base_url), why: await probeEndpoint(e.base_url) })))).filter(
    (d) => d.why !== undefined,
  );
  if (down.length === 0) return;
  if (down.length === engines.length)
    throw new CosmoError(
      `no engine can be reached:\n${down.map((d) => `  ${d.id}: ${d.why}`).join('\n')}\n` +
        `Check the URL (--endpoint, generate.engines[].base_url or the endpoints file) and that the server is running.`,
    );
  for (const d of down) log.warn('endpoint unreachable at start; generating with the others, it rejoins when it answers', { engine: d.id, error: d.why });
}

export interface OpenPoolOptions extends Partial<PoolOptions> {
  log: Logger;
  /** Names this user's request cache file (e.g. `generate-0`, `judge-3`). */
  cacheName: string;
  /** The corpus output folder; the request cache lives under its `.cosmo/`. */
  workDir: string;
  /** Makes config paths (models, the endpoints file) absolute. */
  resolve?: Resolve;
}

export interface OpenedPool {
  pool: EnginePool;
  cache: RequestCache | undefined;
  close(): Promise<void>;
}

/**
 * The engine pool a pool config describes, with its request cache (when `cache` is on) writing to
 * `<workDir>/.cosmo/request-cache/<cacheName>.cache`. Every stage that needs an LLM opens its pool
 * here, each with its own `cacheName`. While the pool is open, endpoints that appear in the
 * endpoints file join it.
 */
export async function openPool(cfg: PoolConfig, opts: OpenPoolOptions): Promise<OpenedPool> {
  const resolvePath = opts.resolve ?? asIs;
  const cache = cfg.cache ? RequestCache.open(requestCacheDir(opts.workDir), opts.cacheName) : undefined;
  let pool: EnginePool;
  try {
    const engines = resolveEngines(cfg, resolvePath);
    await checkReachable(engines, opts.log);
    pool = await EnginePool.create(engines, { ...poolPolicy(cfg), ...opts, cache, batchState: join(opts.workDir, '.cosmo', 'batches', `${opts.cacheName}.jsonl`) });
  } catch (err) {
    cache?.close();
    throw err;
  }
  const stopWatching = watchEndpoints(cfg, resolvePath, pool, opts.log);
  return {
    pool,
    cache,
    async close() {
      stopWatching();
      await pool.close();
      cache?.close();
    },
  };
}

/** Re-read the endpoints file when it changes, and add the endpoints the pool does not have yet. */
function watchEndpoints(g: PoolConfig, resolvePath: Resolve, pool: EnginePool, log: Logger): () => void {
  if (!g.endpoints_file || g.endpoints_refresh_s <= 0) return () => {};
  const file = resolvePath(g.endpoints_file);
  let seen = mtimeOf(file);
  let busy = false;
  const timer = setInterval(() => {
    const mtime = mtimeOf(file);
    if (busy || mtime === seen) return;
    seen = mtime;
    busy = true;
    void (async () => {
      try {
        const known = new Set(pool.engineIds);
        for (const e of readEndpointsFile(file)) {
          if (e.type === 'openai' && !known.has(endpointId(e.base_url))) pool.add(await createEngine(e, { log }));
        }
      } catch (err) {
        log.warn('cannot refresh endpoints', { file, error: errorMessage(err) });
      } finally {
        busy = false;
      }
    })();
  }, g.endpoints_refresh_s * 1000);
  timer.unref();
  return () => clearInterval(timer);
}

const mtimeOf = (file: string): number => {
  try {
    return statSync(file).mtimeMs;
  } catch {
    return 0;
  }
};

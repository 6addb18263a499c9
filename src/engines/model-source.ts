/**
 * Where a model file comes from: a local path, or `hf:owner/repo/path/file.gguf`, downloaded once
 * from the Hugging Face Hub into a cache folder.
 *
 * A download streams into a temporary file that is renamed into place only when every byte has
 * arrived, so a killed or broken transfer never leaves a file that looks like a model.
 */
import { randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, open, rename, rm, stat, utimes } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { ByteProgress } from '../util/byte-progress.js';
import { CosmoError, errorMessage } from '../util/errors.js';
import { registerSecret } from '../util/redact.js';
import { silentLogger, type Logger } from '../util/log.js';
import { sleep } from '../util/sleep.js';

export interface HfModelRef {
  owner: string;
  repo: string;
  /** Path of the file inside the repository (may contain folders). */
  file: string;
}

export interface DownloadProgress {
  bytes: number;
  /** From Content-Length; undefined when the server does not say. */
  total?: number;
}

export interface ModelSourceOptions {
  /** Where hf: models are cached. Default: `$COSMO_CACHE/models`, else `~/.cache/cosmo/models`. */
  cacheDir?: string;
  log?: Logger;
  /** Called as bytes arrive. */
  onProgress?: (p: DownloadProgress) => void;
  /** 'bar' draws a progress bar (on a TTY), 'lines' logs now and then. Default: bar on a TTY, else lines. */
  progress?: 'bar' | 'lines' | 'none';
  signal?: AbortSignal;
  /** How long to wait for the server to answer before deciding there is no network. */
  connectTimeoutMs?: number;
  /** Give up when no byte arrives for this long mid-transfer. */
  stallTimeoutMs?: number;
}

/** `hf:owner/repo/path/file.gguf` -> its parts; undefined for anything else (a local path). */
export function parseHfUri(spec: string): HfModelRef | undefined {
  if (!spec.startsWith('hf:')) return undefined;
  const parts = spec.slice(3).replace(/^\/+/, '').split('/');
  if (parts.length < 3 || parts.some((p) => p === '' || p === '.' || p === '..')) {
    throw new CosmoError(`bad model "${spec}": expected hf:owner/repo/path/to/file.gguf`);
  }
  const [owner, repo, ...file] = parts as [string, string, ...string[]];
  return { owner, repo, file: file.join('/') };
}

export function defaultModelCacheDir(): string {
  return process.env.COSMO_CACHE ? join(process.env.COSMO_CACHE, 'models') : join(homedir(), '.cache', 'cosmo', 'models');
}

export function hfEndpoint(): string {
  return (process.env.COSMO_HF_ENDPOINT ?? 'https://huggingface.co').replace(/\/+$/, '');
}

export function hfResolveUrl(ref: HfModelRef): string {
  const enc = (s: string) => s.split('/').map(encodeURIComponent).join('/');
  return `${hfEndpoint()}/${enc(ref.owner)}/${enc(ref.repo)}/resolve/main/${enc(ref.file)}`;
}

/** Path of the local model file for `spec`, downloading an hf: model into the cache first if needed. */
export async function resolveModelPath(spec: string, opts: ModelSourceOptions = {}): Promise<string> {
  const ref = parseHfUri(spec);
  if (!ref) return resolve(spec);
  const dest = join(opts.cacheDir ?? defaultModelCacheDir(), ref.owner, ref.repo, ref.file);
  // Several worker processes may ask for the same model at once: one downloads, the others wait for it.
  const lock = `${dest}.lock`;
  let waiting = false;
  for (;;) {
    if (await isFile(dest)) return dest;
    await mkdir(dirname(dest), { recursive: true });
    const held = await open(lock, 'wx').catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'EEXIST') return undefined;
      throw new CosmoError(`cannot write to the model cache ${dirname(dest)}: ${err.message}`);
    });
    if (held) {
      await held.close();
      // Heartbeat: a lock that stops being touched belongs to a process that died.
      const heartbeat = setInterval(() => {
        const now = new Date();
        utimes(lock, now, now).catch(() => {});
      }, HEARTBEAT_MS).unref();
      try {
        if (await isFile(dest)) return dest;
        await downloadHfModel(spec, ref, dest, opts);
        return dest;
      } finally {
        clearInterval(heartbeat);
        await rm(lock, { force: true });
      }
    }
    if (!waiting) (opts.log ?? silentLogger).info('another process is downloading the model; waiting', { model: spec });
    waiting = true;
    // A lock without a heartbeat belongs to a download that was killed: take it over.
    const age = await stat(lock).then((s) => Date.now() - s.mtimeMs, () => 0);
    if (age > STALE_LOCK_MS) await rm(lock, { force: true });
    else await pause(LOCK_POLL_MS, opts.signal);
  }
}

const HEARTBEAT_MS = 2_000;
const STALE_LOCK_MS = 15_000;
const LOCK_POLL_MS = 250;

/** Wait between lock polls; a cancelled wait means a cancelled download. */
const pause = (ms: number, signal?: AbortSignal): Promise<void> =>
  sleep(ms, signal).catch(() => {
    throw new CosmoError('model download cancelled');
  });

async function isFile(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isFile();
  } catch {
    return false;
  }
}

export function offlineMessage(spec: string, url: string, why: string): string {
  return (
    `cannot download ${spec} from ${url} (${why}; no network?). ` +
    'Pass a local model with --model PATH.gguf (or generate.engines[].model), or an endpoint with --endpoint URL; ' +
    'to smoke-test a config without a model: cosmo debug tiny-model tiny.gguf && cosmo run corpus.yaml --model tiny.gguf'
  );
}

function errorCode(err: unknown): string | undefined {
  // fetch wraps the socket error: TypeError('fetch failed', {cause: {code}}), sometimes nested once more.
  let e: unknown = err;
  for (let i = 0; i < 3 && e && typeof e === 'object'; i++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string') return code;
    e = (e as { cause?: unknown }).cause;
  }
  return undefined;
}

async function downloadHfModel(spec: string, ref: HfModelRef, dest: string, opts: ModelSourceOptions): Promise<void> {
  const log = opts.log ?? silentLogger;
  const url = hfResolveUrl(ref);
  const headers: Record<string, string> = { 'user-agent': 'cosmo' };
  registerSecret(process.env.HF_TOKEN);
  if (process.env.HF_TOKEN) headers.authorization = `Bearer ${process.env.HF_TOKEN}`; // never logged
  const abort = new AbortController();
  const onOuterAbort = () => abort.abort(opts.signal?.reason);
  opts.signal?.addEventListener('abort', onOuterAbort, { once: true });
  const connectTimeout = setTimeout(() => abort.abort(new Error('timeout')), opts.connectTimeoutMs ?? 15_000);
  let res: Response;
  try {
    res = await fetch(url, { headers, signal: abort.signal, redirect: 'follow' });
  } catch (err) {
    opts.signal?.removeEventListener('abort', onOuterAbort);
    if (opts.signal?.aborted) throw new CosmoError(`download of ${spec} cancelled`);
    const why = abort.signal.aborted ? `no answer within ${Math.round((opts.connectTimeoutMs ?? 15_000) / 1000)} s` : (errorCode(err) ?? errorMessage(err));
    throw new CosmoError(offlineMessage(spec, url, why), { cause: err });
  } finally {
    clearTimeout(connectTimeout);
  }
  if (!res.ok || !res.body) {
    opts.signal?.removeEventListener('abort', onOuterAbort);
    await res.body?.cancel().catch(() => {});
    const hint =
      res.status === 401 || res.status === 403
        ? ' (a gated or private repository: set HF_TOKEN to a token that may read it)'
        : res.status === 404
          ? ' (check the owner, repository and file name)'
          : '';
    throw new CosmoError(`cannot download ${spec}: HTTP ${res.status} from ${url}${hint}`);
  }

  const lengthHeader = res.headers.get('content-length');
  const total = lengthHeader ? Number(lengthHeader) : undefined;
  const progress = new ByteProgress(spec, total, { mode: opts.progress, log, doing: 'downloading model', field: 'model' });
  log.info('downloading model', { model: spec, url, bytes: total, to: dest });
  await mkdir(dirname(dest), { recursive: true });
  const tmp = `${dest}.download-${process.pid}-${randomBytes(4).toString('hex')}`;
  let bytes = 0;
  let stall: NodeJS.Timeout | undefined;
  const armStall = () => {
    clearTimeout(stall);
    stall = setTimeout(() => abort.abort(new Error('stalled')), opts.stallTimeoutMs ?? 60_000);
  };
  try {
    armStall();
    const body = Readable.fromWeb(res.body as import('node:stream/web').ReadableStream<Uint8Array>);
    body.on('data', (chunk: Buffer) => {
      bytes += chunk.length;
      armStall();
      opts.onProgress?.({ bytes, total });
      progress.update(bytes);
    });
    await pipeline(body, createWriteStream(tmp));
    if (total !== undefined && bytes !== total) throw new Error(`got ${bytes} of ${total} bytes`);
    await rename(tmp, dest);
  } catch (err) {
    await rm(tmp, { force: true });
    if (opts.signal?.aborted) throw new CosmoError(`download of ${spec} cancelled`);
    const reason = abort.signal.aborted ? `no data for ${Math.round((opts.stallTimeoutMs ?? 60_000) / 1000)} s` : errorMessage(err);
    const code = errorCode(err);
    throw new CosmoError(
      `download of ${spec} from ${url} was interrupted after ${bytes}${total ? ` of ${total}` : ''} bytes (${code ?? reason}); ` +
        'nothing was kept: run again to retry',
      { cause: err },
    );
  } finally {
    clearTimeout(stall);
    progress.stop();
    opts.signal?.removeEventListener('abort', onOuterAbort);
  }
  log.info('model downloaded', { model: spec, bytes, path: dest });
}

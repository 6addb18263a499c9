/**
 * `cosmo push` as a library: the exported dataset (Parquet or JSONL.gz shards, the card, the
 * decontamination report) to a Hugging Face Hub dataset repo, with `@huggingface/hub`.
 *
 * The repo is created private unless asked otherwise (an existing one keeps its visibility), on the
 * branch given (created from main when missing). Files go up in commits of bounded size, the card
 * last, so a dataset on the Hub is never described before its data is there. A local manifest
 * (`<export>/.push/<repo>@<branch>.json`) records each committed file with its size and time; a
 * rerun after an interruption commits only what is missing, and a file already uploaded but not
 * yet committed is not sent again (the Hub's LFS/xet store knows its hash). The token is registered
 * as a secret: no log line, error or file written here carries it.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { commitIter, createBranch, createRepo, HubApiError, type CommitOutput, type CommitProgressEvent } from '@huggingface/hub';
import { writeJsonAtomic } from '../io/atomic.js';
import { ByteProgress } from '../util/byte-progress.js';
import { CosmoError, errorMessage } from '../util/errors.js';
import { silentLogger, type Logger } from '../util/log.js';
import { registerSecret } from '../util/redact.js';

export const DEFAULT_HUB = 'https://huggingface.co';

export interface PushOptions {
  /** The corpus output folder (its `export/` is pushed) or an export folder. */
  dir: string;
  /** `user/name` or `org/name`. */
  repo: string;
  /** Branch to commit to; created from main when missing. Default main. */
  revision?: string;
  /** Visibility of a repo this push creates (default private). */
  private?: boolean;
  token: string;
  /** The Hub (HF_ENDPOINT), e.g. a private Hub or the test stand-in. */
  hubUrl?: string;
  /** A commit holds at most this many files… */
  partFiles?: number;
  /** …and this many bytes. */
  partBytes?: number;
  message?: string;
  progress?: 'bar' | 'lines' | 'none';
  log?: Logger;
  signal?: AbortSignal;
}

export interface PushResult {
  url: string;
  /** Repo paths committed by this push, and those the manifest said were there already. */
  committed: string[];
  skipped: string[];
  commits: number;
}

interface LocalFile {
  local: string;
  path: string;
  size: number;
  mtime: number;
}

interface Manifest {
  hub: string;
  repo: string;
  revision: string;
  files: Record<string, { size: number; mtime: number; commit: string }>;
}

/** The export folder of `dir`, and what goes to the Hub from it: data shards, then the card and reports. */
export function pushFiles(dir: string): { exportDir: string; data: LocalFile[]; meta: LocalFile[] } {
  const exportDir = existsSync(join(dir, 'export', 'README.md')) ? join(dir, 'export') : dir;
  if (!existsSync(join(exportDir, 'README.md'))) throw new CosmoError(`no exported dataset in ${dir} (no README.md card there or in its export/): run cosmo export first`);
  const file = (local: string, path: string): LocalFile => {
    const st = statSync(local);
    return { local, path, size: st.size, mtime: st.mtimeMs };
  };
  const data = readdirSync(exportDir)
    .filter((f) => f.endsWith('.parquet') || f.endsWith('.jsonl.gz'))
    .sort()
    .map((f) => file(join(exportDir, f), f));
  if (data.length === 0) throw new CosmoError(`no Parquet or JSONL.gz shards in ${exportDir}`);
  const report = join(exportDir, '..', 'decontaminate', 'report.md');
  const meta = [file(join(exportDir, 'README.md'), 'README.md'), ...(existsSync(report) ? [file(report, 'reports/decontamination.md')] : [])];
  return { exportDir, data, meta };
}

/** Files in commits of at most `files` files and `bytes` bytes (a bigger file is a commit alone). */
function parts(files: LocalFile[], maxFiles: number, maxBytes: number): LocalFile[][] {
  const out: LocalFile[][] = [];
  let part: LocalFile[] = [];
  let bytes = 0;
  for (const f of files) {
    if (part.length && (part.length >= maxFiles || bytes + f.size > maxBytes)) {
      out.push(part);
      part = [];
      bytes = 0;
    }
    part.push(f);
    bytes += f.size;
  }
  if (part.length) out.push(part);
  return out;
}

/** A Hub error as a message: the status and the Hub's words, naming the endpoint. */
function hubError(what: string, err: unknown): CosmoError {
  if (err instanceof HubApiError) return new CosmoError(`${what}: the Hub answered ${err.statusCode}: ${err.message}`, { cause: err });
  return new CosmoError(`${what}: ${errorMessage(err)}`, { cause: err });
}

export async function pushDataset(opts: PushOptions): Promise<PushResult> {
  const log = opts.log ?? silentLogger;
  const hubUrl = (opts.hubUrl ?? DEFAULT_HUB).replace(/\/+$/, '');
  const revision = opts.revision ?? 'main';
  if (!/^[\w.-]+\/[\w.-]+$/.test(opts.repo)) throw new CosmoError(`--repo must be owner/name, not "${opts.repo}"`);
  // Registered before any call: whatever an error says, the token is redacted from it.
  registerSecret(opts.token);
  if (!opts.token.startsWith('hf_')) throw new CosmoError('the Hub token does not look like one (Hugging Face tokens start with hf_)');
  const { exportDir, data, meta } = pushFiles(resolve(opts.dir));
  const repo = { type: 'dataset' as const, name: opts.repo };
  const common = { hubUrl, accessToken: opts.token };

  try {
    await createRepo({ ...common, repo, private: opts.private ?? true });
    log.info('created the dataset repo', { repo: opts.repo, private: opts.private ?? true });
  } catch (err) {
    if (!(err instanceof HubApiError && err.statusCode === 409)) throw hubError(`cannot create dataset repo ${opts.repo} on ${hubUrl}`, err);
    log.info('the dataset repo exists: its visibility is left as it is', { repo: opts.repo });
  }
  if (revision !== 'main') {
    try {
      await createBranch({ ...common, repo, branch: revision });
      log.info('created the branch', { branch: revision });
    } catch (err) {
      if (!(err instanceof HubApiError && err.statusCode === 409)) throw hubError(`cannot create branch ${revision} of ${opts.repo}`, err);
    }
  }

  const manifestFile = join(exportDir, '.push', `${opts.repo.replace('/', '__')}@${revision}.json`);
  let manifest: Manifest = { hub: hubUrl, repo: opts.repo, revision, files: {} };
  if (existsSync(manifestFile)) {
    const old = JSON.parse(readFileSync(manifestFile, 'utf8')) as Manifest;
    // Another Hub (a private one, a mirror) has none of these files.
    if (old.hub === hubUrl) manifest = old;
  }
  const done = (f: LocalFile) => {
    const m = manifest.files[f.path];
    return m !== undefined && m.size === f.size && m.mtime === f.mtime;
  };
  const all = [...data, ...meta];
  const skipped = all.filter(done).map((f) => f.path);
  // The card and reports come last, in a commit of their own: the data is there before the card says it is.
  const todo = [...parts(data.filter((f) => !done(f)), opts.partFiles ?? 50, opts.partBytes ?? 10e9), ...(meta.some((f) => !done(f)) ? [meta] : [])];
  const url = `${hubUrl}/datasets/${opts.repo}${revision === 'main' ? '' : `/tree/${revision}`}`;
  if (todo.length === 0) {
    log.info('everything is on the Hub already', { repo: opts.repo, files: skipped.length });
    return { url, committed: [], skipped, commits: 0 };
  }
  if (skipped.length) log.info('files committed by an earlier push are skipped', { files: skipped.length });

  const total = todo.flat().reduce((n, f) => n + f.size, 0);
  const progress = new ByteProgress(opts.repo, total, { mode: opts.progress, log, doing: 'uploading', field: 'repo' });
  const committed: string[] = [];
  let sent = 0;
  try {
    for (const [i, part] of todo.entries()) {
      opts.signal?.throwIfAborted();
      const sizes = new Map(part.map((f) => [f.path, f.size]));
      const fraction = new Map<string, number>();
      const title = `${opts.message ?? 'Upload dataset with cosmo'}${todo.length > 1 ? ` (part ${i + 1} of ${todo.length})` : ''}`;
      const it = commitIter({
        ...common,
        repo,
        branch: revision,
        title,
        operations: part.map((f) => ({ operation: 'addOrUpdate' as const, path: f.path, content: pathToFileURL(f.local) })),
        abortSignal: opts.signal,
      });
      let step: IteratorResult<CommitProgressEvent, CommitOutput | undefined>;
      try {
        while (!(step = await it.next()).done) {
          const e = step.value;
          if (e.event === 'fileProgress' && e.state === 'uploading') {
            fraction.set(e.path, e.progress);
            progress.update(sent + [...fraction].reduce((n, [p, x]) => n + x * (sizes.get(p) ?? 0), 0));
          }
        }
      } catch (err) {
        if (opts.signal?.aborted) throw err;
        throw hubError(`push of ${part.length} file(s) to ${opts.repo} (part ${i + 1} of ${todo.length}) failed; what was committed before stays, run again to go on`, err);
      }
      sent += part.reduce((n, f) => n + f.size, 0);
      progress.update(sent);
      const commit = step.value?.commit.oid ?? '';
      for (const f of part) manifest.files[f.path] = { size: f.size, mtime: f.mtime, commit };
      await writeJsonAtomic(manifestFile, manifest);
      committed.push(...part.map((f) => f.path));
      log.info('committed', { part: i + 1, of: todo.length, files: part.length, commit });
    }
  } finally {
    progress.stop();
  }
  return { url, committed, skipped, commits: todo.length };
}

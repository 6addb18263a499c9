import { statSync } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import { byteBatches } from '../io/lines.js';
import type { TaskContext } from '../exec/stage.js';
import type { JsonlWriter } from '../io/jsonl-writer.js';
import { CosmoError, InputError } from '../util/errors.js';
import type { SignaturePool } from './pool.js';
import type { SignatureBuilder } from './signatures.js';
import { pipelined } from '../util/pipelined.js';

/**
 * The one-pass dedup stage's two passes over JSONL input with a signature pool. The main thread
 * only cuts the files into batches of whole lines (at newline bytes, never decoding them) and
 * writes the output bytes that come back; the worker threads decode, parse, hash and serialise.
 * Each line is handled as io/jsonl.ts's readJsonl and the single-thread stage handle it (blank
 * lines skipped, the same errors for malformed ones, the same output bytes), so the result is
 * identical. The second pass reads the very byte ranges of the first.
 */

/** Texts per batch, and a bound on their characters, where records are read here (other formats). */
export const BATCH_DOCS = 256;
export const BATCH_CHARS = 1 << 18;

/** A batch of whole lines: its place in its file, and what the signature pass found in it. */
export interface Batch {
  file: string;
  start: number;
  length: number;
  /** Line number of its first line, 1-based. */
  firstLine: number;
  /** Its first document's index in the task, and its document count. */
  firstDoc: number;
  docs: number;
  /** Its malformed lines (skipped with skipBad), as indices among its lines. */
  bad: number[];
  /** The checksum of a batch of canonical lines (see HashReply.canonical). */
  canonical?: number;
}

/** Batches in flight per worker: enough to keep every worker busy while the main thread reads or writes. */
const DEPTH_PER_THREAD = 4;

/** Pass 1: parse the records of `files` and add each to `builder`; returns the batches, for pass 2. */
export async function hashJsonl(files: string[], pool: SignaturePool, builder: SignatureBuilder, ctx: TaskContext): Promise<Batch[]> {
  const batches: Batch[] = [];
  const size = pool.recordSize;
  async function* read(): AsyncGenerator<{ file: string; start: number; bytes: Uint8Array }> {
    for (const file of files) for await (const b of byteBatches(file)) yield { file, ...b };
  }
  let line = 1;
  let doc = 0;
  let file: string | undefined;
  // After the first batch, its bytes per document tell how many documents the files hold.
  const totalBytes = files.reduce((n, f) => n + statSync(f).size, 0);
  let bytesRead = 0;
  let expected = false;
  await pipelined(
    read(),
    DEPTH_PER_THREAD * pool.threads,
    ctx.signal,
    (b) => {
      const length = b.bytes.byteLength; // read before the transfer detaches it
      return pool.hashLines(b.bytes).then((r) => ({ r, length }));
    },
    (b, { r, length }) => {
      if (b.file !== file) {
        file = b.file;
        line = 1;
      }
      for (const { index, reason } of r.bad ?? []) {
        if (!ctx.options.skipBad) throw new InputError(b.file, line + index, `${reason}; pass --skip-bad to skip and count bad lines`);
        ctx.stats.inc('bad_lines');
      }
      const ids = r.ids ?? [];
      for (let d = 0; d < ids.length; d++) builder.addHashed(ids[d] as string, r.out, d * size);
      batches.push({
        file: b.file,
        start: b.start,
        length,
        firstLine: line,
        firstDoc: doc,
        docs: ids.length,
        bad: (r.bad ?? []).map((x) => x.index),
        ...(r.canonical === undefined ? {} : { canonical: r.canonical }),
      });
      line += r.lines ?? 0;
      doc += ids.length;
      bytesRead += length;
      ctx.progress.add(length, ids.length);
      if (!expected && doc > 0) {
        expected = true;
        builder.out.expect(doc, bytesRead, totalBytes);
      }
    },
  );
  return batches;
}

export interface Removed {
  duplicate_of: string;
  kind: 'exact' | 'near';
}

/** Pass 2: write each record of the batches to `kept`, or to `removed` with its survivor, as the single-thread loop does; returns the documents read. */
export async function splitJsonl(
  batches: Batch[],
  pool: SignaturePool,
  ids: readonly string[],
  removals: ReadonlyMap<number, Removed>,
  out: { kept: JsonlWriter; removed: JsonlWriter },
  ctx: TaskContext,
): Promise<number> {
  const changed = (what: string) =>
    new CosmoError(`dedup: ${what}: the input in ${ctx.inputDir} changed since dedup started; delete the dedup-* folders to redo dedup`);
  // The same files, each as long as the signature pass read it: no lines appended, none cut.
  const files = [...new Set(batches.map((b) => b.file))];
  const added = (ctx.inputFiles() ?? []).filter((f) => !files.includes(f) && statSync(f).size > 0);
  if (added.length) throw changed(`${added.join(', ')} appeared`);
  ctx.progress.more(batches.reduce((n, b) => n + b.length, 0)); // this pass reads them again
  const lengths = new Map<string, number>(files.map((f) => [f, 0]));
  for (const b of batches) lengths.set(b.file, b.start + b.length);
  for (const [file, length] of lengths) {
    const size = (await stat(file)).size;
    if (size !== length) throw changed(`${file} has ${size} bytes, but ${length} when the signatures were taken`);
  }
  async function* read(): AsyncGenerator<Batch & { bytes: Uint8Array }> {
    for (const file of files) {
      const fh = await open(file, 'r');
      try {
        for (const b of batches) {
          if (b.file !== file) continue;
          const bytes = new Uint8Array(b.length);
          let got = 0;
          while (got < b.length) {
            const { bytesRead } = await fh.read(bytes, got, b.length - got, b.start + got);
            if (bytesRead === 0) throw changed(`${file} is shorter than when the signatures were taken`);
            got += bytesRead;
          }
          yield { ...b, bytes };
        }
      } finally {
        await fh.close();
      }
    }
  }
  const kinds = (b: Batch) => {
    let exact = 0;
    let near = 0;
    for (let d = b.firstDoc; d < b.firstDoc + b.docs; d++) {
      const kind = removals.get(d)?.kind;
      if (kind === 'exact') exact++;
      else if (kind === 'near') near++;
    }
    return { exact, near };
  };
  await pipelined(
    read(),
    DEPTH_PER_THREAD * pool.threads,
    ctx.signal,
    (b) => {
      const docs = [...Array(b.docs).keys()].map((k) => removals.get(b.firstDoc + k));
      return pool.split({
        bytes: b.bytes,
        ids: ids.slice(b.firstDoc, b.firstDoc + b.docs),
        bad: b.bad,
        dup: docs.map((r) => r?.duplicate_of ?? null),
        dupKind: docs.map((r) => r?.kind ?? null),
        ...(b.canonical === undefined ? {} : { canonical: b.canonical }),
      });
    },
    async (b, r) => {
      if (r.changed) {
        const { line, doc, id } = r.changed;
        const at = b.firstDoc + doc;
        const where = `${b.file}:${b.firstLine + line}`;
        if (b.bad.includes(line)) throw changed(`${where} was malformed when the signatures were taken and is not now`);
        throw changed(`document ${at} of task ${ctx.rank} (${where}) is ${String(id)}, but the signatures have ${ids[at] ?? 'no document'} there`);
      }
      await out.removed.writeBytes(r.removed, r.removedCount);
      await out.kept.writeBytes(r.kept, r.keptCount);
      ctx.progress.add(b.length);
      const { exact, near } = kinds(b);
      // Counters as the single-thread loop leaves them: one that never counted is absent, not 0.
      for (const [name, n] of [['bad_lines', b.bad.length], ['removed.exact', exact], ['removed.near', near], ['kept', r.keptCount]] as const)
        if (n > 0) ctx.stats.inc(name, n);
    },
  );
  return batches.reduce((n, b) => n + b.docs, 0);
}

import { byteBatches } from '../io/lines.js';
import { pipelined } from '../util/pipelined.js';
import { defaultThreads, siblingModule } from '../util/runtime.js';
import { WorkerPool } from '../util/worker-pool.js';
import type { Decontaminator } from './decontaminator.js';
import type { Judged } from './outcome.js';

/**
 * Sample checks on worker threads. Each worker holds the benchmark items and reads the n-gram
 * index from shared memory (built once, here); batches of texts, or of whole JSONL lines, go to the
 * workers in turn and their judgements (and for the stage, the lines to write) come back, to be
 * counted and written in input order on this thread, so the result is exactly the single-thread one.
 */

/**
 * Judge these texts; or parse these JSONL lines (whole lines, UTF-8) and judge each record's `field`;
 * or (`place`) take them as the decontaminate stage's sample records and also write what becomes of each.
 */
export type CheckRequest = { seq: number; texts: string[] } | { seq: number; bytes: Uint8Array; field: string } | { seq: number; bytes: Uint8Array; place: true };

/** A batch's output and removed lines, as the stage's single-thread loop writes them (UTF-8 JSONL), and how many of each. */
export interface Placed {
  output: Uint8Array;
  outputCount: number;
  removed: Uint8Array;
  removedCount: number;
}

/** A non-blank line of a `bytes` request: its index among the lines, and its judgement or what is wrong with it. */
export interface LineRow {
  index: number;
  judged?: Judged;
  /** The record, for a sample that is not kept. */
  record?: Record<string, unknown>;
  /** Why the line is not a record (as io/jsonl.ts says it). */
  bad?: string;
  /** The record has no string `field`. */
  noField?: true;
}

export interface CheckReply {
  seq: number;
  judged?: Judged[];
  rows?: LineRow[];
  /** Lines in the bytes, blank ones included. */
  lines?: number;
  placed?: Placed;
  error?: string;
}

/**
 * Threads when the config leaves it open: none under 24 MiB of input, where starting them and
 * warming each one's compiled code costs about what they save (samples of ~13 KB on 2 cores: at
 * 13 MB 2.1-2.2 s either way; at 40 MB 2.8-3.2 s on the main thread, 2.6-2.7 s with 2 workers; at
 * 200 MB 8.1 s and 5.9 s), else the task's share of the cores.
 */
export function autoThreads(inputBytes: number, concurrentTasks: number): number {
  return inputBytes >= 24 * 2 ** 20 ? defaultThreads(concurrentTasks) : 0;
}

/** Texts per batch, and a bound on their characters. */
export const CHECK_BATCH_TEXTS = 64;
export const CHECK_BATCH_CHARS = 1 << 20;


/** Check workers (see check-worker.ts), each reading the index `dc` built, in shared memory. */
export class CheckPool {
  private readonly pool: WorkerPool<CheckRequest, CheckReply>;

  constructor(dc: Decontaminator, threads: number) {
    this.pool = new WorkerPool('decontaminate: a check worker', siblingModule('check-worker', import.meta.url), dc.share(), threads);
  }

  get threads(): number {
    return this.pool.threads;
  }

  /** Judge a batch of texts on the next worker in turn. */
  check(texts: string[]): Promise<Judged[]> {
    return this.pool.send({ seq: 0, texts }).then((r) => r.judged!);
  }

  /**
   * Decode, parse and judge a batch of whole JSONL lines on the next worker in turn (`bytes` is
   * transferred): this thread only cuts the file into batches, which keeps it from being the
   * bottleneck that decoding and parsing long samples made it.
   */
  checkLines(bytes: Uint8Array, field: string): Promise<{ rows: LineRow[]; lines: number }> {
    return this.pool.send({ seq: 0, bytes, field }, [bytes.buffer as ArrayBuffer]).then((r) => ({ rows: r.rows!, lines: r.lines! }));
  }

  /**
   * Parse a batch of whole JSONL lines as sample records, judge each text, and write what becomes of
   * each (see `Placed`), on the next worker in turn (`bytes` is transferred): the thread that runs
   * the task then only writes bytes, where parsing, copying texts over and writing records made it
   * the bottleneck (~0.35 ms of its time a 10 KB sample).
   */
  placeLines(bytes: Uint8Array): Promise<{ rows: LineRow[]; lines: number; placed: Placed }> {
    return this.pool.send({ seq: 0, bytes, place: true }, [bytes.buffer as ArrayBuffer]).then((r) => ({ rows: r.rows!, lines: r.lines!, placed: r.placed! }));
  }

  close(): Promise<void> {
    return this.pool.close();
  }
}

/**
 * Plain JSONL `files` on the pool, a batch of whole lines at a time (`send` moves its bytes to a
 * worker), with a few batches per worker in flight; each reply goes to `receive` in input order, with
 * its file, the number of its first line there, and its size in bytes.
 */
export async function jsonlOnPool<R extends { lines: number }>(
  files: readonly string[],
  pool: CheckPool,
  signal: AbortSignal,
  send: (bytes: Uint8Array) => Promise<R>,
  receive: (file: string, firstLine: number, reply: R, bytes: number) => void | Promise<void>,
): Promise<void> {
  for (const file of files) {
    let first = 1;
    const start = (b: { bytes: Uint8Array }) => {
      const bytes = b.bytes.byteLength; // read before the transfer detaches it
      return send(b.bytes).then((reply) => ({ reply, bytes }));
    };
    await pipelined(byteBatches(file), 4 * pool.threads, signal, start, async (_b, { reply, bytes }) => {
      await receive(file, first, reply, bytes);
      first += reply.lines;
    });
  }
}

/**
 * Judge the texts of `items` on `pool` and hand each item with its judgement to `finish`, in input
 * order, with a few batches per worker in flight.
 */
export async function checkOnPool<T extends { text: string }>(
  items: AsyncIterable<T>,
  pool: CheckPool,
  signal: AbortSignal,
  finish: (item: T, judged: Judged) => void | Promise<void>,
): Promise<void> {
  async function* batches(): AsyncGenerator<T[]> {
    let batch: T[] = [];
    let chars = 0;
    for await (const item of items) {
      batch.push(item);
      chars += item.text.length;
      if (batch.length >= CHECK_BATCH_TEXTS || chars >= CHECK_BATCH_CHARS) {
        yield batch;
        batch = [];
        chars = 0;
      }
    }
    if (batch.length) yield batch;
  }
  await pipelined(
    batches(),
    4 * pool.threads,
    signal,
    (batch) => pool.check(batch.map((x) => x.text)),
    async (batch, judged) => {
      for (let i = 0; i < batch.length; i++) await finish(batch[i]!, judged[i]!);
    },
  );
}

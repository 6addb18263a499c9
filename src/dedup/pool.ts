import { batchLines } from '../io/lines.js';
import { SAMPLE_RECORD } from '../records/check.js';
import { siblingModule } from '../util/runtime.js';
import { WorkerPool } from '../util/worker-pool.js';
import { MinHasher, type MinHashParams } from './minhash.js';
import { U64Map } from './tables.js';

/**
 * Signatures on worker threads. The main thread reads and parses the input and posts batches of
 * texts to the workers in turn; each worker hashes its batches in order and transfers the results
 * back as one Uint32Array per batch; the main thread takes the batches back in input order, so the
 * signatures are exactly those of the single-thread path.
 */

export interface PoolParams {
  params: MinHashParams;
  minhash: boolean;
}

/** Hash these texts. */
export interface TextsRequest {
  kind: 'texts';
  seq: number;
  texts: string[];
}

/** Parse the JSONL lines in these UTF-8 bytes (whole lines) and hash the text of each record. */
export interface LinesRequest {
  kind: 'lines';
  seq: number;
  bytes: Uint8Array;
}

/**
 * Split the JSONL lines in these bytes (the same bytes a `lines` request had) into kept and
 * removed output. `ids` are the ids the signature pass found in them, `bad` the indices of the
 * lines it found malformed, `dup` the survivor of each removed document and `dupKind` how it was found.
 */
export interface SplitRequest {
  kind: 'split';
  seq: number;
  bytes: Uint8Array;
  ids: string[];
  bad: number[];
  dup: (string | null)[];
  dupKind: ('exact' | 'near' | null)[];
  /** The signature pass's checksum of these bytes, when every line was as JSON.stringify writes it (see HashReply). */
  canonical?: number;
}

export type PoolRequest = TextsRequest | LinesRequest | SplitRequest;

export interface HashReply {
  /** recordSize values per hashed text. */
  out: Uint32Array;
  /** For a `lines` request: the lines in the bytes, the id of each record hashed, and the malformed lines (index among the lines), which were not hashed. */
  lines?: number;
  ids?: unknown[];
  bad?: { index: number; reason: string }[];
  /**
   * For a `lines` request whose lines are all records exactly as JSON.stringify writes them, split
   * by \n alone: a checksum of the bytes. The split pass, finding the same checksum, copies kept
   * lines as they are instead of parsing and serialising them again: the same bytes, found cheaper.
   */
  canonical?: number;
}

export interface SplitReply {
  kept: Uint8Array;
  keptCount: number;
  removed: Uint8Array;
  removedCount: number;
  /** The first line that is not what the signature pass found there (index among the lines, and the document it would be). */
  changed?: { line: number; doc: number; id: unknown };
}

export interface PoolReply {
  seq: number;
  hash?: HashReply;
  split?: SplitReply;
}


/** One hashed document: exact key hi, lo, word count, has-signature flag, `hashes` signature values, 2 * bands band keys. */
export const recordSize = (hasher: MinHasher) => 4 + hasher.hashes + 2 * hasher.params.bands;
export const SIG_AT = 4;

/**
 * Hash `text` into `out` at `at` (see recordSize). The signature is computed when minhash is on,
 * the text has words and `seen` has not had its exact key yet.
 */
export function hashInto(hasher: MinHasher, text: string, minhash: boolean, seen: U64Map, out: Uint32Array, at: number): void {
  const h = hasher.scan(text);
  out[at] = h.words ? h.exactHi : 0;
  out[at + 1] = h.words ? h.exactLo : 0;
  out[at + 2] = h.words;
  if (!minhash || h.words === 0 || seen.getOrSet(h.exactHi, h.exactLo, 1) >= 0) return;
  out[at + 3] = 1;
  const sig = out.subarray(at + SIG_AT, at + SIG_AT + hasher.hashes);
  hasher.signature(sig);
  hasher.bandKeys(sig, out.subarray(at + SIG_AT + hasher.hashes, at + recordSize(hasher)));
}

/** JSON.parse of a JSONL line, as the runner's input reader does it (io/jsonl.ts + the sample check): the object, or why the line is bad. */
function parseLine(line: string): { value?: Record<string, unknown>; reason?: string } {
  try {
    const value: unknown = JSON.parse(line);
    if (value === null || typeof value !== 'object' || Array.isArray(value)) return { reason: 'expected a JSON object' };
    const why = SAMPLE_RECORD.check(value as Record<string, unknown>);
    if (why) return { reason: `not a ${SAMPLE_RECORD.kind} record: ${why}` };
    return { value: value as Record<string, unknown> };
  } catch (err) {
    return { reason: `malformed JSON (${(err as Error).message})` };
  }
}

const isBlank = (line: string) => line.trim() === '';

/** A worker's state: the hasher, and the exact keys it has seen so far. */
export class PoolWorkerState {
  readonly hasher: MinHasher;
  private readonly seen = new U64Map();
  private readonly size: number;
  private readonly encoder = new TextEncoder();
  private readonly decoder = new TextDecoder();

  constructor(private readonly params: PoolParams) {
    this.hasher = new MinHasher(params.params);
    this.size = recordSize(this.hasher);
  }

  handle(msg: PoolRequest): { reply: PoolReply; transfer: ArrayBuffer[] } {
    if (msg.kind === 'split') {
      const split = this.split(msg);
      return { reply: { seq: msg.seq, split }, transfer: [split.kept.buffer as ArrayBuffer, split.removed.buffer as ArrayBuffer] };
    }
    const hash = msg.kind === 'texts' ? this.hashTexts(msg.texts) : this.hashLines(msg.bytes);
    return { reply: { seq: msg.seq, hash }, transfer: [hash.out.buffer as ArrayBuffer] };
  }

  private hashTexts(texts: string[]): HashReply {
    const out = new Uint32Array(texts.length * this.size);
    for (let d = 0; d < texts.length; d++) hashInto(this.hasher, texts[d]!, this.params.minhash, this.seen, out, d * this.size);
    return { out };
  }

  private hashLines(bytes: Uint8Array): HashReply {
    const lines = batchLines(bytes);
    const out = new Uint32Array(lines.length * this.size);
    const ids: unknown[] = [];
    const bad: { index: number; reason: string }[] = [];
    let canonical = bytes.indexOf(13) < 0; // no \r: lines end at \n alone
    for (let k = 0; k < lines.length; k++) {
      if (isBlank(lines[k]!)) {
        canonical = false;
        continue;
      }
      const { value, reason } = parseLine(lines[k]!);
      if (!value) {
        bad.push({ index: k, reason: reason! });
        continue;
      }
      if (canonical) canonical = JSON.stringify(value) === lines[k];
      hashInto(this.hasher, (value['text'] ?? '') as string, this.params.minhash, this.seen, out, ids.length * this.size);
      ids.push(value['id']);
    }
    const reply: HashReply = { out, lines: lines.length, ids, bad };
    if (canonical && bad.length === 0) reply.canonical = checksum(bytes);
    return reply;
  }

  /** The kept and removed output lines of a batch, exactly as the stage's single-thread loop writes them. */
  private split(msg: SplitRequest): SplitReply {
    if (msg.canonical !== undefined && checksum(msg.bytes) === msg.canonical) {
      const fast = this.splitCanonical(msg);
      if (fast) return fast;
    }
    const lines = batchLines(msg.bytes);
    const bad = new Set(msg.bad);
    let kept = '';
    let removed = '';
    let keptCount = 0;
    let removedCount = 0;
    let changed: SplitReply['changed'];
    let doc = 0;
    for (let k = 0; k < lines.length && !changed; k++) {
      if (isBlank(lines[k]!)) continue;
      const { value } = parseLine(lines[k]!);
      if (bad.has(k)) {
        if (value) changed = { line: k, doc, id: value['id'] };
        continue;
      }
      if (!value || doc >= msg.ids.length || value['id'] !== msg.ids[doc]) {
        changed = { line: k, doc, id: value?.['id'] };
        continue;
      }
      const of = msg.dup[doc];
      if (of != null) {
        removed += JSON.stringify({ ...value, duplicate_of: of, duplicate_kind: msg.dupKind[doc] }) + '\n';
        removedCount++;
      } else {
        kept += JSON.stringify(value) + '\n';
        keptCount++;
      }
      doc++;
    }
    if (!changed && doc < msg.ids.length) changed = { line: lines.length, doc, id: undefined };
    const res: SplitReply = { kept: this.encoder.encode(kept), keptCount, removed: this.encoder.encode(removed), removedCount };
    if (changed) res.changed = changed;
    return res;
  }

  /**
   * The split of a batch the signature pass found canonical and that is byte for byte the same:
   * kept lines are copied, removed ones parsed and written with their survivor. Undefined when the
   * lines do not add up to the documents (the slow path then says what changed).
   */
  private splitCanonical(msg: SplitRequest): SplitReply | undefined {
    const bytes = msg.bytes;
    const kept = new Uint8Array(bytes.length + 1);
    let keptLength = 0;
    let removed = '';
    let keptCount = 0;
    let removedCount = 0;
    let doc = 0;
    for (let pos = 0; pos < bytes.length; ) {
      let end = bytes.indexOf(10, pos);
      if (end < 0) end = bytes.length;
      if (end > pos) {
        if (doc >= msg.ids.length) return undefined;
        const of = msg.dup[doc];
        if (of != null) {
          const value = JSON.parse(this.decoder.decode(bytes.subarray(pos, end))) as Record<string, unknown>;
          removed += JSON.stringify({ ...value, duplicate_of: of, duplicate_kind: msg.dupKind[doc] }) + '\n';
          removedCount++;
        } else {
          kept.set(bytes.subarray(pos, end), keptLength);
          keptLength += end - pos;
          kept[keptLength++] = 10;
          keptCount++;
        }
        doc++;
      }
      pos = end + 1;
    }
    if (doc !== msg.ids.length) return undefined;
    return { kept: kept.slice(0, keptLength), keptCount, removed: this.encoder.encode(removed), removedCount };
  }
}

/** FNV-1a over the bytes, four at a time: tells whether the split pass reads what the signature pass read. */
function checksum(bytes: Uint8Array): number {
  let h = 0x811c9dc5 ^ bytes.length;
  const whole = bytes.length & ~3;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let i = 0; i < whole; i += 4) h = Math.imul(h ^ view.getUint32(i, true), 0x01000193);
  for (let i = whole; i < bytes.length; i++) h = Math.imul(h ^ bytes[i]!, 0x01000193);
  return h >>> 0;
}


/** Signature workers (see signature-worker.ts). */
export class SignaturePool {
  private readonly pool: WorkerPool<PoolRequest, PoolReply>;

  /** Uint32 values per hashed document in a reply. */
  readonly recordSize: number;

  constructor(data: PoolParams, threads: number) {
    this.recordSize = recordSize(new MinHasher(data.params));
    this.pool = new WorkerPool('dedup: a signature worker', siblingModule('signature-worker', import.meta.url), data, threads);
  }

  get threads(): number {
    return this.pool.threads;
  }

  /** Hash a batch of texts on the next worker in turn. */
  hashTexts(texts: string[]): Promise<HashReply> {
    return this.pool.send({ kind: 'texts', seq: 0, texts }).then((r) => r.hash!);
  }

  /** Parse and hash a batch of JSONL lines on the next worker in turn; `bytes` is transferred. */
  hashLines(bytes: Uint8Array): Promise<HashReply> {
    return this.pool.send({ kind: 'lines', seq: 0, bytes }, [bytes.buffer as ArrayBuffer]).then((r) => r.hash!);
  }

  /** Split a batch of JSONL lines into kept and removed output on the next worker in turn; `bytes` is transferred. */
  split(req: Omit<SplitRequest, 'kind' | 'seq'>): Promise<SplitReply> {
    return this.pool.send({ ...req, kind: 'split', seq: 0 }, [req.bytes.buffer as ArrayBuffer]).then((r) => r.split!);
  }

  close(): Promise<void> {
    return this.pool.close();
  }
}

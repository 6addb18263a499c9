import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { closeSync, openSync, readSync } from 'node:fs';
import { join } from 'node:path';
import { MinHasher } from './minhash.js';
import { U32List, U64Map } from './tables.js';
import { CosmoError } from '../util/errors.js';
import { SIG_AT } from './pool.js';

/**
 * What the signature step learns about one shard of documents, indexed by the document's position
 * in the shard: its id, its exact-match key, its MinHash signature and its LSH bucket keys.
 */
export class ShardSignatures {
  readonly ids: string[] = [];
  /** Two uint32 per document; 0, 0 for a document without words. */
  readonly exact = new U32List();
  /** Per band: (key hi, key lo, document) triples. Documents with no words, or exact copies of an earlier document in the shard, have none. */
  readonly bands: U32List[];
  /** `hashes` uint32 per document (all zero when it has no signature). */
  readonly sigs = new U32List();

  constructor(
    readonly hashes: number,
    bands: number,
  ) {
    this.bands = Array.from({ length: bands }, () => new U32List());
  }

  get docs(): number {
    return this.ids.length;
  }

  /**
   * Make room for as many documents as `totalBytes` of input holds, at the `bytes` per `docs` seen so
   * far (5% over), so that the lists need not double (and copy) ~10 times as they fill: on a VM a
   * fresh page costs ~10 us to touch, and growing them cost ~0.4 s at 100,000 documents. A wrong
   * guess only means growing.
   */
  expect(docs: number, bytes: number, totalBytes: number): void {
    if (docs === 0 || bytes === 0 || totalBytes === 0) return;
    docs = Math.ceil((1.05 * docs * totalBytes) / bytes);
    this.exact.reserve(2 * docs);
    this.sigs.reserve(this.hashes * docs);
    for (const band of this.bands) band.reserve(3 * docs);
  }

  signature(doc: number): Uint32Array {
    return this.sigs.data.subarray(doc * this.hashes, (doc + 1) * this.hashes);
  }
}

/** Fills a ShardSignatures document by document. */
export class SignatureBuilder {
  readonly out: ShardSignatures;
  private readonly sig: Uint32Array;
  private readonly keys: Uint32Array;
  private readonly zeros: Uint32Array;
  /** Exact keys seen in this shard: a copy skips the costly MinHash, since exact dedup already joins it to its twin. */
  private readonly seen = new U64Map();

  constructor(
    private readonly hasher: MinHasher,
    private readonly minhash: boolean,
  ) {
    this.out = new ShardSignatures(hasher.hashes, hasher.params.bands);
    this.sig = new Uint32Array(hasher.hashes);
    this.keys = new Uint32Array(2 * hasher.params.bands);
    this.zeros = new Uint32Array(hasher.hashes);
  }

  add(id: string, text: string): void {
    const doc = this.out.docs;
    this.out.ids.push(id);
    const h = this.hasher.scan(text);
    // A text with no words (a failed request's empty text) is nobody's duplicate: key 0:0 marks it.
    this.out.exact.push(h.words ? h.exactHi : 0);
    this.out.exact.push(h.words ? h.exactLo : 0);
    const copy = h.words > 0 && this.seen.getOrSet(h.exactHi, h.exactLo, doc) >= 0;
    if (!this.minhash || copy || h.words === 0) {
      this.out.sigs.pushAll(this.zeros);
      return;
    }
    this.hasher.signature(this.sig);
    this.out.sigs.pushAll(this.sig);
    this.hasher.bandKeys(this.sig, this.keys);
    for (let band = 0; band < this.out.bands.length; band++) {
      const list = this.out.bands[band]!;
      list.push(this.keys[2 * band]!);
      list.push(this.keys[2 * band + 1]!);
      list.push(doc);
    }
  }

  /**
   * Add a document hashed elsewhere (a worker thread, see pool.ts): `rec[at..]` holds its exact key,
   * word count and, when the hasher saw no earlier copy, its signature and band keys. The result
   * is exactly that of `add(id, text)`.
   */
  addHashed(id: string, rec: Uint32Array, at: number): void {
    const doc = this.out.docs;
    this.out.ids.push(id);
    const hi = rec[at]!;
    const lo = rec[at + 1]!;
    const words = rec[at + 2]!;
    this.out.exact.push(hi);
    this.out.exact.push(lo);
    const copy = words > 0 && this.seen.getOrSet(hi, lo, doc) >= 0;
    if (!this.minhash || copy || words === 0) {
      this.out.sigs.pushAll(this.zeros);
      return;
    }
    if (rec[at + 3] !== 1) throw new CosmoError(`dedup: document ${doc} (${id}) came back from its worker without a signature`);
    const hashes = this.hasher.hashes;
    const sig = at + SIG_AT;
    this.out.sigs.pushAll(rec.subarray(sig, sig + hashes));
    for (let band = 0, k = sig + hashes; band < this.out.bands.length; band++, k += 2) {
      const list = this.out.bands[band]!;
      list.push(rec[k]!);
      list.push(rec[k + 1]!);
      list.push(doc);
    }
  }
}

// On disk, a shard's signatures are a folder: meta.json (ids, params), exact.bin, band-<b>.bin, sigs.bin.

export interface SignatureMeta {
  docs: number;
  hashes: number;
  bands: number;
  params: unknown;
  ids: string[];
}

const u32Bytes = (a: Uint32Array) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);

/** Write a shard's signatures to `dir` atomically: a temp folder renamed into place. */
export async function writeSignatures(dir: string, s: ShardSignatures, params: unknown): Promise<void> {
  const tmp = `${dir}.tmp-${process.pid}`;
  await rm(tmp, { recursive: true, force: true });
  await mkdir(tmp, { recursive: true });
  const meta: SignatureMeta = { docs: s.docs, hashes: s.hashes, bands: s.bands.length, params, ids: s.ids };
  await writeFile(join(tmp, 'exact.bin'), u32Bytes(s.exact.view()));
  await writeFile(join(tmp, 'sigs.bin'), u32Bytes(s.sigs.view()));
  for (let b = 0; b < s.bands.length; b++) await writeFile(join(tmp, `band-${b}.bin`), u32Bytes(s.bands[b]!.view()));
  await writeFile(join(tmp, 'meta.json'), JSON.stringify(meta));
  await rm(dir, { recursive: true, force: true }); // a folder left by a run killed before its marker
  await rename(tmp, dir);
}

export async function readSignatureMeta(dir: string): Promise<SignatureMeta> {
  try {
    return JSON.parse(await readFile(join(dir, 'meta.json'), 'utf8')) as SignatureMeta;
  } catch (err) {
    throw new CosmoError(`dedup: cannot read signatures in ${dir} (${(err as Error).message}); rerun the dedup-signatures step`, { cause: err });
  }
}

export async function readU32File(file: string): Promise<Uint32Array> {
  const buf = await readFile(file);
  if (buf.byteLength % 4) throw new CosmoError(`dedup: ${file} is truncated (${buf.byteLength} bytes); rerun the step that wrote it`);
  // Copy into an aligned buffer: Node may hand back a slice of a shared pool.
  const out = new Uint32Array(buf.byteLength / 4);
  u32Bytes(out).set(buf);
  return out;
}

/** Random access to the signatures in sigs.bin files, for the few documents whose buckets collide. */
export class SignatureFiles {
  private readonly fds: number[];
  private readonly buf: Uint32Array;

  constructor(
    files: string[],
    /** Global index of each file's first document. */
    private readonly offsets: number[],
    private readonly hashes: number,
  ) {
    this.fds = files.map((f) => openSync(f, 'r'));
    this.buf = new Uint32Array(hashes * 2);
  }

  /** The signature of a global document index; `slot` 0 or 1 picks which of two buffers holds it. */
  get(doc: number, slot: 0 | 1): Uint32Array {
    let r = this.offsets.length - 1;
    while (this.offsets[r]! > doc) r--;
    const view = this.buf.subarray(slot * this.hashes, (slot + 1) * this.hashes);
    const bytes = this.hashes * 4;
    const n = readSync(this.fds[r]!, u32Bytes(view), 0, bytes, (doc - this.offsets[r]!) * bytes);
    if (n !== bytes) throw new CosmoError(`dedup: signature of document ${doc} missing; rerun the dedup-signatures step`);
    return view;
  }

  close(): void {
    for (const fd of this.fds) closeSync(fd);
  }
}

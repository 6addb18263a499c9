/**
 * Training-ready token files, written and read back.
 *
 * - datatrove / nanotron: `NAME.ds` holds the tokens (little-endian uint16 when the vocabulary has
 *   fewer than 65,536 ids, else uint32), an end-of-text token after each document; `NAME.ds.index`
 *   the end of each document in tokens (uint64); `NAME.ds.metadata` the tokenizer's name and the
 *   token count, as datatrove's DocumentTokenizer writes them.
 * - Megatron: `NAME.bin` the same tokens (uint16 below 65,500 ids, else int32, as Megatron's
 *   `optimal_dtype` picks), `NAME.idx` its MMapIndexedDataset index: the header `MMIDIDX\0\0`,
 *   version 1 (uint64), the dtype code (uint8: 8 for uint16, 4 for int32), the sequence and document
 *   counts (uint64), then each sequence's length (int32) and byte offset (int64), and the document
 *   boundaries (int64, one sequence per document: 0..N).
 */
import { closeSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import { CosmoError } from '../util/errors.js';

export type TokenFormat = 'datatrove' | 'megatron';

/** Bytes a stored token takes in a format, for a vocabulary of this size. */
export function tokenWidth(format: TokenFormat, vocabSize: number): 2 | 4 {
  return vocabSize < (format === 'datatrove' ? 65536 : 65500) ? 2 : 4;
}

const MEGATRON_HEADER = Buffer.from('MMIDIDX\x00\x00', 'latin1');
const MEGATRON_DTYPE = { 2: 8, 4: 4 } as const;

/**
 * One token file being written: documents are appended, buffered, and the file and its index take
 * their final names on close (a killed task leaves only `.tmp` files, which its rerun removes).
 */
export class TokenFileWriter {
  private readonly fd: number;
  private buf: Buffer;
  private used = 0;
  /** Documents' lengths in tokens. */
  private readonly lengths: number[] = [];
  tokens = 0;

  constructor(
    readonly format: TokenFormat,
    /** Path without extension: `.ds` / `.bin` and the index are added. */
    readonly base: string,
    readonly width: 2 | 4,
    private readonly tokenizerName: string,
  ) {
    this.fd = openSync(`${this.dataPath}.tmp`, 'w');
    this.buf = Buffer.allocUnsafe(1 << 22);
  }

  get dataPath(): string {
    return this.format === 'datatrove' ? `${this.base}.ds` : `${this.base}.bin`;
  }

  get documents(): number {
    return this.lengths.length;
  }

  /** One document's tokens, its end-of-text token included. */
  write(ids: ArrayLike<number>): void {
    const bytes = ids.length * this.width;
    if (this.used + bytes > this.buf.length) {
      this.flush();
      if (bytes > this.buf.length) this.buf = Buffer.allocUnsafe(bytes);
    }
    const w = this.width;
    let at = this.used;
    if (w === 2) for (let i = 0; i < ids.length; i++, at += 2) this.buf.writeUInt16LE(ids[i]!, at);
    else for (let i = 0; i < ids.length; i++, at += 4) this.buf.writeUInt32LE(ids[i]!, at);
    this.used = at;
    this.lengths.push(ids.length);
    this.tokens += ids.length;
  }

  private flush(): void {
    if (this.used) writeSync(this.fd, this.buf, 0, this.used);
    this.used = 0;
  }

  close(): void {
    this.flush();
    closeSync(this.fd);
    const n = this.lengths.length;
    if (this.format === 'datatrove') {
      const index = Buffer.alloc(8 * n);
      let end = 0;
      this.lengths.forEach((len, i) => index.writeBigUInt64LE(BigInt((end += len)), 8 * i));
      writeFinal(`${this.base}.ds.index`, index);
      writeFinal(`${this.base}.ds.metadata`, Buffer.from(`${this.tokenizerName}\n${this.tokens}\n${humanTokens(this.tokens)}`));
    } else {
      const index = Buffer.alloc(MEGATRON_HEADER.length + 8 + 1 + 8 + 8 + 4 * n + 8 * n + 8 * (n + 1));
      let at = MEGATRON_HEADER.copy(index, 0);
      at = index.writeBigUInt64LE(1n, at);
      at = index.writeUInt8(MEGATRON_DTYPE[this.width], at);
      at = index.writeBigUInt64LE(BigInt(n), at);
      at = index.writeBigUInt64LE(BigInt(n + 1), at);
      for (const len of this.lengths) at = index.writeInt32LE(len, at);
      let pointer = 0;
      for (const len of this.lengths) {
        at = index.writeBigInt64LE(BigInt(pointer), at);
        pointer += len * this.width;
      }
      for (let i = 0; i <= n; i++) at = index.writeBigInt64LE(BigInt(i), at);
      writeFinal(`${this.base}.idx`, index);
    }
    // The data file last: its final name says the set is complete.
    renameSync(`${this.dataPath}.tmp`, this.dataPath);
  }
}

function writeFinal(path: string, data: Buffer): void {
  const fd = openSync(`${path}.tmp`, 'w');
  writeSync(fd, data);
  closeSync(fd);
  renameSync(`${path}.tmp`, path);
}

/** "1.23 MT", as datatrove's metadata files say it. */
function humanTokens(n: number): string {
  const units = ['', 'k', 'M', 'G', 'T'];
  let i = 0;
  let v = n;
  while (v >= 1000 && i < units.length - 1) {
    v /= 1000;
    i++;
  }
  return `${i ? v.toFixed(2) : v} ${units[i]}T`;
}

/** The documents of a token file, each with its end-of-text token: for tests, and to check a file. */
export function readTokenFile(format: TokenFormat, base: string): Uint32Array[] {
  if (format === 'datatrove') {
    const data = readFileSync(`${base}.ds`);
    const index = readFileSync(`${base}.ds.index`);
    const meta = readFileSync(`${base}.ds.metadata`, 'utf8').split('\n');
    const total = Number(meta[1]);
    const width = data.length === total * 2 ? 2 : 4;
    if (data.length !== total * width) throw new CosmoError(`${base}.ds: ${data.length} bytes is not ${total} tokens of 2 or 4 bytes`);
    const docs: Uint32Array[] = [];
    let start = 0;
    for (let i = 0; i < index.length; i += 8) {
      const end = Number(index.readBigUInt64LE(i));
      docs.push(readTokens(data, start, end, width));
      start = end;
    }
    return docs;
  }
  const data = readFileSync(`${base}.bin`);
  const idx = readFileSync(`${base}.idx`);
  if (!idx.subarray(0, MEGATRON_HEADER.length).equals(MEGATRON_HEADER)) throw new CosmoError(`${base}.idx is not a Megatron index (no MMIDIDX header)`);
  let at = MEGATRON_HEADER.length + 8;
  const width = idx.readUInt8(at) === 8 ? 2 : 4;
  at += 1;
  const n = Number(idx.readBigUInt64LE(at));
  at += 16;
  const lengths = Array.from({ length: n }, (_, i) => idx.readInt32LE(at + 4 * i));
  at += 4 * n;
  return lengths.map((len, i) => {
    const pointer = Number(idx.readBigInt64LE(at + 8 * i)) / width;
    return readTokens(data, pointer, pointer + len, width);
  });
}

function readTokens(data: Buffer, start: number, end: number, width: 2 | 4): Uint32Array {
  const out = new Uint32Array(end - start);
  for (let i = 0; i < out.length; i++) out[i] = width === 2 ? data.readUInt16LE(2 * (start + i)) : data.readUInt32LE(4 * (start + i));
  return out;
}

import { closeSync, createReadStream, openSync, readSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { createGunzip } from 'node:zlib';

/**
 * Reading text files a line at a time, fast: the file is read in large batches cut at line breaks,
 * each decoded and split at once. node:readline does the same job at a tenth of the speed, and
 * every stage reads its input through here. Lines split exactly as readline splits them with
 * crlfDelay Infinity (at \n, \r\n and a lone \r), decoded as it decodes them.
 */

/** Bytes per batch (a batch ends at the first line break after this many): dedup posts batches of this size to its workers. */
export const BATCH_BYTES = 1 << 18;

/** The batches of whole lines of `file`, each ending at the first \n after `batchBytes` bytes (or at the end of the file), copied out. */
export function byteBatches(file: string, batchBytes = BATCH_BYTES): AsyncGenerator<{ start: number; bytes: Uint8Array }> {
  return batches(file, batchBytes, true);
}

/**
 * byteBatches, where `copy` false yields views of the read buffer, valid only until the next batch
 * is asked for: a fresh buffer per batch is fresh memory, and first touching it (page faults) cost
 * more than reading the file.
 */
async function* batches(file: string, batchBytes: number, copy: boolean): AsyncGenerator<{ start: number; bytes: Uint8Array }> {
  const fh = await open(file, 'r');
  try {
    let buf = Buffer.allocUnsafe(Math.max(1 << 22, 2 * batchBytes));
    let base = 0; // file offset of buf[0]
    let len = 0; // bytes held in buf
    let pos = 0; // where the next batch starts in buf
    let eof = false;
    for (;;) {
      let cut = -1;
      for (;;) {
        const from = pos + batchBytes - 1;
        if (from < len) cut = buf.subarray(0, len).indexOf(10, from);
        if (cut >= 0 || eof) break;
        if (pos > 0) {
          buf.copy(buf, 0, pos, len);
          base += pos;
          len -= pos;
          pos = 0;
        }
        if (len === buf.length) {
          const bigger = Buffer.allocUnsafe(buf.length * 2);
          buf.copy(bigger, 0, 0, len);
          buf = bigger;
        }
        const { bytesRead } = await fh.read(buf, len, buf.length - len, base + len);
        if (bytesRead === 0) eof = true;
        len += bytesRead;
      }
      const end = cut >= 0 ? cut + 1 : len;
      if (end <= pos) return;
      let bytes: Uint8Array = buf.subarray(pos, end);
      if (copy) bytes = new Uint8Array(bytes); // its own buffer, to be transferred
      yield { start: base + pos, bytes };
      pos = end;
    }
  } finally {
    await fh.close();
  }
}

/**
 * The lines of a batch of whole lines, split as node:readline splits them with crlfDelay Infinity
 * (at \n, \r\n and a lone \r) and decoded as it decodes them (a BOM kept, bad bytes replaced).
 */
export function batchLines(bytes: Uint8Array): string[] {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let lines: string[];
  if (buf.includes(13)) lines = buf.toString('utf8').split(/\r\n|\r|\n/);
  else {
    // Each line decoded on its own: a string per line is allocated where young objects are, and
    // that memory is used again and again; one string for the whole batch is a large object in
    // fresh memory each time, and first touching it cost several times the decoding.
    lines = [];
    for (let s = 0; s <= buf.length; ) {
      let e = buf.indexOf(10, s);
      if (e < 0) e = buf.length;
      lines.push(buf.toString('utf8', s, e));
      s = e + 1;
    }
  }
  if (lines.at(-1) === '') lines.pop(); // after the final line break
  return lines;
}

/** Batches of whole lines of a gzip file, decompressed; `onBytes` hears of the compressed bytes read. */
async function* gunzipBatches(file: string, onBytes?: (bytes: number) => void): AsyncGenerator<{ bytes: Uint8Array }> {
  let carry: Buffer = Buffer.alloc(0);
  const raw = createReadStream(file);
  if (onBytes) raw.on('data', (chunk) => onBytes(chunk.length));
  for await (const chunk of raw.pipe(createGunzip()) as AsyncIterable<Buffer>) {
    const buf = carry.length ? Buffer.concat([carry, chunk]) : chunk;
    const cut = buf.lastIndexOf(10) + 1;
    if (cut > 0) yield { bytes: buf.subarray(0, cut) };
    carry = buf.subarray(cut);
  }
  if (carry.length) yield { bytes: carry };
}

/**
 * Lines of a text file, gunzipped when the name ends in .gz, with 1-based line numbers. `onBytes`
 * hears of the file's bytes as they are read (compressed ones for gzip), for progress.
 */
export async function* readLines(file: string, onBytes?: (bytes: number) => void): AsyncGenerator<{ line: number; text: string }> {
  let line = 0;
  const gz = file.endsWith('.gz');
  // A batch's lines are all decoded before the next batch is read, so it may be a view.
  for await (const { bytes } of gz ? gunzipBatches(file, onBytes) : batches(file, 1 << 20, false)) {
    if (!gz) onBytes?.(bytes.length);
    const lines = batchLines(bytes);
    for (let i = 0; i < lines.length; i++) {
      const text = lines[i]!;
      // Let go of each line once handed out: a consumer that takes a batch slowly (generate reads
      // as requests finish) would otherwise keep every line of it alive long enough to be promoted
      // to the old generation, garbage there.
      lines[i] = '';
      yield { line: ++line, text };
    }
  }
}

/**
 * Each line of `file` that a line break ends, as a view of one reused buffer (valid only during the
 * call) with its byte offset; returns the offset after the last line break (what follows it is a
 * torn write). For the files a task writes and reads back whole (ledgers, caches): they can outgrow
 * memory, and reading one whole into fresh memory cost more in page faults than the reading.
 */
export function forEachLineSync(file: string, visit: (line: Buffer, offset: number) => void, chunkBytes = 1 << 22): number {
  const fd = openSync(file, 'r');
  try {
    let buf = Buffer.allocUnsafe(chunkBytes);
    let base = 0; // file offset of buf[0]
    let len = 0; // bytes held
    for (;;) {
      const n = readSync(fd, buf, len, buf.length - len, base + len);
      len += n;
      let from = 0;
      for (let nl = buf.indexOf(0x0a); nl >= 0 && nl < len; nl = buf.indexOf(0x0a, from)) {
        visit(buf.subarray(from, nl), base + from);
        from = nl + 1;
      }
      if (n === 0) return base + from;
      // The start of the next line moves to the front; a line longer than the buffer grows it.
      buf.copy(buf, 0, from, len);
      base += from;
      len -= from;
      if (len === buf.length) {
        const bigger = Buffer.allocUnsafe(2 * buf.length);
        buf.copy(bigger, 0, 0, len);
        buf = bigger;
      }
    }
  } finally {
    closeSync(fd);
  }
}

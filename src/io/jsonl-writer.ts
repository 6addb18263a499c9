import { mkdir, open, readdir, rename, rm, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { tempPathFor } from './atomic.js';

/** Buffers one writev takes (Linux's IOV_MAX). */
const IOV_MAX = 1024;

/**
 * A JSONL shard written record by record, without holding the shard in memory, that appears under
 * its final name only on `commit()`: readers see the whole shard or none of it, so a task killed
 * midway leaves nothing behind but a dot-named temp file that shard listings ignore.
 */
export class JsonlWriter {
  private buffer = '';
  private committed: (() => void)[] = [];
  count = 0;

  private constructor(
    readonly path: string,
    private readonly tmp: string,
    private readonly fh: FileHandle,
  ) {}

  static async open(path: string): Promise<JsonlWriter> {
    const dir = dirname(path);
    await mkdir(dir, { recursive: true });
    // A killed earlier attempt left its temp file under another pid: never read, only cleared.
    const stale = `.${basename(path)}.tmp-`;
    for (const f of await readdir(dir)) if (f.startsWith(stale)) await rm(join(dir, f), { force: true });
    const tmp = tempPathFor(path);
    return new JsonlWriter(path, tmp, await open(tmp, 'w'));
  }

  async write(record: unknown): Promise<void> {
    this.buffer += JSON.stringify(record) + '\n';
    this.count++;
    if (this.buffer.length >= 1 << 20) await this.flush();
  }

  /** Append `count` records already serialised as UTF-8 JSONL (one JSON text and a newline each). */
  async writeBytes(jsonl: Uint8Array, count: number): Promise<void> {
    await this.flush();
    this.count += count;
    if (jsonl.byteLength) await this.fh.write(jsonl);
  }

  /**
   * Append lines already serialised (each one JSON text and its newline), gathered from wherever
   * they lie: written with writev, never copied into one buffer (copying a 100 MB shard into a
   * fresh buffer cost more in page faults than the copy itself).
   */
  async writeLines(lines: readonly Uint8Array[]): Promise<void> {
    await this.flush();
    this.count += lines.length;
    for (let i = 0; i < lines.length; i += IOV_MAX) {
      let batch = lines.slice(i, i + IOV_MAX);
      while (batch.length) {
        let { bytesWritten } = await this.fh.writev(batch);
        // A short write (rare on files) goes on from the byte where it stopped.
        let k = 0;
        while (k < batch.length && bytesWritten >= batch[k]!.byteLength) bytesWritten -= batch[k++]!.byteLength;
        batch = batch.slice(k);
        if (batch.length) batch[0] = batch[0]!.subarray(bytesWritten);
      }
    }
  }

  private async flush(): Promise<void> {
    if (!this.buffer) return;
    const chunk = this.buffer;
    this.buffer = '';
    await this.fh.write(chunk);
  }

  /** Run `fn` once the shard is in place (e.g. drop the ledger it was made from). */
  onCommit(fn: () => void): void {
    this.committed.push(fn);
  }

  /** Flush, sync and rename into place. */
  async commit(): Promise<void> {
    await this.flush();
    await this.fh.sync();
    await this.fh.close();
    await rename(this.tmp, this.path);
    for (const fn of this.committed) fn();
  }

  /** Drop the partial file (on error). */
  async abort(): Promise<void> {
    await this.fh.close().catch(() => undefined);
    await rm(this.tmp, { force: true });
  }
}

import { mkdir, open, readdir, rename, rm, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { tempPathFor } from './atomic.js';

/**
 * A JSONL shard written record by record, without holding the shard in memory, that appears under
 * its final name only on `commit()`: readers see the whole shard or none of it, so a task killed
 * midway leaves nothing behind but a dot-named temp file that shard listings ignore.
 */
export class JsonlWriter {
  private buffer = '';
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

  private async flush(): Promise<void> {
    if (!this.buffer) return;
    const chunk = this.buffer;
    this.buffer = '';
    await this.fh.write(chunk);
  }

  /** Flush, sync and rename into place. */
  async commit(): Promise<void> {
    await this.flush();
    await this.fh.sync();
    await this.fh.close();
    await rename(this.tmp, this.path);
  }

  /** Drop the partial file (on error). */
  async abort(): Promise<void> {
    await this.fh.close().catch(() => undefined);
    await rm(this.tmp, { force: true });
  }
}

/**
 * Write task `rank`'s kept shard and its side shard (`<sideDir>/<rank>.jsonl`: rejects, removed):
 * both appear when `fn` succeeds, neither when it throws. The side shard lands first; a crash
 * between the two renames only means the task reruns, since its marker comes later.
 */
export async function writeTaskShards(
  outputDir: string,
  rank: number,
  sideDir: string,
  fn: (kept: JsonlWriter, side: JsonlWriter) => Promise<void>,
): Promise<void> {
  const kept = await JsonlWriter.open(join(outputDir, `${rank}.jsonl`));
  const side = await JsonlWriter.open(join(outputDir, sideDir, `${rank}.jsonl`));
  try {
    await fn(kept, side);
    await side.commit();
    await kept.commit();
  } catch (err) {
    await kept.abort();
    await side.abort();
    throw err;
  }
}

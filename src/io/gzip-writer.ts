import { createWriteStream, mkdirSync, type WriteStream } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import { once } from 'node:events';
import { createGzip, type Gzip } from 'node:zlib';
import { tempPathFor } from './atomic.js';

/** A JSONL.gz file written record by record with bounded memory, appearing under its name only on `close()`. */
export class GzipJsonlWriter {
  rows = 0;
  bytes = 0;
  private readonly tmp: string;
  private readonly gzip: Gzip;
  private readonly file: WriteStream;

  constructor(readonly path: string) {
    mkdirSync(dirname(path), { recursive: true });
    this.tmp = tempPathFor(path);
    this.gzip = createGzip();
    this.file = createWriteStream(this.tmp);
    this.gzip.pipe(this.file);
  }

  async write(record: unknown): Promise<void> {
    const line = JSON.stringify(record) + '\n';
    this.rows++;
    this.bytes += line.length;
    if (!this.gzip.write(line)) await once(this.gzip, 'drain');
  }

  async close(): Promise<void> {
    this.gzip.end();
    await once(this.file, 'close');
    await rename(this.tmp, this.path);
  }

  async abort(): Promise<void> {
    this.gzip.destroy();
    this.file.destroy();
    await rm(this.tmp, { force: true });
  }
}

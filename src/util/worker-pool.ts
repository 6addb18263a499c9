import type { Worker } from 'node:worker_threads';
import { CosmoError } from './errors.js';
import { startWorkerThread } from './runtime.js';

/**
 * Worker threads running one module, each request to the next in turn, its reply matched back by
 * sequence number. A reply with `error` rejects its request; a worker that fails or exits fails
 * every request in flight and every later one.
 */
export class WorkerPool<Req extends { seq: number }, Reply extends { seq: number; error?: string }> {
  private readonly workers: Worker[];
  private readonly waiting = new Map<number, { resolve: (reply: Reply) => void; reject: (err: Error) => void }>();
  private seq = 0;
  private failure: Error | undefined;

  /** `name` says whose workers these are in errors, e.g. "dedup: a signature worker". */
  constructor(
    private readonly name: string,
    moduleUrl: URL,
    workerData: unknown,
    threads: number,
  ) {
    this.workers = Array.from({ length: threads }, () => {
      const w = startWorkerThread(moduleUrl, workerData);
      w.on('message', (msg: Reply) => {
        const waiter = this.waiting.get(msg.seq);
        this.waiting.delete(msg.seq);
        if (msg.error !== undefined) waiter?.reject(new CosmoError(`${name} failed: ${msg.error}`));
        else waiter?.resolve(msg);
      });
      w.on('error', (err) => this.fail(new CosmoError(`${name} failed: ${err.message}`, { cause: err })));
      w.on('exit', (code) => this.fail(new CosmoError(`${name} exited with code ${code}`)));
      return w;
    });
  }

  get threads(): number {
    return this.workers.length;
  }

  /** Send `msg` (its seq is set here) to the next worker in turn; `transfer` moves buffers rather than copying them. */
  send(msg: Req, transfer: ArrayBuffer[] = []): Promise<Reply> {
    if (this.failure) return Promise.reject(this.failure);
    msg.seq = this.seq++;
    const done = new Promise<Reply>((resolve, reject) => this.waiting.set(msg.seq, { resolve, reject }));
    this.workers[msg.seq % this.workers.length]!.postMessage(msg, transfer);
    return done;
  }

  private fail(err: Error): void {
    this.failure ??= err;
    for (const w of this.waiting.values()) w.reject(this.failure);
    this.waiting.clear();
  }

  async close(): Promise<void> {
    this.failure ??= new CosmoError(`${this.name} pool is closed`);
    const workers = this.workers.splice(0);
    for (const w of workers) w.removeAllListeners('exit');
    this.fail(this.failure);
    await Promise.all(workers.map((w) => w.terminate()));
  }
}

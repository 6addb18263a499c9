import { mkdirSync, openSync, closeSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { CosmoError, InterruptedError } from '../util/errors.js';
import { sleep } from '../util/sleep.js';

/**
 * One process per task at a time. Two processes working one task would pay for every request
 * twice and race on its ledger: a rerun started while an orphaned worker of a killed run is still
 * finishing, say. The lock is a file created exclusively, holding its owner's host and pid; a
 * lock whose owner died (same host, no such process) is taken over. A lock from another host
 * cannot be checked from here and is taken over too: on a cluster, the Slurm executor refuses to
 * submit while an earlier job of the stage is still queued, which covers that case.
 */

interface LockOwner {
  host: string;
  pid: number;
  since: string;
}

export const lockPath = (outputDir: string, rank: number) => join(outputDir, '.locks', `${rank}.lock`);

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function readOwner(file: string): LockOwner | undefined {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as LockOwner;
  } catch {
    return undefined; // gone, or half-written by an owner that died mid-write
  }
}

/** How long to wait for a live owner to let go (an orphan of a killed run stops within seconds) before giving up. */
const WAIT_MS = 15_000;

/** Take task `rank`'s lock, waiting a while for a live owner; returns the function that releases it. */
export async function acquireTaskLock(outputDir: string, rank: number, stage: string, signal?: AbortSignal, waitMs = WAIT_MS): Promise<() => void> {
  const file = lockPath(outputDir, rank);
  mkdirSync(join(outputDir, '.locks'), { recursive: true });
  const me: LockOwner = { host: hostname(), pid: process.pid, since: new Date().toISOString() };
  const until = Date.now() + waitMs;
  for (;;) {
    try {
      const fd = openSync(file, 'wx');
      writeSync(fd, JSON.stringify(me));
      closeSync(fd);
      return () => {
        if (readOwner(file)?.pid === me.pid) rmSync(file, { force: true });
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const owner = readOwner(file);
    const held = owner !== undefined && owner.host === me.host && owner.pid !== me.pid && alive(owner.pid);
    if (!held) {
      rmSync(file, { force: true });
      continue;
    }
    if (Date.now() > until)
      throw new CosmoError(
        `${stage} task ${rank} is being worked on by process ${owner.pid} (since ${owner.since}); ` +
          `wait for it to finish, or stop it (kill ${owner.pid}), then run again`,
      );
    await sleep(200, signal).catch(() => {
      throw new InterruptedError();
    });
  }
}

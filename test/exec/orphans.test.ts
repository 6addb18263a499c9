/** Workers die with their parent, and two processes never work one task. */
import { spawn, execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { acquireTaskLock, lockPath } from '../../src/exec/lock.js';
import { cosmo } from '../helpers/cli.js';
import { startMockOpenAI, type MockServer } from '../helpers/mock-openai.js';
import { makePrompts, writePrompts } from '../generate/helpers.js';

const servers: MockServer[] = [];
afterAll(async () => {
  await Promise.all(servers.map((s) => s.close()));
});

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};
/** The worker processes of a cosmo process (not, say, the esbuild service tsx starts). */
function workersOf(pid: number): number[] {
  try {
    return execFileSync('ps', ['-o', 'pid=,args=', '--ppid', String(pid)], { encoding: 'utf8' })
      .split('\n')
      .filter((l) => l.includes('pipeline/worker'))
      .map((l) => Number(l.trim().split(/\s+/)[0]));
  } catch {
    return []; // ps exits 1 when there is none
  }
}
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('worker processes', () => {
  it('stop within seconds when the parent is killed with SIGKILL, and ask nothing more', async () => {
    const server = await startMockOpenAI({ latencyMs: 200, completionTokens: 4, record: false });
    servers.push(server);
    const dir = mkdtempSync(join(tmpdir(), 'cosmo-orphans-'));
    writePrompts(join(dir, 'out'), makePrompts(3000), 1000);
    mkdirSync(join(dir, 'out'), { recursive: true });
    writeFileSync(
      join(dir, 'corpus.yaml'),
      [
        'output: out',
        'seeds: [{ kind: web, path: unused.jsonl }]',
        `generate: { tasks: 3, cache: false, engines: [{ type: openai, base_url: "${server.url}", model: m, concurrency: 8 }] }`,
        '',
      ].join('\n'),
    );
    const run = cosmo(['generate', 'corpus.yaml', '--workers', '3'], { cwd: dir });
    let workers: number[] = [];
    // Killed while the workers are busy generating (not while they start, when their first log line
    // to the dead parent's pipe would end them anyway).
    // Three tasks at once: one in the cosmo process, two in worker processes.
    for (let i = 0; i < 300 && (workers.length < 2 || server.stats.requests < 150); i++) {
      await sleep(100);
      workers = workersOf(run.pid);
    }
    expect(workers.length).toBe(2);
    run.kill('SIGKILL');
    // Its exit, not the close of its output: orphans holding that pipe would keep it open.
    await run.exited;
    // Within the workers' grace period (2 s) they are gone, and the server hears nothing new.
    for (let i = 0; i < 25 && workers.some(alive); i++) await sleep(100);
    expect(workers.filter(alive)).toEqual([]);
    const after = server.stats.requests;
    await sleep(1000);
    expect(server.stats.requests).toBe(after);
  }, 60_000);
});

describe('the task lock', () => {
  it('refuses a second process while the first is alive, and takes over from one that died', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cosmo-lock-'));
    const other = spawn('sleep', ['30']);
    mkdirSync(join(dir, '.locks'), { recursive: true });
    writeFileSync(lockPath(dir, 0), JSON.stringify({ host: hostname(), pid: other.pid, since: new Date().toISOString() }));
    await expect(acquireTaskLock(dir, 0, 'generate', undefined, 300)).rejects.toThrow(`generate task 0 is being worked on by process ${other.pid}`);
    other.kill('SIGKILL');
    await new Promise((r) => other.once('exit', r));
    const release = await acquireTaskLock(dir, 0, 'generate', undefined, 300);
    expect(JSON.parse(readFileSync(lockPath(dir, 0), 'utf8')).pid).toBe(process.pid);
    release();
    expect(existsSync(lockPath(dir, 0))).toBe(false);
  });
});

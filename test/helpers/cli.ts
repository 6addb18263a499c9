import { spawn } from 'node:child_process';
import { resolve } from 'node:path';

export const ROOT = resolve(import.meta.dirname, '../..');

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Run a command as a user would (a real process), collecting its output. */
export function run(
  cmd: string,
  args: string[],
  opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {},
): { done: Promise<CliResult>; exited: Promise<void>; kill(sig?: NodeJS.Signals): void; pid: number } {
  const child = spawn(cmd, args, { cwd: opts.cwd ?? ROOT, env: opts.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const done = new Promise<CliResult>((res) => child.on('close', (code) => res({ code, stdout, stderr })));
  const exited = new Promise<void>((res) => child.on('exit', () => res()));
  return { done, exited, kill: (sig = 'SIGKILL') => child.kill(sig), pid: child.pid! };
}

/** The checkout's CLI (`bin/cosmo.js`), run with `args` from `cwd`. */
export const cosmo = (args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}) => run(process.execPath, [resolve(ROOT, 'bin/cosmo.js'), ...args], opts);

/**
 * Brings up the real one-node Slurm cluster of scripts/slurm-up.sh (installing it when missing) and
 * points this process, and every sbatch/squeue it runs, at it through SLURM_CONF. A cluster the tests
 * start is stopped when they end (test/global-setup.ts); one that was running before is left alone.
 */
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const UP = fileURLToPath(new URL('../../scripts/slurm-up.sh', import.meta.url));
export const DOWN = fileURLToPath(new URL('../../scripts/slurm-down.sh', import.meta.url));
export const SLURM_STATE = process.env.COSMO_SLURM_DIR ?? '/tmp/cosmo-slurm';
/** Left in the state folder when this test run started the cluster: the run stops it at the end. */
export const STARTED_BY_TESTS = join(SLURM_STATE, 'started-by-tests');

/** Idempotent: cheap when the cluster is already up. Returns the SLURM_CONF path. */
export function ensureSlurm(): string {
  const out = execFileSync('bash', [UP], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], timeout: 900_000 });
  const conf = /export SLURM_CONF=(\S+)/.exec(out)?.[1];
  if (!conf) throw new Error(`scripts/slurm-up.sh printed no SLURM_CONF line:\n${out}`);
  if (out.includes('# started')) writeFileSync(STARTED_BY_TESTS, `${process.pid}\n`);
  process.env.SLURM_CONF = conf;
  return conf;
}

/** This user's jobs in the queue (array tasks one per line), as "jobid|name|state". */
export function queueOf(namePrefix: string): string[] {
  const out = execFileSync('squeue', ['--noheader', '--array', '--me', '--format=%i|%j|%T'], { encoding: 'utf8' });
  return out
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && l.split('|')[1]?.startsWith(namePrefix));
}

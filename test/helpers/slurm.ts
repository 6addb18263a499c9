/**
 * Brings up the real one-node Slurm cluster of scripts/slurm-up.sh (installing it when missing) and
 * points this process, and every sbatch/squeue it runs, at it through SLURM_CONF.
 */
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const UP = fileURLToPath(new URL('../../scripts/slurm-up.sh', import.meta.url));

/** Idempotent: cheap when the cluster is already up. Returns the SLURM_CONF path. */
export function ensureSlurm(): string {
  const out = execFileSync('bash', [UP], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], timeout: 600_000 });
  const conf = /export SLURM_CONF=(\S+)/.exec(out)?.[1];
  if (!conf) throw new Error(`scripts/slurm-up.sh printed no SLURM_CONF line:\n${out}`);
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

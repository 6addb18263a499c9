/** Once per test run: a Slurm cluster that the tests started is stopped at the end; one running before them is left alone. */
import { execFileSync } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { DOWN, STARTED_BY_TESTS } from './helpers/slurm.js';

export function setup(): void {
  // A marker left by an earlier run that was killed before its teardown.
  rmSync(STARTED_BY_TESTS, { force: true });
}

export function teardown(): void {
  if (!existsSync(STARTED_BY_TESTS)) return;
  execFileSync('bash', [DOWN], { stdio: 'inherit' });
  rmSync(STARTED_BY_TESTS, { force: true });
}

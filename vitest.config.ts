import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/global-setup.ts'],
    // Limits are safety nets, not measures: the integration tests run real engines, servers and Slurm
    // jobs, and a busy 2-core machine can make them several times slower than on a quiet one.
    testTimeout: 240_000,
    hookTimeout: 900_000,
    // Two cores cannot run many integration tests at once.
    maxWorkers: 2,
    // Caches (decontamination indexes) go to a folder of the test runs, not the home folder.
    env: { COSMO_CACHE: join(tmpdir(), 'cosmo-test-cache') },
  },
});

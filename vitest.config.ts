import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // Integration tests spawn real engines, servers and Slurm jobs; two cores cannot run many at once.
    maxWorkers: 2,
  },
});

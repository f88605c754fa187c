import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Integration tests spawn real processes and containers; keep parallelism within 2 cores.
    maxWorkers: 2,
    minWorkers: 1,
  },
});

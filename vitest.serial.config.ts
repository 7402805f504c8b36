import { defineConfig } from 'vitest/config';

/**
 * Tests that stop and start the shared Postgres: they run alone, one file at a time, after
 * the main suite (`npm test` runs both), so no other test sees the outage.
 */
export default defineConfig({
  test: {
    include: ['test/**/*.serial.test.ts'],
    fileParallelism: false,
    testTimeout: 120_000,
    hookTimeout: 60_000,
    expect: { poll: { timeout: 10_000 } },
  },
});

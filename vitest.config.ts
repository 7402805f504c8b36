import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts', 'test/**/*.test.tsx'],
    testTimeout: 20_000,
    hookTimeout: 30_000,
    // Tests that stop and start Postgres run alone, after everything else (see npm test).
    exclude: ['**/node_modules/**', 'test/**/*.serial.test.ts'],
  },
});

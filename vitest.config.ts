import { defineConfig } from 'vitest/config';

export default defineConfig({
  // Component tests (test/web-console/*.test.tsx) render Preact: automatic JSX runtime.
  oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
  test: {
    include: ['test/**/*.test.ts', 'test/**/*.test.tsx'],
    testTimeout: 20_000,
    hookTimeout: 30_000,
    // Tests that stop and start Postgres run alone, after everything else (see npm test).
    exclude: ['**/node_modules/**', 'test/**/*.serial.test.ts'],
  },
});

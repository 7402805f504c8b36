import { defineConfig } from 'vitest/config';

export default defineConfig({
  // Component tests (test/web-console/*.test.tsx) render Preact: automatic JSX runtime.
  oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
  test: {
    include: ['test/**/*.test.ts', 'test/**/*.test.tsx'],
    testTimeout: 20_000,
    hookTimeout: 60_000,
    // expect.poll waits on a condition (an audit row, a delivered event); on a loaded 2-core
    // machine the default 1 s is too short for the audit shipper's first read of a new session.
    expect: { poll: { timeout: 10_000 } },
    // Tests that stop and start Postgres run alone, after everything else (see npm test).
    exclude: ['**/node_modules/**', 'test/**/*.serial.test.ts'],
  },
});

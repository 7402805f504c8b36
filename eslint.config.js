import { defineConfig, globalIgnores } from 'eslint/config';
import tseslint from 'typescript-eslint';

/*
 * The domain and the wire contract stay free of infrastructure: command handling is a
 * pure function over interfaces, and shared/ is imported by the browser console too.
 * Type-only imports count: the domain should not even know these types.
 */
const infrastructure = {
  patterns: [
    {
      regex: '^(ioredis|pg|ws)(/.*)?$',
      message: 'server/domain and shared/ use interfaces only; Redis, Postgres and sockets live in adapters.',
    },
    {
      regex: '^(drizzle-orm|fastify|@fastify/|@electric-sql/)',
      message: 'server/domain and shared/ use interfaces only; drizzle, Fastify and PGlite live in adapters.',
    },
  ],
};

export default defineConfig([
  globalIgnores([
    '**/node_modules/',
    '**/dist/',
    'migrations/',
    'data/',
    'web-console/dist/',
    'coverage/',
    'artifacts/',
    'bench/results/',
  ]),
  tseslint.configs.recommended,
  {
    rules: {
      /*
       * A warning, not an error: an unused import is noise, not a bug, and must not fail
       * CI for a file half-way through a change. `_name` marks a parameter kept for a
       * signature (handler maps, interfaces).
       */
      '@typescript-eslint/no-unused-vars': [
        'warn',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrorsIgnorePattern: '^_' },
      ],
    },
  },
  {
    files: ['server/domain/**', 'shared/**'],
    rules: { 'no-restricted-imports': ['error', infrastructure] },
  },
]);

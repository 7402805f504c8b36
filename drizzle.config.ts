import { defineConfig } from 'drizzle-kit';

/*
 * `npm run db:generate` writes SQL migrations from the schema into migrations/, which are
 * committed and never edited once released. They are applied by `npm run db:migrate`
 * (server/cli/migrate.ts) and on start, under an advisory lock: not by drizzle-kit.
 */
export default defineConfig({
  dialect: 'postgresql',
  schema: './server/audit/schema.ts',
  out: './migrations',
  strict: true,
  ...(process.env.DATABASE_URL ? { dbCredentials: { url: process.env.DATABASE_URL } } : {}),
});

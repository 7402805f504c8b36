import { drizzle } from 'drizzle-orm/node-postgres';
import pg from 'pg';
import { MIGRATIONS_FOLDER, migrateAuditDb } from '../audit/migrate.js';

/*
 * `npm run db:migrate`: applies migrations/ to the Postgres named by DATABASE_URL. The
 * embedded PGlite log needs no such step: it migrates itself on start.
 */
const url = process.env.DATABASE_URL;
if (!url) {
  console.error(
    'db:migrate: DATABASE_URL is not set. Set it to the audit database, e.g.\n' +
      '  DATABASE_URL=postgres://user@127.0.0.1:5432/cueroom npm run db:migrate\n' +
      '(the embedded PGlite audit log migrates itself on start and needs no DATABASE_URL)',
  );
  process.exit(2);
}

const pool = new pg.Pool({ connectionString: url, max: 1 });
// Without a listener an idle client's error would crash the process (node-postgres#2386).
pool.on('error', (error) => console.error('db:migrate: idle connection error:', error.message));
try {
  await migrateAuditDb(drizzle(pool), 'pg');
  console.log(`db:migrate: ${new URL(url).pathname.slice(1) || 'database'} is up to date with ${MIGRATIONS_FOLDER}`);
} catch (error) {
  console.error('db:migrate: failed:', error instanceof Error ? error.message : error);
  process.exitCode = 1;
} finally {
  await pool.end();
}

import { readFileSync } from 'node:fs';
import path from 'node:path';
import { drizzle } from 'drizzle-orm/node-postgres';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { createPgAuditLog } from '../../server/audit/drizzle-audit-log.js';
import { migrateAuditDb, MIGRATIONS_FOLDER } from '../../server/audit/migrate.js';
import { commandWithEvents } from '../support/audit-records.js';
import { serviceAvailable, TEST_DATABASE_URL, uniqueName } from '../support/services.js';
import { auditLogContract } from './audit-log.contract.js';

const postgresUp = await serviceAvailable('postgres');
/** Each migration is applied once, however many times migrate runs. */
const MIGRATION_COUNT = (
  JSON.parse(readFileSync(path.join(MIGRATIONS_FOLDER, 'meta/_journal.json'), 'utf8')) as { entries: unknown[] }
).entries.length;

function newPool(max = 4): pg.Pool {
  const pool = new pg.Pool({ connectionString: TEST_DATABASE_URL, max });
  pool.on('error', () => {});
  return pool;
}

async function dropSchema(schema: string): Promise<void> {
  const pool = newPool(1);
  try {
    await pool.query(`drop schema if exists "${schema}" cascade`);
  } finally {
    await pool.end();
  }
}

describe.skipIf(!postgresUp)('AuditLog on Postgres (node-postgres)', () => {
  describe('contract', () => {
    auditLogContract(async () => {
      const schema = uniqueName('audit_contract');
      const pool = newPool();
      const log = await createPgAuditLog(pool, { schema });
      return {
        log,
        dispose: async () => {
          await log.close();
          await pool.end();
          await dropSchema(schema);
        },
      };
    });
  });

  describe('migrations and the pool', () => {
    const schemas: string[] = [];
    const pools: pg.Pool[] = [];
    const schema = () => {
      const name = uniqueName('audit_migrate');
      schemas.push(name);
      return name;
    };
    const pool = (max?: number) => {
      const made = newPool(max);
      pools.push(made);
      return made;
    };

    afterAll(async () => {
      await Promise.all(pools.map((made) => made.end()));
      for (const name of schemas) await dropSchema(name);
    });

    it('runs twice without harm, keeping the rows', async () => {
      const name = schema();
      const shared = pool();
      const log = await createPgAuditLog(shared, { schema: name });
      await log.append(commandWithEvents('s-migrate', 1, 3));
      await migrateAuditDb(drizzle(shared), 'pg', { schema: name });
      await migrateAuditDb(drizzle(shared), 'pg', { schema: name });
      expect(await log.highestSeq('s-migrate')).toBe(3);
      const journal = await shared.query(`select count(*)::int as n from "${name}".__drizzle_migrations`);
      expect(journal.rows[0].n).toBe(MIGRATION_COUNT);
    });

    it('lets instances migrate at the same moment (advisory lock)', async () => {
      const name = schema();
      // Separate single-client pools: separate sessions, as separate instances would have.
      const instances = Array.from({ length: 6 }, () => pool(1));
      await Promise.all(instances.map((one) => migrateAuditDb(drizzle(one), 'pg', { schema: name })));
      const check = instances[0]!;
      const journal = await check.query(`select count(*)::int as n from "${name}".__drizzle_migrations`);
      expect(journal.rows[0].n).toBe(MIGRATION_COUNT);
      const table = await check.query(`select to_regclass('"${name}".audit_log') is not null as ok`);
      expect(table.rows[0].ok).toBe(true);
      // Each client went back to its pool without the lock.
      for (const one of instances) {
        const held = await one.query(
          `select count(*)::int as n from pg_locks where locktype = 'advisory' and pid = pg_backend_pid()`,
        );
        expect(held.rows[0].n).toBe(0);
      }
    });

    it('hands back the migration client with the default search_path', async () => {
      const name = schema();
      const single = pool(1);
      await migrateAuditDb(drizzle(single), 'pg', { schema: name });
      const { rows } = await single.query('show search_path');
      expect(rows[0].search_path).toBe('"$user", public');
    });

    it('refuses a pool without an error listener, and leaves the injected pool open on close', async () => {
      const bare = new pg.Pool({ connectionString: TEST_DATABASE_URL, max: 1 });
      await expect(createPgAuditLog(bare, { schema: schema() })).rejects.toThrow(/error/);
      await bare.end();

      const injected = pool(1);
      const log = await createPgAuditLog(injected, { schema: schema() });
      await log.close();
      const { rows } = await injected.query('select 1 as one');
      expect(rows[0].one).toBe(1);
    });
  });
});

import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { sql } from 'drizzle-orm';
import { drizzle as drizzlePg, type NodePgClient, type NodePgDatabase } from 'drizzle-orm/node-postgres';
import { migrate as migratePg } from 'drizzle-orm/node-postgres/migrator';
import type { PgliteDatabase } from 'drizzle-orm/pglite';
import { migrate as migratePglite } from 'drizzle-orm/pglite/migrator';
import pg from 'pg';

/**
 * The repo's migrations/ folder, found from this file rather than the working directory,
 * so `npm start`, the CLI and tests launched from anywhere read the same folder.
 */
export const MIGRATIONS_FOLDER = fileURLToPath(new URL('../../migrations/', import.meta.url));

/**
 * Key of the session-level advisory lock held around migrations. drizzle's migrate()
 * takes no lock of its own (drizzle-orm#874): two instances starting together would both
 * see the migration as missing and both run it. Arbitrary constant ("cueroom" in ASCII).
 */
export const MIGRATION_LOCK_KEY = 0x6375_6572_6f6f_6dn;

export interface MigrateOptions {
  /**
   * Postgres schema to migrate into, created if missing; its migration journal lives there
   * too, so schemas are independent (tests give each file its own). Default: none, i.e.
   * the first schema of the search_path (`public`), with the journal in `drizzle`.
   */
  schema?: string;
  /** Folder of drizzle-kit migrations. Default: MIGRATIONS_FOLDER. */
  migrationsFolder?: string;
}

/**
 * Applies the pending migrations of the audit log. Safe to run on every start and from
 * several instances at once. For 'pg' the db may sit on a Pool (one client is taken from
 * it for the whole run and given back) or on a single client.
 */
/** A node-postgres drizzle database as `drizzle(pool)` returns it. */
export type PgAuditDb = NodePgDatabase<Record<string, unknown>> & { $client: NodePgClient };
/** A PGlite drizzle database as `drizzle(pglite)` returns it. */
export type PgliteAuditDb = PgliteDatabase<Record<string, unknown>>;

export function migrateAuditDb(db: PgAuditDb, kind: 'pg', options?: MigrateOptions): Promise<void>;
export function migrateAuditDb(db: PgliteAuditDb, kind: 'pglite', options?: MigrateOptions): Promise<void>;
export async function migrateAuditDb(
  db: PgAuditDb | PgliteAuditDb,
  kind: 'pg' | 'pglite',
  options: MigrateOptions = {},
): Promise<void> {
  if (kind === 'pg') return migrateOnPostgres(db as PgAuditDb, options);
  return migrateOnPglite(db as PgliteAuditDb, options);
}

function config(options: MigrateOptions) {
  return {
    migrationsFolder: options.migrationsFolder ?? MIGRATIONS_FOLDER,
    ...(options.schema === undefined ? {} : { migrationsSchema: options.schema }),
  };
}

/** Time (`when`) of the newest migration in the folder's journal. */
function newestMigration(folder: string): number {
  const journal = JSON.parse(readFileSync(path.join(folder, 'meta', '_journal.json'), 'utf8')) as {
    entries: { when: number }[];
  };
  return Math.max(0, ...journal.entries.map((entry) => entry.when));
}

/**
 * Whether every migration is applied already, read without any DDL: the application's
 * role (`cueroom_app`, INSERT and SELECT only) may start a server on a database migrated
 * by its owner, while drizzle's migrate() always issues CREATE SCHEMA/TABLE IF NOT EXISTS,
 * which that role may not. Compares as drizzle does: the last applied `created_at`
 * against the newest migration's time. False when the journal table is missing or unreadable.
 */
async function upToDate(db: PgAuditDb, options: MigrateOptions): Promise<boolean> {
  const journal = sql`${sql.identifier(options.schema ?? 'drizzle')}.${sql.identifier('__drizzle_migrations')}`;
  try {
    const result = await db.execute(sql`select max(created_at)::text as last from ${journal}`);
    const last = (result.rows[0] as { last: string | null } | undefined)?.last;
    return last != null && Number(last) >= newestMigration(options.migrationsFolder ?? MIGRATIONS_FOLDER);
  } catch {
    return false;
  }
}

async function migrateOnPostgres(db: PgAuditDb, options: MigrateOptions): Promise<void> {
  if (await upToDate(db, options)) return;
  const source = db.$client;
  // The lock, the search_path and the migration must share one connection: an advisory
  // lock belongs to the session that took it, and a pool would spread the statements.
  const client = source instanceof pg.Pool ? await source.connect() : source;
  const pooled = source instanceof pg.Pool;
  let broken: Error | undefined;
  try {
    await client.query('select pg_advisory_lock($1::bigint)', [MIGRATION_LOCK_KEY.toString()]);
    try {
      const onClient = drizzlePg(client as pg.PoolClient);
      if (options.schema !== undefined) {
        // Under the lock: concurrent CREATE SCHEMA IF NOT EXISTS can still collide.
        await onClient.execute(sql`create schema if not exists ${sql.identifier(options.schema)}`);
        await onClient.execute(sql`set search_path to ${sql.identifier(options.schema)}`);
      }
      try {
        await migratePg(onClient, config(options));
      } finally {
        if (options.schema !== undefined) await client.query('reset search_path');
      }
    } finally {
      await client.query('select pg_advisory_unlock($1::bigint)', [MIGRATION_LOCK_KEY.toString()]);
    }
  } catch (error) {
    // A client that failed half-way may still hold the lock or a search_path: destroy it
    // rather than hand it back (ending the session also releases the lock).
    broken = error instanceof Error ? error : new Error(String(error));
    throw error;
  } finally {
    if (pooled) (client as pg.PoolClient).release(broken ?? false);
  }
}

async function migrateOnPglite(db: PgliteAuditDb, options: MigrateOptions): Promise<void> {
  // One PGlite instance is one connection in one process: nothing to lock against.
  if (options.schema !== undefined) {
    await db.execute(sql`create schema if not exists ${sql.identifier(options.schema)}`);
    await db.execute(sql`set search_path to ${sql.identifier(options.schema)}`);
  }
  try {
    await migratePglite(db, config(options));
  } finally {
    if (options.schema !== undefined) await db.execute(sql`reset search_path`);
  }
}

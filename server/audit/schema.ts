import { sql } from 'drizzle-orm';
import {
  bigint,
  bigserial,
  check,
  index,
  jsonb,
  pgSchema,
  pgTable,
  text,
  timestamp,
  uniqueIndex,
} from 'drizzle-orm/pg-core';

/** 'event' | 'command' | 'refused', as AuditRecord['type']. */
export type AuditEntryType = 'event' | 'command' | 'refused';

// A function, so each table gets its own column builders.
const columns = () => ({
  /** Insertion order over the whole log: the paging cursor. */
  id: bigserial('id', { mode: 'number' }).primaryKey(),
  sessionId: text('session_id').notNull(),
  /** Event seq; null for command and refused rows. */
  seq: bigint('seq', { mode: 'number' }),
  entryType: text('entry_type').$type<AuditEntryType>().notNull(),
  /** Event kind, or command kind ('unknown' when the command did not parse). */
  kind: text('kind').notNull(),
  at: timestamp('at', { withTimezone: true, mode: 'date' }).notNull(),
  actorId: text('actor_id').notNull(),
  actorName: text('actor_name').notNull(),
  actorRole: text('actor_role').notNull(),
  commandId: text('command_id').notNull(),
  /** Event: the body without its envelope. Command: { command, result }. Refused: { command, error }. */
  payload: jsonb('payload').notNull(),
  recordedAt: timestamp('recorded_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
  /**
   * Tamper evidence (server/audit/audit-chain.ts): the hash of the session's previous row
   * in insertion order ('' for its first), and sha256 over this row's content and that
   * one. Null only on rows written before the chain existed (migration 0001), which the
   * verifier reports as broken: the app always writes both.
   */
  prevHash: text('prev_hash'),
  hash: text('hash'),
});

/*
 * The unique indexes are what make a retried batch harmless (INSERT … ON CONFLICT DO
 * NOTHING): an event is one row per (session, seq), a command or a refusal one row per
 * (session, command id, entry type). Index names are schema-local in Postgres, so the
 * same migration can run in several schemas (one per test file).
 *
 * The audit log table, unqualified: it lives in the first schema of the search_path
 * (`public` in production). This is the table drizzle-kit generates migrations from.
 */
export const auditLog = pgTable('audit_log', columns(), (t) => [
  uniqueIndex('audit_log_session_seq_uq')
    .on(t.sessionId, t.seq)
    .where(sql`seq is not null`),
  uniqueIndex('audit_log_session_command_uq')
    .on(t.sessionId, t.commandId, t.entryType)
    .where(sql`entry_type <> 'event'`),
  index('audit_log_session_id_idx').on(t.sessionId, t.id),
  // Cross-session searches ("sessions with a sev1 this week") go by kind and time.
  index('audit_log_kind_at_idx').on(t.kind, t.at),
  check('audit_log_entry_type_ck', sql`entry_type in ('event', 'command', 'refused')`),
  // Events and only events carry a seq: the two partial unique indexes rely on it.
  check('audit_log_seq_ck', sql`(entry_type = 'event') = (seq is not null)`),
]);
export type AuditLogTable = typeof auditLog;
export type AuditLogRow = typeof auditLog.$inferSelect;
export type NewAuditLogRow = typeof auditLog.$inferInsert;

/**
 * The same table qualified by a Postgres schema, for queries against a log migrated into
 * that schema (tests give every file its own). Same columns, so the same row types; the
 * cast only erases the schema name from the type.
 */
export function auditLogIn(schema: string | undefined): AuditLogTable {
  if (schema === undefined || schema === 'public') return auditLog;
  return pgSchema(schema).table('audit_log', columns()) as unknown as AuditLogTable;
}

import type { SessionEvent } from '../../shared/events.js';
import type { AuditRecord } from '../store/session-store.js';
import type { VerifyResult } from './audit-chain.js';

/** One row of the audit log as read back. */
export interface AuditRow {
  /** Position in the whole log (insertion order); the paging cursor. */
  id: number;
  sessionId: string;
  /** Event seq; null for command and refused rows. */
  seq: number | null;
  /** 'event' | 'command' | 'refused' */
  entryType: AuditRecord['type'];
  /** Event kind, or command kind (`unknown` when the command did not parse). */
  kind: string;
  at: Date;
  actorId: string;
  actorName: string;
  actorRole: string;
  commandId: string;
  payload: unknown;
}

export interface AuditQuery {
  /** Rows with an id above this one (the last id of the previous page). Default: from the start. */
  afterId?: number;
  /** Page size, at most MAX_AUDIT_PAGE (larger values are clamped). */
  limit: number;
  entryType?: AuditRecord['type'];
  kind?: string;
  actorId?: string;
  actorRole?: string;
  /** Rows at or after this time. */
  from?: Date;
  /** Rows before this time. */
  to?: Date;
}

/** Filters of an export or a search: a query without paging, optionally on one session. */
export type AuditFilter = Omit<AuditQuery, 'afterId' | 'limit'> & {
  sessionId?: string;
  /** Incident rows whose incident has this severity (events `incident.*` only). */
  severity?: string;
};

/** A session matched by a cross-session search. */
export interface AuditSearchHit {
  sessionId: string;
  rows: number;
  firstAt: Date;
  lastAt: Date;
}

/** Formats of `AuditArchive.exportText`. */
export type AuditExportFormat = 'csv' | 'ndjson';

/** Columns of the CSV export, in order (the header line `exportText` leaves to its caller). */
export const AUDIT_CSV_COLUMNS = [
  'id',
  'session_id',
  'seq',
  'entry_type',
  'kind',
  'at',
  'actor_id',
  'actor_name',
  'actor_role',
  'command_id',
  'payload',
  'hash',
] as const;

/** Largest page `read` returns. */
export const MAX_AUDIT_PAGE = 1000;

/**
 * Thrown by `append`, before anything is written, for a record no retry could ever store
 * (a seq that is not a positive integer, a time that is not a date, a missing actor
 * field). A writer must not retry it: it rejects the write that carried the record.
 */
export class InvalidAuditRecordError extends Error {
  readonly record: unknown;

  constructor(message: string, record: unknown) {
    super(message);
    this.record = record;
    this.name = 'InvalidAuditRecordError';
  }
}

/**
 * The append-only audit log: Postgres in production, PGlite embedded, both through drizzle
 * and one set of migrations. Appends are idempotent: an event is unique by (session, seq),
 * a command or refused row by (session, command id, entry type), so a retried batch
 * writes nothing twice.
 */
export interface AuditLog {
  /**
   * Stores the records, skipping those already held; the whole call lands or nothing does.
   * Throws InvalidAuditRecordError for a record that can never be stored.
   */
  append(records: readonly AuditRecord[]): Promise<void>;
  /** A page of a session's rows in id order, optionally of one entry type and/or kind. */
  read(sessionId: string, query: AuditQuery): Promise<AuditRow[]>;
  /** Highest event seq of the session held by the log (0 if none): the audit floor. */
  highestSeq(sessionId: string): Promise<number>;
  /** Ids of every session that has rows. */
  sessionIds(): Promise<string[]>;
  /**
   * Every event of a session in seq order, in pages (non-empty arrays, as the database
   * hands them over), for folding: rebuilding state on start (embedded mode), the review,
   * the state as of a time. Pages, not single events: a long session is 100,000 events,
   * and an await per event cost more than folding it.
   */
  eventPages(sessionId: string): AsyncIterable<readonly SessionEvent[]>;
  /** Answers when the database does (for /readyz). */
  ping(): Promise<void>;
  close(): Promise<void>;
}

/**
 * What the review needs of the log beyond `AuditLog`: the hash chain, exports, searches.
 * Both real logs (DrizzleAuditLog on Postgres and PGlite) have it; a wrapper in a test
 * may not.
 */
export interface AuditArchive extends AuditLog {
  /** Walks the session's hash chain and reports the first broken row, or that it holds. */
  verify(sessionId: string): Promise<VerifyResult>;
  /** Every matching row in id order, read in keyset pages: memory stays at one page. */
  scan(filter: AuditFilter): AsyncIterable<AuditRow & { hash: string | null }>;
  /**
   * The matching rows as export text, in id order, in chunks of whole lines: CSV lines
   * (AUDIT_CSV_COLUMNS, no header; cells as `csvCell` writes them, payload as JSON) or
   * NDJSON (the fields of `scan`'s rows, `at` in ISO 8601). Memory stays at a page or two.
   * A chunk is a string or its UTF-8 bytes (Postgres passes the database's bytes on, never
   * decoded).
   */
  exportText(filter: AuditFilter, format: AuditExportFormat): AsyncIterable<string | Buffer>;
  /** Sessions with matching rows, with how many and when; most recent first, at most `limit`. */
  searchSessions(filter: AuditFilter, limit: number): Promise<AuditSearchHit[]>;
}

export function isAuditArchive(log: AuditLog): log is AuditArchive {
  return typeof (log as Partial<AuditArchive>).verify === 'function';
}

import type { ErrorBody } from '../../shared/protocol.js';
import type { SessionEvent } from '../../shared/events.js';
import type { SessionState } from '../../shared/model.js';
import type { Actor } from '../../shared/roles.js';

/** What a command came to: the seqs of its events, or the error it was refused with. */
export type CommandResult =
  | { ok: true; seq: number; lastSeq: number }
  | { ok: false; error: ErrorBody };

/** The command as received, for the audit log. */
export interface CommandRecord {
  sessionId: string;
  commandId: string;
  at: number;
  actor: Actor;
  /** The parsed command (`kind` plus fields), or the raw input when it did not parse. */
  command: unknown;
}

/**
 * One row-to-be of the audit log. A stream of these per session is what every backend
 * keeps durable until the audit log holds it.
 */
export type AuditRecord =
  | { type: 'event'; sessionId: string; event: SessionEvent }
  | ({ type: 'command'; result: Extract<CommandResult, { ok: true }> } & CommandRecord)
  | ({ type: 'refused'; result: Extract<CommandResult, { ok: false }> } & CommandRecord);

export interface ApplyInput {
  record: CommandRecord;
  /** The seq the state had when the command was decided; the apply fails with `conflict` if the session moved on. */
  expectedSeq: number;
  /** Events already stamped with seq expectedSeq+1, expectedSeq+2, … (at least one). */
  events: SessionEvent[];
}

export type ApplyOutcome =
  | { status: 'applied'; result: Extract<CommandResult, { ok: true }> }
  /** The command id was seen before: its first result, nothing written. */
  | { status: 'duplicate'; result: CommandResult }
  /** Someone else appended first; reload, decide again. */
  | { status: 'conflict'; currentSeq: number };

export interface SessionSummary {
  id: string;
  title: string;
  status: SessionState['status'];
  createdAt: number;
  seq: number;
}

/**
 * Where the live state of sessions lives. Memory (embedded default) and Redis implement it
 * and pass one contract suite (test/contract/session-store.contract.ts).
 *
 * Every method is safe to call concurrently from several instances (for Redis) or several
 * requests (for memory): `apply` is atomic and idempotent by command id.
 */
export interface SessionStore {
  /**
   * The latest state of a session, or null if it does not exist. The caller may keep and
   * mutate the returned object (it is a copy, or the store's own cache for memory stores
   * which callers must not mutate — treat it as read-only).
   */
  load(sessionId: string): Promise<SessionState | null>;

  /**
   * ONE atomic step: if `record.commandId` was seen for this session, return its stored
   * result and write nothing; if the session's seq is not `expectedSeq`, return conflict;
   * otherwise append the events (and the command record, for the audit), advance the
   * seq, remember commandId → result, and make the events visible to `readSince` and to
   * feeds. `expectedSeq: 0` with a first event `session.created` creates the session.
   */
  apply(input: ApplyInput): Promise<ApplyOutcome>;

  /**
   * Audit a refused command and remember its result for the command id, so a retry is
   * answered the same. Returns the stored result (the first one if the id was seen).
   */
  refuse(record: CommandRecord, error: ErrorBody): Promise<CommandResult>;

  /** The stored result of a command id, or null if never seen (or expired, after a day). */
  result(sessionId: string, commandId: string): Promise<CommandResult | null>;

  /**
   * Events with seq > afterSeq, in order. Null when some of them are no longer retained
   * (the caller then sends a snapshot with `recovered: false`).
   */
  readSince(sessionId: string, afterSeq: number): Promise<SessionEvent[] | null>;

  /** Sessions known to the store, newest first. */
  list(): Promise<SessionSummary[]>;

  /** Stops background work; does not close injected clients. */
  close(): Promise<void>;
}

/**
 * Delivers the events of sessions to this instance, for its consoles.
 */
export interface EventFeed {
  /**
   * Calls `onEvents` with every event of the session with seq > afterSeq, in seq order,
   * with no gap and no duplicate, until the returned function is called. Batches may hold
   * several events.
   */
  subscribe(sessionId: string, afterSeq: number, onEvents: (events: SessionEvent[]) => void): () => void;
  close(): Promise<void>;
}

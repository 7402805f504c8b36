import type { ErrorBody } from '../../shared/protocol.js';
import type { SessionEvent } from '../../shared/events.js';
import type { SessionState } from '../../shared/model.js';
import type { Actor } from '../../shared/roles.js';

/** What a command came to: the seqs of its events, or the error it was refused with. */
export type CommandResult = { ok: true; seq: number; lastSeq: number } | { ok: false; error: ErrorBody };

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
   * The latest state of a session, or null if it does not exist. The object may be the
   * store's own (no copy per call: a session can hold thousands of questions): never
   * mutate it, and read what you need before your next `await`, after which a later
   * command may have folded into it. Clone (`cloneState`) what you keep longer.
   */
  load(sessionId: string): Promise<SessionState | null>;

  /**
   * The state this process holds for the session without asking anyone, possibly behind
   * the store's (another instance applied since), or null when it holds none. Same rules
   * as `load`'s result. A decision on it is safe only through `apply`'s compare-and-set.
   */
  peek?(sessionId: string): SessionState | null;

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

export interface SubscribeOptions {
  /**
   * Called (once, instead of any further `onEvents`) when events after the subscription's
   * position are no longer retained, so delivering them without a gap is impossible; the
   * subscription is over. The caller sends a snapshot and subscribes again from its seq.
   * Default: the feed reports it on stderr.
   */
  onLost?: () => void;
}

/**
 * Delivers the events of sessions to this instance, for its consoles.
 */
export interface EventFeed {
  /**
   * Calls `onEvents` with every event of the session with seq > afterSeq, in seq order,
   * with no gap and no duplicate, until the returned function is called. Batches may hold
   * several events. Calls are asynchronous (never from inside `subscribe`).
   */
  subscribe(
    sessionId: string,
    afterSeq: number,
    onEvents: (events: SessionEvent[]) => void,
    options?: SubscribeOptions,
  ): () => void;
  /**
   * Events this instance has just applied to the store, for its own subscribers now rather
   * than after the store's next read. Optional: a feed that is immediate already has no
   * need. The events still arrive from the store too; the feed delivers each once.
   */
  publish?(sessionId: string, events: readonly SessionEvent[]): void;
  close(): Promise<void>;
}

/**
 * Checks what every store requires of an apply before touching anything: at least one
 * event, seqs expectedSeq+1… in order, and a session is created by `session.created` of
 * its own id. A failure is a bug of the caller, thrown as a TypeError.
 */
export function validateApplyInput({ record, expectedSeq, events }: ApplyInput): void {
  if (!Number.isSafeInteger(expectedSeq) || expectedSeq < 0)
    throw new TypeError(`expectedSeq must be a non-negative integer, got ${expectedSeq}`);
  if (events.length === 0) throw new TypeError('apply needs at least one event');
  events.forEach((event, index) => {
    if (event.seq !== expectedSeq + 1 + index) {
      throw new TypeError(
        `event ${index} of command ${record.commandId} has seq ${event.seq}, expected ${expectedSeq + 1 + index}`,
      );
    }
  });
  const first = events[0]!;
  if ((expectedSeq === 0) !== (first.kind === 'session.created')) {
    throw new TypeError('a session is created by applying session.created at expectedSeq 0, and only then');
  }
  if (first.kind === 'session.created' && first.sessionId !== record.sessionId) {
    throw new TypeError(`session.created for ${first.sessionId} applied to session ${record.sessionId}`);
  }
}

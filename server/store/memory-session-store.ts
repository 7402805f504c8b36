import type { ErrorBody } from '../../shared/protocol.js';
import type { SessionEvent } from '../../shared/events.js';
import type { SessionState } from '../../shared/model.js';
import { evolve, initialState } from '../domain/index.js';
import type {
  ApplyInput,
  ApplyOutcome,
  AuditRecord,
  CommandRecord,
  CommandResult,
  EventFeed,
  SessionStore,
  SessionSummary,
} from './session-store.js';

export interface MemorySessionStoreOptions {
  /** Recent events kept per session for replay to resuming consoles. Default 10 000. */
  retainEvents?: number;
  /** Command results remembered per session for idempotency (oldest forgotten first). Default 100 000. */
  retainResults?: number;
  /**
   * Awaited after a command is applied in memory and before it is answered or its events
   * reach any console: embedded mode writes the records to PGlite here (group commit), so
   * nothing acknowledged is lost across a restart. Default: nothing (purely in memory).
   */
  onCommit?: (records: AuditRecord[]) => Promise<void>;
}

interface MemorySession {
  state: SessionState;
  /** Ring of the latest events, oldest first; `events[0].seq` is the oldest replayable. */
  events: SessionEvent[];
  results: Map<string, CommandResult>;
  /** Commits still being made durable, in order: feeds publish strictly in seq order. */
  publishing: Promise<void>;
}

/**
 * The embedded session store: state and recent events in this process. Single instance
 * only. Atomicity comes from JavaScript's single thread: the idempotency check, the
 * version check and the state change of `apply` run with no await in between.
 */
export class MemorySessionStore implements SessionStore {
  private readonly sessions = new Map<string, MemorySession>();
  private readonly retainEvents: number;
  private readonly retainResults: number;
  private readonly onCommit: MemorySessionStoreOptions['onCommit'];
  private readonly listeners = new Map<string, Set<(events: SessionEvent[]) => void>>();

  constructor(options: MemorySessionStoreOptions = {}) {
    this.retainEvents = options.retainEvents ?? 10_000;
    this.retainResults = options.retainResults ?? 100_000;
    this.onCommit = options.onCommit;
  }

  /** The feed of this store: events are published once committed, in seq order. */
  readonly feed: EventFeed = {
    subscribe: (sessionId, afterSeq, onEvents) => this.subscribe(sessionId, afterSeq, onEvents),
    close: async () => {
      this.listeners.clear();
    },
  };

  async load(sessionId: string): Promise<SessionState | null> {
    return this.sessions.get(sessionId)?.state ?? null;
  }

  async apply(input: ApplyInput): Promise<ApplyOutcome> {
    const { record, expectedSeq, events } = input;
    if (events.length === 0) throw new TypeError('apply needs at least one event');
    let session = this.sessions.get(record.sessionId);
    const seen = session?.results.get(record.commandId);
    if (seen) return { status: 'duplicate', result: seen };
    const currentSeq = session?.state.seq ?? 0;
    if (currentSeq !== expectedSeq) return { status: 'conflict', currentSeq };
    events.forEach((event, i) => {
      if (event.seq !== expectedSeq + 1 + i) throw new TypeError(`event seq ${event.seq} should be ${expectedSeq + 1 + i}`);
    });
    if (!session) {
      if (events[0]!.kind !== 'session.created') return { status: 'conflict', currentSeq: 0 };
      session = { state: initialState(record.sessionId), events: [], results: new Map(), publishing: Promise.resolve() };
      this.sessions.set(record.sessionId, session);
    }
    for (const event of events) {
      evolve(session.state, event);
      session.events.push(event);
    }
    if (session.events.length > this.retainEvents) session.events.splice(0, session.events.length - this.retainEvents);
    const result = { ok: true as const, seq: events[0]!.seq, lastSeq: events[events.length - 1]!.seq };
    this.remember(session, record.commandId, result);

    const records: AuditRecord[] = [
      { type: 'command', ...record, result },
      ...events.map((event): AuditRecord => ({ type: 'event', sessionId: record.sessionId, event })),
    ];
    await this.commitThenPublish(session, record.sessionId, records, events);
    return { status: 'applied', result };
  }

  async refuse(record: CommandRecord, error: ErrorBody): Promise<CommandResult> {
    const session = this.sessions.get(record.sessionId);
    const result: CommandResult = { ok: false, error };
    if (session) {
      const seen = session.results.get(record.commandId);
      if (seen) return seen;
      this.remember(session, record.commandId, result);
    }
    await this.onCommit?.([{ type: 'refused', ...record, result }]);
    return result;
  }

  async result(sessionId: string, commandId: string): Promise<CommandResult | null> {
    return this.sessions.get(sessionId)?.results.get(commandId) ?? null;
  }

  async readSince(sessionId: string, afterSeq: number): Promise<SessionEvent[] | null> {
    const session = this.sessions.get(sessionId);
    if (!session) return null;
    if (afterSeq >= session.state.seq) return [];
    const oldest = session.events[0]?.seq ?? session.state.seq + 1;
    if (afterSeq + 1 < oldest) return null;
    return session.events.slice(afterSeq + 1 - oldest);
  }

  async list(): Promise<SessionSummary[]> {
    return [...this.sessions.values()]
      .map(({ state }) => ({ id: state.id, title: state.title, status: state.status, createdAt: state.createdAt, seq: state.seq }))
      .sort((a, b) => b.createdAt - a.createdAt);
  }

  /**
   * Puts back a session rebuilt from the audit log at start (embedded mode): its state and
   * the tail of its events, so consoles can still resume across the restart.
   */
  restore(state: SessionState, recentEvents: SessionEvent[]): void {
    this.sessions.set(state.id, {
      state,
      events: recentEvents.slice(-this.retainEvents),
      results: new Map(),
      publishing: Promise.resolve(),
    });
  }

  async close(): Promise<void> {
    this.listeners.clear();
  }

  private remember(session: MemorySession, commandId: string, result: CommandResult): void {
    session.results.set(commandId, result);
    if (session.results.size > this.retainResults) {
      const oldest = session.results.keys().next().value;
      if (oldest !== undefined) session.results.delete(oldest);
    }
  }

  /**
   * Durability first, then the consoles: the events are published only once the commit
   * resolved, and strictly after the previous command's, so feeds never see seq out of order.
   */
  private async commitThenPublish(
    session: MemorySession,
    sessionId: string,
    records: AuditRecord[],
    events: SessionEvent[],
  ): Promise<void> {
    const committed = this.onCommit ? this.onCommit(records) : Promise.resolve();
    const previous = session.publishing;
    const published = Promise.all([committed, previous]).then(() => this.publish(sessionId, events));
    session.publishing = published.catch(() => undefined);
    await published;
  }

  private publish(sessionId: string, events: SessionEvent[]): void {
    const listeners = this.listeners.get(sessionId);
    if (!listeners) return;
    for (const listener of listeners) listener(events);
  }

  private subscribe(sessionId: string, afterSeq: number, onEvents: (events: SessionEvent[]) => void): () => void {
    // Events committed but not yet published are delivered by the publisher; anything at
    // or below afterSeq is skipped, so a late subscriber sees no duplicate.
    let cursor = afterSeq;
    const listener = (events: SessionEvent[]) => {
      const fresh = events[0] && events[0].seq > cursor ? events : events.filter((event) => event.seq > cursor);
      if (fresh.length === 0) return;
      cursor = fresh[fresh.length - 1]!.seq;
      onEvents(fresh);
    };
    let set = this.listeners.get(sessionId);
    if (!set) {
      set = new Set();
      this.listeners.set(sessionId, set);
    }
    set.add(listener);
    return () => {
      set.delete(listener);
      if (set.size === 0) this.listeners.delete(sessionId);
    };
  }
}

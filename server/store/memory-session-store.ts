import { ErrorCode } from '../../shared/errors.js';
import type { SessionEvent } from '../../shared/events.js';
import type { SessionState } from '../../shared/model.js';
import type { ErrorBody } from '../../shared/protocol.js';
import { cloneState, evolve, initialState } from '../domain/evolve.js';
import { CueroomError } from '../errors.js';
import type {
  ApplyInput,
  ApplyOutcome,
  AuditRecord,
  CommandRecord,
  CommandResult,
  EventFeed,
  SessionStore,
  SessionSummary,
  SubscribeOptions,
} from './session-store.js';
import { validateApplyInput } from './session-store.js';

type OkResult = Extract<CommandResult, { ok: true }>;

export interface MemorySessionStoreOptions {
  /** How many recent events per session are kept for replay (`readSince`, feeds). Default 10_000. */
  retainEvents?: number;
  /**
   * Awaited with the audit records of each command after its state change is reserved and
   * before its result is returned or its events reach `readSince` and feeds. Embedded mode
   * passes the PGlite writer here (which groups concurrent calls into one commit), so a
   * command is durable before it is acknowledged. Default: none (nothing outlives the process).
   */
  onCommit?: (records: AuditRecord[]) => Promise<void>;
  /** How long a command result is remembered for retries, in ms. Default 86_400_000 (a day). */
  resultTtlMs?: number;
  /** Most command results remembered over all sessions; the oldest are forgotten first. Default 200_000. */
  maxResults?: number;
  /** First delay before `onCommit` is retried for an applied command whose commit failed, in ms. Default 100. */
  commitRetryMinMs?: number;
  /** Longest delay between such retries, in ms. Default 5_000. */
  commitRetryMaxMs?: number;
  /** The clock, for result expiry. Default `Date.now`. */
  now?: () => number;
}

/** One applied command between its reservation and its publication. */
interface PendingEntry {
  sessionId: string;
  records: AuditRecord[];
  events: SessionEvent[];
  result: OkResult;
  commit: 'running' | 'done' | 'failed';
  published: boolean;
  lastError: unknown;
  waiters: { resolve: () => void; reject: (error: unknown) => void }[];
}

interface StoredResult {
  result: CommandResult;
  expiresAt: number;
  /** Set while an applied command is not yet published. */
  entry?: PendingEntry;
  /** Set while a refusal is being committed. */
  refusal?: Promise<void>;
}

interface Slot {
  /** The state with every reserved command folded in (what `decide` must see). */
  state: SessionState;
  /** Reserved commands in seq order, waiting for their commit or a predecessor's. */
  pending: PendingEntry[];
  /** Published events; the live ones start at `head`. */
  retained: SessionEvent[];
  head: number;
  /** Seq of the last published event. */
  publishedSeq: number;
}

/** A remembered command result, to seed a restored store. */
export interface RestoredCommand {
  commandId: string;
  result: CommandResult;
  /** When the command ran (ms); it is forgotten a day (`resultTtlMs`) after. */
  at: number;
}

const unavailable = (cause: unknown) =>
  new CueroomError(
    ErrorCode.Unavailable,
    'The command could not be made durable yet; retry with the same command id.',
    {
      cause,
    },
  );

/**
 * Sessions in memory: the embedded default of Cueroom, not a test double.
 *
 * Single-threaded JavaScript makes the atomic step easy: `apply` checks the command id and
 * the seq and folds the events before its first `await`, so of two concurrent applies on
 * one seq exactly one wins. What is asynchronous is durability (`onCommit`): events are
 * published (to `readSince` and feeds) strictly in seq order, each only once it and every
 * earlier command of its session are committed, so a console never sees an event that a
 * crash could take back. `load` returns the reserved state, which may be a few ms ahead
 * of what is published.
 */
export class MemorySessionStore implements SessionStore {
  private readonly sessions = new Map<string, Slot>();
  private readonly results = new Map<string, StoredResult>();
  private readonly listeners = new Map<string, Set<(events: SessionEvent[]) => void>>();
  private readonly retryTimers = new Set<NodeJS.Timeout>();
  private readonly retainEvents: number;
  private readonly resultTtlMs: number;
  private readonly maxResults: number;
  private readonly commitRetryMinMs: number;
  private readonly commitRetryMaxMs: number;
  private readonly onCommit: ((records: AuditRecord[]) => Promise<void>) | undefined;
  private readonly now: () => number;
  private closed = false;

  /** The feed of this store (one per store; `new MemoryEventFeed(store)` makes more). */
  readonly feed: MemoryEventFeed;

  constructor(options: MemorySessionStoreOptions = {}) {
    this.retainEvents = options.retainEvents ?? 10_000;
    this.resultTtlMs = options.resultTtlMs ?? 86_400_000;
    this.maxResults = options.maxResults ?? 200_000;
    this.commitRetryMinMs = options.commitRetryMinMs ?? 100;
    this.commitRetryMaxMs = options.commitRetryMaxMs ?? 5_000;
    this.onCommit = options.onCommit;
    this.now = options.now ?? Date.now;
    if (!Number.isInteger(this.retainEvents) || this.retainEvents < 1)
      throw new RangeError('retainEvents must be a positive integer');
    this.feed = new MemoryEventFeed(this);
  }

  /**
   * Seeds a session, typically rebuilt from the audit log on start: its folded state, the
   * most recent events (contiguous, ending at `state.seq`; only the last `retainEvents`
   * are kept) and the commands whose results a retry should still get. Replaces whatever
   * the store held for that session.
   */
  restore(
    state: SessionState,
    recentEvents: readonly SessionEvent[] = [],
    commands: Iterable<RestoredCommand> = [],
  ): void {
    const recent = recentEvents.slice(-this.retainEvents);
    recent.forEach((event, index) => {
      const expected = state.seq - recent.length + 1 + index;
      if (event.seq !== expected)
        throw new RangeError(`restore(${state.id}): event seq ${event.seq}, expected ${expected}`);
    });
    this.sessions.set(state.id, {
      state: cloneState(state),
      pending: [],
      retained: [...recent],
      head: 0,
      publishedSeq: state.seq,
    });
    const now = this.now();
    for (const { commandId, result, at } of commands) {
      const expiresAt = at + this.resultTtlMs;
      if (expiresAt > now) this.remember(resultKey(state.id, commandId), { result, expiresAt });
    }
  }

  /** Always current here: the memory store is the only holder of its sessions. */
  peek(sessionId: string): SessionState | null {
    return this.sessions.get(sessionId)?.state ?? null;
  }

  async load(sessionId: string): Promise<SessionState | null> {
    const slot = this.sessions.get(sessionId);
    if (!slot) return null;
    return slot.state; // read-only for the caller, folded in place by later commands
  }

  async apply(input: ApplyInput): Promise<ApplyOutcome> {
    validateApplyInput(input);
    const { record, expectedSeq, events } = input;
    const sessionId = record.sessionId;
    const key = resultKey(sessionId, record.commandId);

    // Everything up to the first await is one atomic step.
    const prior = this.lookup(key);
    if (prior) return { status: 'duplicate', result: await this.settled(prior) };
    let slot = this.sessions.get(sessionId);
    const currentSeq = slot?.state.seq ?? 0;
    if (currentSeq !== expectedSeq) return { status: 'conflict', currentSeq };

    if (!slot) {
      slot = { state: initialState(sessionId), pending: [], retained: [], head: 0, publishedSeq: 0 };
      this.sessions.set(sessionId, slot);
    }
    for (const event of events) evolve(slot.state, event);

    const result: OkResult = { ok: true, seq: events[0]!.seq, lastSeq: events[events.length - 1]!.seq };
    const entry: PendingEntry = {
      sessionId,
      records: [
        { type: 'command', ...record, result },
        ...events.map((event): AuditRecord => ({ type: 'event', sessionId, event })),
      ],
      events,
      result,
      commit: 'running',
      published: false,
      lastError: undefined,
      waiters: [],
    };
    slot.pending.push(entry);
    this.remember(key, { result, expiresAt: this.now() + this.resultTtlMs, entry });
    this.commit(slot, entry, 0);
    await this.whenPublished(slot, entry);
    return { status: 'applied', result };
  }

  async refuse(record: CommandRecord, error: ErrorBody): Promise<CommandResult> {
    const key = resultKey(record.sessionId, record.commandId);
    const prior = this.lookup(key);
    if (prior) return this.settled(prior);
    const result: CommandResult = { ok: false, error };
    const stored: StoredResult = { result, expiresAt: this.now() + this.resultTtlMs };
    this.remember(key, stored);
    if (!this.onCommit) return result;

    const refusal = callCommit(this.onCommit, [{ type: 'refused', ...record, result }]);
    stored.refusal = refusal;
    refusal.catch(() => undefined);
    try {
      await refusal;
    } catch (cause) {
      // Nothing depends on a refusal: forget it, so the retry runs it again.
      if (this.results.get(key) === stored) this.results.delete(key);
      throw unavailable(cause);
    }
    stored.refusal = undefined;
    return result;
  }

  async result(sessionId: string, commandId: string): Promise<CommandResult | null> {
    const stored = this.lookup(resultKey(sessionId, commandId));
    if (!stored || (stored.entry && !stored.entry.published) || stored.refusal) return null;
    return stored.result;
  }

  async readSince(sessionId: string, afterSeq: number): Promise<SessionEvent[] | null> {
    return this.retainedSince(sessionId, afterSeq);
  }

  /** `readSince`, synchronously: the feed reads the backlog and starts listening in one step. */
  retainedSince(sessionId: string, afterSeq: number): SessionEvent[] | null {
    const slot = this.sessions.get(sessionId);
    if (!slot || afterSeq >= slot.publishedSeq) return [];
    const firstRetained = slot.publishedSeq - (slot.retained.length - slot.head) + 1;
    if (afterSeq + 1 < firstRetained) return null;
    return slot.retained.slice(slot.head + (afterSeq + 1 - firstRetained));
  }

  async list(): Promise<SessionSummary[]> {
    const summaries: SessionSummary[] = [];
    for (const [id, { state }] of this.sessions) {
      if (state.seq === 0) continue;
      summaries.push({ id, title: state.title, status: state.status, createdAt: state.createdAt, seq: state.seq });
    }
    return summaries.sort((a, b) => b.createdAt - a.createdAt || (a.id < b.id ? -1 : 1));
  }

  /**
   * Calls `listener` synchronously with each batch of events as it is published, in seq
   * order (the feed builds on it). Returns the function that stops it.
   */
  listen(sessionId: string, listener: (events: SessionEvent[]) => void): () => void {
    let set = this.listeners.get(sessionId);
    if (!set) this.listeners.set(sessionId, (set = new Set()));
    set.add(listener);
    return () => {
      set.delete(listener);
      if (set.size === 0 && this.listeners.get(sessionId) === set) this.listeners.delete(sessionId);
    };
  }

  /** Commands reserved but not yet published (waiting for `onCommit`), over all sessions. */
  unpublished(): number {
    let count = 0;
    for (const slot of this.sessions.values()) count += slot.pending.length;
    return count;
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const timer of this.retryTimers) clearTimeout(timer);
    this.retryTimers.clear();
  }

  private lookup(key: string): StoredResult | undefined {
    const stored = this.results.get(key);
    if (!stored) return undefined;
    if (stored.expiresAt <= this.now()) {
      this.results.delete(key);
      return undefined;
    }
    return stored;
  }

  /** A remembered result, once whatever produced it is durable and published. */
  private async settled(stored: StoredResult): Promise<CommandResult> {
    if (stored.entry && !stored.entry.published) {
      const slot = this.sessions.get(stored.entry.sessionId);
      if (slot) await this.whenPublished(slot, stored.entry);
    }
    if (stored.refusal) {
      try {
        await stored.refusal;
      } catch (cause) {
        throw unavailable(cause);
      }
    }
    return stored.result;
  }

  private remember(key: string, stored: StoredResult): void {
    this.results.delete(key);
    this.results.set(key, stored);
    // Insertion order is expiry order (one TTL for all), so the oldest are at the front.
    const now = this.now();
    for (const [oldKey, old] of this.results) {
      if (this.results.size <= this.maxResults && old.expiresAt > now) break;
      if (old.entry && !old.entry.published) break;
      this.results.delete(oldKey);
    }
  }

  private commit(slot: Slot, entry: PendingEntry, attempt: number): void {
    if (!this.onCommit) {
      entry.commit = 'done';
      this.drain(slot);
      return;
    }
    entry.commit = 'running';
    callCommit(this.onCommit, entry.records).then(
      () => {
        entry.commit = 'done';
        this.drain(slot);
      },
      (error: unknown) => {
        entry.commit = 'failed';
        entry.lastError = error;
        // This entry and every later one of the session cannot be published until it is
        // committed: their callers get `unavailable` now and retry with the same id.
        const from = slot.pending.indexOf(entry);
        for (const blocked of slot.pending.slice(from)) {
          for (const waiter of blocked.waiters.splice(0)) waiter.reject(unavailable(error));
        }
        if (this.closed) return;
        const delay = Math.min(this.commitRetryMaxMs, this.commitRetryMinMs * 2 ** attempt);
        const timer = setTimeout(() => {
          this.retryTimers.delete(timer);
          if (!this.closed) this.commit(slot, entry, attempt + 1);
        }, delay);
        this.retryTimers.add(timer);
      },
    );
  }

  /** Publishes the committed prefix of the session's reserved commands, in seq order. */
  private drain(slot: Slot): void {
    while (slot.pending[0]?.commit === 'done') {
      const entry = slot.pending.shift()!;
      slot.retained.push(...entry.events);
      slot.publishedSeq = entry.result.lastSeq;
      const excess = slot.retained.length - slot.head - this.retainEvents;
      if (excess > 0) slot.head += excess;
      if (slot.head > this.retainEvents) {
        slot.retained = slot.retained.slice(slot.head);
        slot.head = 0;
      }
      entry.published = true;
      for (const waiter of entry.waiters.splice(0)) waiter.resolve();
      for (const listener of this.listeners.get(entry.sessionId) ?? []) {
        try {
          listener(entry.events);
        } catch {
          // A listener's fault must not stop publication for everyone else.
        }
      }
    }
  }

  private whenPublished(slot: Slot, entry: PendingEntry): Promise<void> {
    if (entry.published) return Promise.resolve();
    const index = slot.pending.indexOf(entry);
    const blocker = slot.pending.slice(0, index + 1).find((e) => e.commit === 'failed');
    if (blocker) return Promise.reject(unavailable(blocker.lastError));
    return new Promise((resolve, reject) => entry.waiters.push({ resolve, reject }));
  }
}

/**
 * The events of a MemorySessionStore, delivered in seq order with no gap and no duplicate:
 * the backlog from the store's retained events, then every publication, read and hooked
 * in one synchronous step so nothing falls between.
 */
export class MemoryEventFeed implements EventFeed {
  private readonly stops = new Set<() => void>();

  constructor(private readonly store: MemorySessionStore) {}

  subscribe(
    sessionId: string,
    afterSeq: number,
    onEvents: (events: SessionEvent[]) => void,
    options: SubscribeOptions = {},
  ): () => void {
    let lastQueued = afterSeq;
    let queue: SessionEvent[] = [];
    let scheduled = false;
    let active = true;

    const flush = () => {
      scheduled = false;
      if (!active || queue.length === 0) return;
      const batch = queue;
      queue = [];
      onEvents(batch);
    };
    const lost = () => {
      stop();
      queueMicrotask(() => reportLost(options, sessionId, afterSeq));
    };
    const enqueue = (events: readonly SessionEvent[]) => {
      for (const event of events) {
        if (event.seq <= lastQueued) continue;
        if (event.seq !== lastQueued + 1) {
          // Publication is gap-free, so this is defensive: catch up from the retained events.
          const missing = this.store.retainedSince(sessionId, lastQueued);
          if (missing === null) return lost();
          for (const m of missing) {
            if (m.seq !== lastQueued + 1) continue;
            queue.push(m);
            lastQueued = m.seq;
          }
          if (event.seq !== lastQueued + 1) {
            if (event.seq <= lastQueued) continue;
            return lost();
          }
        }
        queue.push(event);
        lastQueued = event.seq;
      }
      if (!scheduled && queue.length > 0) {
        scheduled = true;
        queueMicrotask(flush);
      }
    };

    const backlog = this.store.retainedSince(sessionId, afterSeq);
    const unlisten = this.store.listen(sessionId, (events) => {
      if (active) enqueue(events);
    });
    const stop = () => {
      if (!active) return;
      active = false;
      unlisten();
      this.stops.delete(stop);
    };
    this.stops.add(stop);
    if (backlog === null) lost();
    else enqueue(backlog);
    return stop;
  }

  async close(): Promise<void> {
    for (const stop of [...this.stops]) stop();
  }
}

/** Tells a subscriber its resume point is gone (or says so on stderr when nobody listens). */
export function reportLost(options: SubscribeOptions, sessionId: string, afterSeq: number): void {
  if (options.onLost) options.onLost();
  else console.error(`[cueroom] feed of session ${sessionId}: events after seq ${afterSeq} are no longer retained`);
}

function resultKey(sessionId: string, commandId: string): string {
  return `${sessionId}\u0000${commandId}`;
}

function callCommit(onCommit: (records: AuditRecord[]) => Promise<void>, records: AuditRecord[]): Promise<void> {
  try {
    return Promise.resolve(onCommit(records));
  } catch (error) {
    return Promise.reject(error);
  }
}

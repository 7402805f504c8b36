import type { Redis } from 'ioredis';
import type { SessionEvent } from '../../shared/events.js';
import type { SessionState } from '../../shared/model.js';
import type { ErrorBody } from '../../shared/protocol.js';
import { evolve, initialState } from '../domain/evolve.js';
import { COMMAND_RESULT_TTL_SECONDS, RedisKeys } from './redis-keys.js';
import { APPLY, LOAD, READ_SINCE, REFUSE, SNAPSHOT, TRIM, redisFailure } from './redis-scripts.js';
import type {
  ApplyInput,
  ApplyOutcome,
  AuditRecord,
  CommandRecord,
  CommandResult,
  SessionStore,
  SessionSummary,
} from './session-store.js';
import { validateApplyInput } from './session-store.js';

type OkResult = Extract<CommandResult, { ok: true }>;

/** How often `apply` adds its session to the audit shipper's active set again (it is idempotent). */
const ANNOUNCE_EVERY_MS = 5_000;

export interface RedisSessionStoreOptions {
  /** Events between two state snapshots; load folds at most about this many after one. Default 100. */
  snapshotEvery?: number;
  /** Sessions whose last loaded state this process keeps, so a load with nothing new is one round trip. Default 1000. */
  cacheSessions?: number;
  /** How long a command result is remembered for retries, in seconds. Default 86_400 (a day). */
  resultTtlSeconds?: number;
  /** Told when a background snapshot write fails (the next one catches up). Default: nothing. */
  onError?: (error: unknown, context: { sessionId: string; what: string }) => void;
  /** The clock for the `ts` of stream entries (trim by age). Default `Date.now`. */
  now?: () => number;
}

interface CachedState {
  /**
   * Owned by the cache and folded in place. `load` hands it out read-only: callers read it
   * before their next await and clone what they keep (see SessionStore.load).
   */
  state: SessionState;
  /** Seq of the newest snapshot this process knows of. */
  snapshotSeq: number;
}

/** One raw stream entry as XRANGE / XREAD return it. */
export type StreamEntry = [id: string, fields: string[]];

/** The audit records of a stream entry (a command with its events, or a refusal). */
export function entryRecords(entry: StreamEntry): AuditRecord[] {
  const fields = entry[1];
  for (let i = 0; i < fields.length; i += 2) {
    if (fields[i] === 'records') return JSON.parse(fields[i + 1]!) as AuditRecord[];
  }
  return [];
}

/** The events of stream entries, in order. */
export function entryEvents(entries: readonly StreamEntry[]): SessionEvent[] {
  const events: SessionEvent[] = [];
  for (const entry of entries) {
    if (!entry[0].endsWith('-0')) continue; // refused entries `<seq>-<n>` hold no events
    for (const record of entryRecords(entry)) if (record.type === 'event') events.push(record.event);
  }
  return events;
}

/**
 * Sessions in Redis, shared by every instance (see docs/adr/0002-redis-store.md).
 *
 * Per session: a meta hash (seq and list fields), one stream entry per command holding its
 * audit records, a snapshot of the state every `snapshotEvery` events, and the command
 * results. `apply` and `refuse` are one Lua script each. The state is never rewritten per
 * command: load = snapshot (or this process's cached state) + fold of the stream after it.
 */
export class RedisSessionStore implements SessionStore {
  readonly keys: RedisKeys;
  private readonly snapshotEvery: number;
  private readonly cacheSessions: number;
  private readonly resultTtlSeconds: number;
  private readonly onError: RedisSessionStoreOptions['onError'];
  private readonly now: () => number;
  private readonly cache = new Map<string, CachedState>();
  /** When this process last added a session to the shipper's active set. */
  private readonly announced = new Map<string, number>();
  private readonly background = new Set<Promise<unknown>>();

  /**
   * @param redis A command connection (injected; never closed here). Give it a
   *   `commandTimeout` and `maxRetriesPerRequest: 1` so an outage fails fast (NOTES).
   * @param prefix Key prefix, default `cueroom`.
   */
  constructor(
    private readonly redis: Redis,
    prefix: string | RedisKeys = 'cueroom',
    options: RedisSessionStoreOptions = {},
  ) {
    this.keys = typeof prefix === 'string' ? new RedisKeys(prefix) : prefix;
    this.snapshotEvery = options.snapshotEvery ?? 100;
    this.cacheSessions = options.cacheSessions ?? 1000;
    this.resultTtlSeconds = options.resultTtlSeconds ?? COMMAND_RESULT_TTL_SECONDS;
    this.onError = options.onError;
    this.now = options.now ?? Date.now;
  }

  async load(sessionId: string): Promise<SessionState | null> {
    try {
      // The cache's own object, not a copy: copying a session with thousands of questions
      // per command was most of the CPU of a busy night (docs/benchmarks.md).
      return await this.loadCached(sessionId, true);
    } catch (error) {
      throw redisFailure(error, 'load');
    }
  }

  /** The cached state, folded up to this process's last load or apply: maybe behind Redis. */
  peek(sessionId: string): SessionState | null {
    return this.cache.get(sessionId)?.state ?? null;
  }

  async apply(input: ApplyInput): Promise<ApplyOutcome> {
    validateApplyInput(input);
    const { record, expectedSeq, events } = input;
    const sessionId = record.sessionId;
    const first = events[0]!;
    const last = events[events.length - 1]!;
    const result: OkResult = { ok: true, seq: first.seq, lastSeq: last.seq };
    const records: AuditRecord[] = [
      { type: 'command', ...record, result },
      ...events.map((event): AuditRecord => ({ type: 'event', sessionId, event })),
    ];
    const meta: string[] = [];
    for (const event of events) {
      if (event.kind === 'session.created')
        meta.push('title', event.title, 'createdAt', String(event.at), 'status', 'scheduled');
      else if (event.kind === 'session.status_changed') meta.push('status', event.to);
    }

    let reply: [string, string | number];
    try {
      // Sent before the script on the same connection, so the registry and the shipper
      // know the session before its first entry exists; both are idempotent. The shipper's
      // set is told again at most every few seconds per session, not per command.
      const side: Promise<unknown>[] = [];
      const now = this.now();
      if (first.kind === 'session.created' || (this.announced.get(sessionId) ?? -Infinity) < now - ANNOUNCE_EVERY_MS) {
        side.push(this.redis.sadd(this.keys.auditActive(), sessionId));
        this.announced.set(sessionId, now);
      }
      if (first.kind === 'session.created') side.push(this.redis.zadd(this.keys.registry(), 'NX', first.at, sessionId));
      const script = APPLY.run(
        this.redis,
        [this.keys.meta(sessionId), this.keys.events(sessionId), this.keys.command(sessionId, record.commandId)],
        [
          expectedSeq,
          last.seq,
          JSON.stringify(records),
          JSON.stringify(result),
          this.resultTtlSeconds,
          this.now(),
          ...meta,
        ],
      );
      [reply] = (await Promise.all([script, ...side])) as [[string, string | number]];
    } catch (error) {
      throw redisFailure(error, 'apply');
    }

    const [status, value] = reply;
    if (status === 'duplicate') return { status: 'duplicate', result: JSON.parse(String(value)) as CommandResult };
    if (status === 'conflict') {
      const currentSeq = Number(value);
      // A cache ahead of Redis (Redis lost writes: a restart without AOF) would make every
      // decide conflict again: drop it, the next load reads what Redis has.
      const cached = this.cache.get(sessionId);
      if (cached && cached.state.seq > currentSeq) {
        this.cache.delete(sessionId);
        this.announced.delete(sessionId);
      }
      return { status: 'conflict', currentSeq };
    }

    const cached = this.cache.get(sessionId);
    if (cached && cached.state.seq === expectedSeq) {
      for (const event of events) evolve(cached.state, event);
      this.maybeSnapshot(sessionId, cached);
    } else if (expectedSeq === 0) {
      this.remember(sessionId, { state: events.reduce(evolve, initialState(sessionId)), snapshotSeq: 0 });
    }
    return { status: 'applied', result };
  }

  async refuse(record: CommandRecord, error: ErrorBody): Promise<CommandResult> {
    const sessionId = record.sessionId;
    const result: CommandResult = { ok: false, error };
    const refused: AuditRecord = { type: 'refused', ...record, result };
    try {
      const side = this.redis.sadd(this.keys.auditActive(), sessionId);
      const script = REFUSE.run(
        this.redis,
        [this.keys.meta(sessionId), this.keys.events(sessionId), this.keys.command(sessionId, record.commandId)],
        [JSON.stringify(result), this.resultTtlSeconds, JSON.stringify([refused]), this.now()],
      );
      const [stored] = await Promise.all([script, side]);
      return JSON.parse(String(stored)) as CommandResult;
    } catch (failure) {
      throw redisFailure(failure, 'refuse');
    }
  }

  async result(sessionId: string, commandId: string): Promise<CommandResult | null> {
    try {
      const stored = await this.redis.get(this.keys.command(sessionId, commandId));
      return stored === null ? null : (JSON.parse(stored) as CommandResult);
    } catch (error) {
      throw redisFailure(error, 'result');
    }
  }

  async readSince(sessionId: string, afterSeq: number): Promise<SessionEvent[] | null> {
    let reply: [0] | [1, StreamEntry[]];
    try {
      reply = (await READ_SINCE.run(
        this.redis,
        [this.keys.meta(sessionId), this.keys.events(sessionId)],
        [afterSeq],
      )) as [0] | [1, StreamEntry[]];
    } catch (error) {
      throw redisFailure(error, 'readSince');
    }
    if (reply[0] === 0) return null;
    const events = entryEvents(reply[1]).filter((event) => event.seq > afterSeq);
    // The stream is gap-free by construction; a gap would mean lost entries: say "not retained".
    for (let i = 0; i < events.length; i++) if (events[i]!.seq !== afterSeq + 1 + i) return null;
    return events;
  }

  async list(): Promise<SessionSummary[]> {
    try {
      const ids = await this.redis.zrevrange(this.keys.registry(), 0, -1);
      if (ids.length === 0) return [];
      const pipeline = this.redis.pipeline();
      for (const id of ids) pipeline.hmget(this.keys.meta(id), 'seq', 'title', 'status', 'createdAt');
      const replies = (await pipeline.exec()) ?? [];
      const summaries: SessionSummary[] = [];
      replies.forEach(([error, value], index) => {
        if (error) throw error;
        const [seq, title, status, createdAt] = value as (string | null)[];
        // Registered just before its creating script ran (or expired since): not a session.
        if (!seq || seq === '0' || createdAt === null || createdAt === undefined) return;
        summaries.push({
          id: ids[index]!,
          title: title ?? '',
          status: (status ?? 'scheduled') as SessionSummary['status'],
          createdAt: Number(createdAt),
          seq: Number(seq),
        });
      });
      return summaries.sort((a, b) => b.createdAt - a.createdAt || (a.id < b.id ? -1 : 1));
    } catch (error) {
      throw redisFailure(error, 'list');
    }
  }

  /**
   * Removes old entries of the session stream, never past what the audit log holds (the
   * floor the audit shipper recorded, and `floorSeq`), never past the snapshot (load
   * folds from it), and never entries younger than `minAgeMs`. Looks at `limit` entries
   * at most per call (default 1000; call again for more). Returns how many it removed.
   */
  async trim(sessionId: string, floorSeq: number, minAgeMs: number, limit = 1000): Promise<number> {
    try {
      return Number(
        await TRIM.run(
          this.redis,
          [this.keys.meta(sessionId), this.keys.snapshot(sessionId), this.keys.events(sessionId)],
          [floorSeq, this.now() - minAgeMs, limit],
        ),
      );
    } catch (error) {
      throw redisFailure(error, 'trim');
    }
  }

  /**
   * Lets an ended session's keys expire after `seconds` (its command results expire on
   * their own). Call it only once the audit log holds the session: the stream goes too.
   */
  async expire(sessionId: string, seconds: number): Promise<void> {
    this.cache.delete(sessionId);
    this.announced.delete(sessionId);
    try {
      const pipeline = this.redis.pipeline();
      for (const key of [
        this.keys.meta(sessionId),
        this.keys.events(sessionId),
        this.keys.snapshot(sessionId),
        this.keys.presence(sessionId),
      ]) {
        pipeline.expire(key, seconds);
      }
      for (const [error] of (await pipeline.exec()) ?? []) if (error) throw error;
    } catch (error) {
      throw redisFailure(error, 'expire');
    }
  }

  /** Writes a snapshot of the session now (if newer than the stored one); loads it first. */
  async snapshot(sessionId: string): Promise<number> {
    const state = await this.loadCached(sessionId, false);
    if (!state) return 0;
    await SNAPSHOT.run(
      this.redis,
      [this.keys.meta(sessionId), this.keys.snapshot(sessionId)],
      [state.seq, JSON.stringify(state)],
    );
    const cached = this.cache.get(sessionId);
    if (cached && cached.state.seq >= state.seq) cached.snapshotSeq = Math.max(cached.snapshotSeq, state.seq);
    return state.seq;
  }

  /** Waits for background snapshot writes; the injected client stays open. */
  async close(): Promise<void> {
    await Promise.allSettled([...this.background]);
    this.cache.clear();
    this.announced.clear();
  }

  /**
   * The session's current state, folded into this process's cache (the object is the
   * cache's, read-only for callers). One LOAD round trip; it sends only what the cache lacks.
   */
  private async loadCached(sessionId: string, snapshotAfter: boolean): Promise<SessionState | null> {
    for (let attempt = 0; ; attempt++) {
      const cached = attempt === 0 ? this.cache.get(sessionId) : undefined;
      const have = cached?.state.seq ?? -1;
      const reply = (await LOAD.run(
        this.redis,
        [this.keys.meta(sessionId), this.keys.snapshot(sessionId), this.keys.events(sessionId)],
        [have],
      )) as [number] | [number, string | null, number, StreamEntry[]];
      const seq = Number(reply[0]);
      if (seq === 0) {
        this.cache.delete(sessionId);
        return null;
      }
      if (reply.length === 1) {
        // The cache was current when Redis answered; it may only have moved forward since.
        const current = this.cache.get(sessionId);
        if (current && current.state.seq >= seq) return this.touch(sessionId, current).state;
        continue;
      }
      const [, snapshot, from, entries] = reply;
      let target: CachedState;
      if (snapshot !== null) {
        target = { state: JSON.parse(snapshot) as SessionState, snapshotSeq: Number(from) };
      } else if (Number(from) === 0) {
        target = { state: initialState(sessionId), snapshotSeq: 0 };
      } else {
        // The tail after our cache: fold into the cache, if it is still at or past `from`.
        const current = this.cache.get(sessionId);
        if (!current || current.state.seq < Number(from)) continue;
        target = current;
      }
      if (!this.fold(target.state, entryEvents(entries))) {
        if (attempt < 2) continue;
        throw new Error(`session ${sessionId}: the stream after seq ${from} has a gap`);
      }
      const current = this.cache.get(sessionId);
      if (current && current !== target && current.state.seq >= target.state.seq)
        return this.touch(sessionId, current).state;
      this.remember(sessionId, target);
      if (snapshotAfter) this.maybeSnapshot(sessionId, target);
      return target.state;
    }
  }

  /** Folds events past the state's seq; false if they do not continue it without a gap. */
  private fold(state: SessionState, events: readonly SessionEvent[]): boolean {
    for (const event of events) {
      if (event.seq <= state.seq) continue;
      if (event.seq !== state.seq + 1) return false;
      evolve(state, event);
    }
    return true;
  }

  private remember(sessionId: string, entry: CachedState): void {
    this.cache.delete(sessionId);
    this.cache.set(sessionId, entry);
    while (this.cache.size > this.cacheSessions) this.cache.delete(this.cache.keys().next().value!);
  }

  private touch(sessionId: string, entry: CachedState): CachedState {
    this.cache.delete(sessionId);
    this.cache.set(sessionId, entry);
    return entry;
  }

  /**
   * Every `snapshotEvery` events, write the state (from the cache, already folded) in the
   * background. Apply never waits for it: the snapshot is an optimisation of the fold, and
   * the SNAPSHOT script keeps only the newest.
   */
  private maybeSnapshot(sessionId: string, cached: CachedState): void {
    if (cached.state.seq - cached.snapshotSeq < this.snapshotEvery) return;
    const seq = cached.state.seq;
    cached.snapshotSeq = seq;
    const json = JSON.stringify(cached.state);
    const write = SNAPSHOT.run(
      this.redis,
      [this.keys.meta(sessionId), this.keys.snapshot(sessionId)],
      [seq, json],
    ).catch((error: unknown) => {
      if (cached.snapshotSeq === seq) cached.snapshotSeq = 0;
      this.onError?.(error, { sessionId, what: 'snapshot' });
    });
    this.background.add(write);
    void write.finally(() => this.background.delete(write));
  }
}

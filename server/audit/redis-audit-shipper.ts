import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { Redis } from 'ioredis';
import { RedisKeys } from '../store/redis-keys.js';
import { AUDIT_FLOOR } from '../store/redis-scripts.js';
import { entryRecords, type StreamEntry } from '../store/redis-session-store.js';
import type { AuditRecord } from '../store/session-store.js';
import { InvalidAuditRecordError, type AuditLog } from './audit-log.js';

export interface RedisAuditShipperOptions {
  /** A connection for the shipper alone: it waits in `XREADGROUP BLOCK`. Injected, never closed here. */
  blocking: Redis;
  /** A command connection (acks, claims, floors, `backlog()`, the unblock on stop). Injected. */
  command: Redis;
  audit: AuditLog;
  /** Key prefix (or the keys module), default `cueroom`. */
  prefix?: string | RedisKeys;
  /** This shipper's consumer name in the groups. Default `<hostname>-<pid>-<random>`. */
  consumer?: string;
  /**
   * Most records per `AuditLog.append` (an entry is never split, so one larger entry goes
   * alone). Default 1000: each batch is a few awaited round trips, and on a busy event loop
   * each of those costs a loop turn, so the shipper's pace is batches × their size.
   */
  batchRecords?: number;
  /** Batches written at once, each for its own sessions (a session's entries stay in order). Default 4. */
  lanes?: number;
  /** Longest one `XREADGROUP BLOCK` waits, in ms. Default 1_000. */
  blockMs?: number;
  /** How often the set of active sessions is read again, in ms. Default 1_000. */
  refreshMs?: number;
  /** Entries pending this long with another consumer are taken over (it is presumed dead), in ms. Default 60_000. */
  claimIdleMs?: number;
  /** First delay after a failed append or read, doubling up to `retryMaxMs`. Default 100 ms. */
  retryMinMs?: number;
  /** Longest delay between retries. Default 10_000 ms. */
  retryMaxMs?: number;
  /** How long `stop()` waits for the batch in flight while the audit log fails, in ms. Default 10_000. */
  stopTimeoutMs?: number;
  /** Told of every failure (the shipper retries on its own). Default: nothing. */
  onError?: (error: unknown, context: { what: string; attempt?: number; records?: number }) => void;
  /**
   * Told when a session's audit floor rises: every event up to `floorSeq` is in the audit
   * log. Production trims the stream from here (`RedisSessionStore.trim`). Default: nothing.
   */
  onFloor?: (sessionId: string, floorSeq: number) => void | Promise<void>;
  /**
   * How often the audit floors of the sessions shipped meanwhile are raised, in ms. Default
   * 1_000 (the trim that reads them runs every few seconds).
   */
  floorEveryMs?: number;
  /** The clock, for lag. Default `Date.now`. */
  now?: () => number;
}

export interface ShipperStats {
  consumer: string;
  /** Session streams this shipper reads. */
  streams: number;
  shippedRecords: number;
  shippedEntries: number;
  batches: number;
  /** Failed append attempts so far. */
  failures: number;
  /** True while a batch is being retried (the audit log is failing). */
  retrying: boolean;
  /** Age of the oldest entry of the last batch when it was acknowledged: how late the audit log is, in ms. */
  lagMs: number | null;
  /** Largest lagMs seen. */
  maxLagMs: number;
  /** Records the audit log can never take (kept in the `audit:rejected` list). */
  rejected: number;
}

interface Delivered {
  sessionId: string;
  key: string;
  id: string;
  records: AuditRecord[];
  ts: number | null;
}

const MAX_K = '18446744073709551615';

/**
 * Ships the session streams into the audit log (Postgres), at least once and idempotently.
 *
 * One consumer group (`audit`) per session stream; every instance runs a shipper, each a
 * consumer. Entries are read with XREADGROUP and handed to lanes (by session, so a
 * session's entries stay in order); each lane appends what it holds in batches of about
 * 1000 records while the next read is under way, and XACKs a batch only once its append
 * resolved: a failure (Postgres away) is retried with backoff, the same batch, until it
 * lands, so nothing is skipped. Entries left pending by a dead consumer are taken over
 * with XAUTOCLAIM. Once a second, the audit floor of every session acknowledged meanwhile
 * (the highest entry id below which everything is acknowledged) is raised: the stream is
 * never trimmed past it.
 */
export class RedisAuditShipper {
  private readonly blocking: Redis;
  private readonly command: Redis;
  private readonly audit: AuditLog;
  private readonly keys: RedisKeys;
  readonly consumer: string;
  private readonly batchRecords: number;
  private readonly lanes: number;
  private readonly blockMs: number;
  private readonly refreshMs: number;
  private readonly claimIdleMs: number;
  private readonly retryMinMs: number;
  private readonly retryMaxMs: number;
  private readonly stopTimeoutMs: number;
  private readonly onError: RedisAuditShipperOptions['onError'];
  private readonly onFloor: RedisAuditShipperOptions['onFloor'];
  private readonly now: () => number;

  /** Session id → stream key, for the streams whose group exists. */
  private readonly streams = new Map<string, string>();
  private lastRefresh = -Infinity;
  private lastClaim = -Infinity;
  private loop: Promise<void> | null = null;
  private stopping = false;
  /** Set when stop() gave up waiting: retries end, the batch stays pending in Redis. */
  private abandoned = false;
  private reading = false;
  private blockingId: number | null = null;
  /** Pending sleeps (retries, backpressure), cut short by stop(). */
  private readonly wakers = new Set<() => void>();
  /** The reader waiting for the lanes to make room. */
  private readonly roomWaiters = new Set<() => void>();
  /** Entries read and not yet shipped, by lane; each lane ships its own in order, one batch at a time. */
  private readonly laneQueues: Delivered[][];
  private readonly laneRuns: (Promise<void> | null)[];
  /** Records read and not yet shipped, over all lanes (the reader waits above `maxQueued`). */
  private queued = 0;
  /** Acknowledgements (XACK and floors) of shipped batches still on their way. */
  private readonly acks = new Set<Promise<unknown>>();
  /** Highest entry id acknowledged per session since its floor was last raised. */
  private readonly ackedUpTo = new Map<string, string>();
  private floorTimer: NodeJS.Timeout | null = null;
  private floorRun: Promise<void> | null = null;
  private readonly floorEveryMs: number;
  private readonly maxQueued: number;
  private readonly stats_: Omit<ShipperStats, 'consumer' | 'streams'> = {
    shippedRecords: 0,
    shippedEntries: 0,
    batches: 0,
    failures: 0,
    retrying: false,
    lagMs: null,
    maxLagMs: 0,
    rejected: 0,
  };
  private readonly onBlockingError = (error: unknown) => this.onError?.(error, { what: 'blocking connection' });
  /** Forgotten on 'close' only: by 'ready' it may already be the new one (see RedisEventFeed). */
  private readonly onBlockingClose = () => {
    this.blockingId = null;
  };

  constructor(options: RedisAuditShipperOptions) {
    this.blocking = options.blocking;
    this.command = options.command;
    this.audit = options.audit;
    const prefix = options.prefix ?? 'cueroom';
    this.keys = typeof prefix === 'string' ? new RedisKeys(prefix) : prefix;
    this.consumer = options.consumer ?? `${hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`;
    this.batchRecords = options.batchRecords ?? 1000;
    this.lanes = Math.max(1, Math.floor(options.lanes ?? 4));
    this.laneQueues = Array.from({ length: this.lanes }, () => []);
    this.laneRuns = Array.from({ length: this.lanes }, () => null);
    this.maxQueued = 2 * this.batchRecords * this.lanes;
    this.floorEveryMs = options.floorEveryMs ?? 1_000;
    this.blockMs = options.blockMs ?? 1_000;
    this.refreshMs = options.refreshMs ?? 1_000;
    this.claimIdleMs = options.claimIdleMs ?? 60_000;
    this.retryMinMs = options.retryMinMs ?? 100;
    this.retryMaxMs = options.retryMaxMs ?? 10_000;
    this.stopTimeoutMs = options.stopTimeoutMs ?? 10_000;
    this.onError = options.onError;
    this.onFloor = options.onFloor;
    this.now = options.now ?? Date.now;
  }

  start(): void {
    if (this.loop) return;
    this.stopping = false;
    this.abandoned = false;
    this.blocking.on('error', this.onBlockingError);
    this.blocking.on('close', this.onBlockingClose);
    this.loop = this.run();
  }

  /**
   * Stops reading and finishes the batch in flight ("flush audit"). While the audit log
   * fails, it waits `stopTimeoutMs` at most; what is left stays pending in Redis and the
   * next shipper takes it over.
   */
  async stop(): Promise<void> {
    if (!this.loop) return;
    this.stopping = true;
    this.wakeAll();
    void this.unblock();
    const timer = setTimeout(() => {
      this.abandoned = true;
      this.wakeAll();
    }, this.stopTimeoutMs);
    try {
      await this.loop;
    } finally {
      clearTimeout(timer);
      this.loop = null;
      this.blocking.off('error', this.onBlockingError);
      this.blocking.off('close', this.onBlockingClose);
    }
  }

  stats(): ShipperStats {
    return { consumer: this.consumer, streams: this.streams.size, ...this.stats_ };
  }

  /** Entries not yet in the audit log, over all active sessions: pending in the group plus not yet read (for /metrics). */
  async backlog(): Promise<number> {
    const ids = await this.command.smembers(this.keys.auditActive());
    if (ids.length === 0) return 0;
    const pipeline = this.command.pipeline();
    for (const id of ids) pipeline.xinfo('GROUPS', this.keys.events(id)).xlen(this.keys.events(id));
    let total = 0;
    const replies = (await pipeline.exec()) ?? [];
    for (let i = 0; i < replies.length; i += 2) {
      const [error, groups] = replies[i]!;
      const [, length] = replies[i + 1]!;
      if (error) continue; // no such stream yet (or any more)
      const group = (groups as unknown[][]).map(pairs).find((g) => g.name === this.keys.auditGroup);
      // No group yet: nothing of the stream was shipped. lag is nil when Redis cannot tell
      // (entries deleted mid-stream): count the whole stream rather than report nothing.
      if (!group) total += Number(length);
      else total += Number(group.pending ?? 0) + (group.lag === null ? Number(length) : Number(group.lag ?? 0));
    }
    return total;
  }

  /**
   * Reads and ships at the same time: each read's entries go to their lane's queue, and
   * every lane ships what it holds as soon as its previous batch is in, while the next read
   * is already on its way. An entry waits for a read and one batch of its lane, not for
   * the slowest lane of the read before it. The reader pauses while the lanes hold more
   * than `maxQueued` records.
   */
  private async run(): Promise<void> {
    let failures = 0;
    while (!this.stopping) {
      try {
        const now = this.now();
        if (now - this.lastRefresh >= this.refreshMs) await this.refresh();
        if (now - this.lastClaim >= Math.min(this.claimIdleMs / 2, 30_000)) await this.reclaim();
        if (this.stopping) break;
        if (this.streams.size === 0) {
          await this.sleep(this.refreshMs);
          continue;
        }
        while (this.queued > this.maxQueued && !this.stopping) await this.progress();
        // Stopping with a read in flight (stop() unblocks it): what it got is shipped below.
        this.enqueue(await this.read());
        failures = 0;
      } catch (error) {
        if (this.stopping && this.abandoned) break;
        if (isNoGroup(error)) this.lastRefresh = -Infinity;
        this.onError?.(error, { what: 'read' });
        await this.sleep(Math.min(this.retryMaxMs, this.retryMinMs * 2 ** failures++));
      }
    }
    // Flush: what was read is shipped before stop() returns (unless it gave up waiting).
    await Promise.all(this.laneRuns);
    await Promise.all(this.acks);
    if (this.floorTimer) clearTimeout(this.floorTimer);
    this.floorTimer = null;
    await this.floorRun;
    this.floorRun = null;
    await this.raiseFloors();
    if (this.floorTimer) clearTimeout(this.floorTimer);
    this.floorTimer = null;
  }

  /** Hands entries to their lanes (by a hash of the session: its entries stay in order). */
  private enqueue(delivered: Delivered[]): void {
    for (const entry of delivered) {
      const lane = this.lanes === 1 ? 0 : laneOf(entry.sessionId, this.lanes);
      this.laneQueues[lane]!.push(entry);
      this.queued += entry.records.length;
      this.laneRuns[lane] ??= this.runLane(lane);
    }
  }

  /** Ships a lane's queue, a batch of about `batchRecords` records at a time, until it is empty. */
  private async runLane(lane: number): Promise<void> {
    const queue = this.laneQueues[lane]!;
    try {
      while (queue.length > 0 && !this.abandoned) {
        let count = 0;
        let size = 0;
        while (count < queue.length && (count === 0 || size + queue[count]!.records.length <= this.batchRecords)) {
          size += queue[count]!.records.length;
          count++;
        }
        const batch = queue.splice(0, count);
        try {
          await this.shipBatch(batch);
        } catch (error) {
          // Given up (stop timed out) or not acknowledged: the entries stay pending in Redis,
          // and a claim (this shipper's or the next one's) ships them again.
          this.onError?.(error, { what: 'ship', records: size });
        } finally {
          this.queued -= size;
          this.progressed();
        }
      }
    } finally {
      this.laneRuns[lane] = null;
      if (queue.length > 0 && !this.abandoned) this.laneRuns[lane] = this.runLane(lane);
    }
  }

  /** Reads the active set; a stream seen for the first time gets its group and its own pending entries shipped. */
  private async refresh(): Promise<void> {
    this.lastRefresh = this.now();
    const active = new Set(await this.command.smembers(this.keys.auditActive()));
    const known = [...this.streams];
    if (known.length > 0) {
      const pipeline = this.command.pipeline();
      for (const [, key] of known) pipeline.exists(key);
      const exists = (await pipeline.exec()) ?? [];
      for (const [index, [sessionId]] of known.entries()) {
        const [error, found] = exists[index] ?? [];
        if (error) throw error;
        if (active.has(sessionId) && Number(found) === 1) continue;
        this.streams.delete(sessionId);
        // The stream expired with its session (RedisSessionStore.expire): nothing left to ship.
        if (active.has(sessionId)) await this.command.srem(this.keys.auditActive(), sessionId);
        active.delete(sessionId);
      }
    }
    for (const sessionId of active) {
      if (this.streams.has(sessionId)) continue;
      const key = this.keys.events(sessionId);
      try {
        await this.command.xgroup('CREATE', key, this.keys.auditGroup, '0', 'MKSTREAM');
      } catch (error) {
        if (!String((error as Error).message).startsWith('BUSYGROUP')) throw error;
      }
      this.streams.set(sessionId, key);
      // After a restart under the same consumer name, what it read but never acked.
      const own = (await this.command.xreadgroup(
        'GROUP',
        this.keys.auditGroup,
        this.consumer,
        'COUNT',
        10_000,
        'STREAMS',
        key,
        '0',
      )) as [string, StreamEntry[]][] | null;
      this.enqueue(toDelivered(this.keys, own));
      // Entries it held that were deleted meanwhile come back as [id, null]: nothing to ship,
      // but left pending they would hold the audit floor (and so trimming) back for ever.
      const gone = (own ?? []).flatMap(([, entries]) =>
        entries.filter((entry) => entry && !entry[1]).map(([id]) => id),
      );
      if (gone.length > 0) await this.command.xack(key, this.keys.auditGroup, ...gone);
    }
  }

  /** Takes over entries another consumer left pending for `claimIdleMs` (it died mid-batch). */
  private async reclaim(): Promise<void> {
    this.lastClaim = this.now();
    // Every stream in one round trip (and again for the few with more to claim): one
    // awaited XAUTOCLAIM per session in turn held the shipper for a loop turn each.
    let cursors = [...this.streams.values()].map((key) => ({ key, cursor: '0-0' }));
    while (cursors.length > 0 && !this.stopping) {
      const pipeline = this.command.pipeline();
      for (const { key, cursor } of cursors) {
        pipeline.xautoclaim(
          key,
          this.keys.auditGroup,
          this.consumer,
          this.claimIdleMs,
          cursor,
          'COUNT',
          this.batchRecords,
        );
      }
      const replies = (await pipeline.exec()) ?? [];
      const more: typeof cursors = [];
      cursors.forEach(({ key }, index) => {
        const [error, reply] = replies[index] ?? [new Error('no reply')];
        if (error) throw error;
        const [next, entries] = reply as [string, StreamEntry[], string[]];
        this.enqueue(toDelivered(this.keys, [[key, entries.filter((entry) => entry !== null)]]));
        if (next !== '0-0') more.push({ key, cursor: next });
      });
      cursors = more;
    }
  }

  private async read(): Promise<Delivered[]> {
    this.blockingId ??= Number(await this.blocking.client('ID'));
    const keys = [...this.streams.values()];
    if (this.stopping) return [];
    this.reading = true;
    try {
      const reply = (await this.blocking.xreadgroup(
        'GROUP',
        this.keys.auditGroup,
        this.consumer,
        // COUNT is per stream: over hundreds of sessions, about one batch per lane in all
        // (an entry holds ~2.5 records). A larger read is parsed and mapped in one go and
        // holds the event loop for longer: the audit lag rose with it (docs/benchmarks.md).
        'COUNT',
        Math.max(2, Math.ceil((this.batchRecords * this.lanes) / 2 / keys.length)),
        'BLOCK',
        this.blockMs,
        'STREAMS',
        ...keys,
        ...keys.map(() => '>'),
      )) as [string, StreamEntry[]][] | null;
      return toDelivered(this.keys, reply);
    } catch (error) {
      this.blockingId = null;
      throw error;
    } finally {
      this.reading = false;
    }
  }

  private async shipBatch(batch: Delivered[]): Promise<void> {
    const records = batch.flatMap((entry) => entry.records);
    for (let attempt = 0; ; attempt++) {
      try {
        if (records.length > 0) await this.audit.append(records);
        break;
      } catch (error) {
        if (error instanceof InvalidAuditRecordError) {
          // No retry can store it; find the entry at fault, keep the rest flowing.
          if (batch.length > 1) {
            for (const entry of batch) await this.shipBatch([entry]);
            return;
          }
          await this.reject(batch[0]!, error);
          break;
        }
        this.stats_.failures++;
        this.stats_.retrying = true;
        const retryInMs = Math.min(this.retryMaxMs, this.retryMinMs * 2 ** attempt);
        this.onError?.(error, { what: 'append', attempt: attempt + 1, records: records.length });
        if (this.abandoned) throw error;
        await this.sleep(retryInMs);
        if (this.abandoned) throw error;
      }
    }
    this.stats_.retrying = false;
    // The lane goes on with its next batch while this one is acknowledged: the ack and the
    // floors are two more round trips, and a floor only ever rises (and never past what is
    // still pending), so their order across batches does not matter.
    const acked = this.ack(batch).catch((error: unknown) => this.onError?.(error, { what: 'ack' }));
    this.acks.add(acked);
    void acked.finally(() => this.acks.delete(acked));
  }

  /** A record no database takes: kept aside (`<prefix>:audit:rejected`) and acknowledged, so the stream moves on. */
  private async reject(entry: Delivered, error: InvalidAuditRecordError): Promise<void> {
    this.stats_.rejected += entry.records.length;
    this.onError?.(error, { what: 'rejected record', records: entry.records.length });
    await this.command.rpush(
      `${this.keys.prefix}:audit:rejected`,
      JSON.stringify({ sessionId: entry.sessionId, id: entry.id, error: error.message, records: entry.records }),
    );
  }

  private async ack(batch: Delivered[]): Promise<void> {
    const bySession = new Map<string, Delivered[]>();
    for (const entry of batch) {
      const list = bySession.get(entry.sessionId);
      if (list) list.push(entry);
      else bySession.set(entry.sessionId, [entry]);
    }
    const pipeline = this.command.pipeline();
    for (const [sessionId, entries] of bySession) {
      pipeline.xack(this.keys.events(sessionId), this.keys.auditGroup, ...entries.map((entry) => entry.id));
    }
    const replies = (await pipeline.exec()) ?? [];
    const now = this.now();
    const oldest = Math.min(...batch.map((entry) => entry.ts ?? now));
    this.stats_.lagMs = now - oldest;
    this.stats_.maxLagMs = Math.max(this.stats_.maxLagMs, this.stats_.lagMs);
    this.stats_.batches++;
    this.stats_.shippedEntries += batch.length;
    this.stats_.shippedRecords += batch.reduce((sum, entry) => sum + entry.records.length, 0);
    let index = 0;
    for (const [sessionId, entries] of bySession) {
      const [error] = replies[index++] ?? [];
      if (error) {
        this.onError?.(error, { what: 'ack' });
        continue;
      }
      this.noteAcked(
        sessionId,
        entries.map((entry) => entry.id).reduce((a, b) => (compareIds(a, b) >= 0 ? a : b)),
      );
    }
    this.scheduleFloors();
  }

  /** Notes that everything of a session read up to `id` is acknowledged, for the next floor pass. */
  private noteAcked(sessionId: string, id: string): void {
    const known = this.ackedUpTo.get(sessionId);
    if (known === undefined || compareIds(id, known) > 0) this.ackedUpTo.set(sessionId, id);
  }

  /**
   * Floors are raised at most every `floorEveryMs`, for every session acknowledged since,
   * in two pipelined round trips: per batch they were two more commands per session, a
   * third of the shipper's Redis traffic, for a floor only the trim (every few seconds)
   * reads.
   */
  private scheduleFloors(): void {
    if (this.floorTimer || this.ackedUpTo.size === 0) return;
    this.floorTimer = setTimeout(() => {
      this.floorTimer = null;
      this.floorRun = (this.floorRun ?? Promise.resolve()).then(() => this.raiseFloors());
    }, this.floorEveryMs);
  }

  private async raiseFloors(): Promise<void> {
    const due = [...this.ackedUpTo];
    this.ackedUpTo.clear();
    if (due.length === 0) return;
    let replies: [Error | null, unknown][];
    try {
      const pipeline = this.command.pipeline();
      for (const [sessionId] of due) pipeline.xpending(this.keys.events(sessionId), this.keys.auditGroup);
      replies = (await pipeline.exec()) ?? [];
    } catch (error) {
      this.onError?.(error, { what: 'floor' });
      for (const [sessionId, id] of due) this.noteAcked(sessionId, id);
      this.scheduleFloors();
      return;
    }
    const floors = due.map(([sessionId, highest], index) => {
      const [error, pending] = replies[index] ?? [new Error('no reply to XPENDING')];
      if (error) {
        this.onError?.(error, { what: 'floor' });
        this.noteAcked(sessionId, highest);
        return undefined;
      }
      const [count, smallest] = pending as [number, string | null];
      // Everything below the smallest id still pending (anyone's) and up to what was
      // acknowledged is in the audit log: that is the floor.
      const floor = Number(count) > 0 && smallest ? minId(highest, previousId(smallest)) : highest;
      return floor === null ? undefined : this.raiseFloor(sessionId, floor);
    });
    await Promise.all(floors);
    this.scheduleFloors();
  }

  private async raiseFloor(sessionId: string, floor: string): Promise<void> {
    try {
      const raised = Number(await AUDIT_FLOOR.run(this.command, [this.keys.meta(sessionId)], [floor]));
      if (raised === 1) await this.onFloor?.(sessionId, Number(floor.slice(0, floor.indexOf('-'))));
    } catch (error) {
      this.onError?.(error, { what: 'floor' });
    }
  }

  private async unblock(): Promise<void> {
    for (let attempt = 0; attempt < 100 && this.reading; attempt++) {
      const id = this.blockingId;
      if (id === null) return;
      try {
        if (Number(await this.command.client('UNBLOCK', id)) === 1) return;
      } catch (error) {
        this.onError?.(error, { what: 'unblock' });
        return;
      }
      await new Promise((resolve) => setTimeout(resolve, Math.min(25, 1 + attempt)));
    }
  }

  /** A pause that stop() cuts short; none at all once stop() gave up waiting. */
  private sleep(ms: number): Promise<void> {
    if (this.abandoned) return Promise.resolve();
    return new Promise((resolve) => {
      const finish = () => {
        clearTimeout(timer);
        this.wakers.delete(finish);
        resolve();
      };
      const timer = setTimeout(finish, ms);
      this.wakers.add(finish);
    });
  }

  private wakeAll(): void {
    for (const wake of [...this.wakers]) wake();
    this.progressed();
  }

  /** Resolves when a lane finishes a batch (or stop() is called). */
  private progress(): Promise<void> {
    return new Promise((resolve) => this.roomWaiters.add(resolve));
  }

  private progressed(): void {
    const waiters = [...this.roomWaiters];
    this.roomWaiters.clear();
    for (const resolve of waiters) resolve();
  }
}

function toDelivered(keys: RedisKeys, reply: [string, StreamEntry[]][] | null): Delivered[] {
  const delivered: Delivered[] = [];
  for (const [key, entries] of reply ?? []) {
    const sessionId = keys.sessionOfEvents(key);
    if (sessionId === null) continue;
    for (const entry of entries) {
      // XREADGROUP from 0 lists an entry trimmed away as [id, null]: nothing to ship.
      if (!entry || !entry[1]) continue;
      const fields = entry[1];
      const tsIndex = fields.indexOf('ts');
      delivered.push({
        sessionId,
        key,
        id: entry[0],
        records: entryRecords(entry),
        ts: tsIndex >= 0 && tsIndex % 2 === 0 ? Number(fields[tsIndex + 1]) : null,
      });
    }
  }
  return delivered;
}

/** The lane of a session: a small string hash (FNV-1a), stable for the life of the process. */
function laneOf(sessionId: string, lanes: number): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < sessionId.length; i++) hash = Math.imul(hash ^ sessionId.charCodeAt(i), 0x01000193);
  return (hash >>> 0) % lanes;
}

function pairs(flat: unknown[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (let i = 0; i + 1 < flat.length; i += 2) out[String(flat[i])] = flat[i + 1];
  return out;
}

function isNoGroup(error: unknown): boolean {
  return String((error as Error | undefined)?.message ?? '').startsWith('NOGROUP');
}

function splitId(id: string): [bigint, bigint] {
  const dash = id.indexOf('-');
  return [BigInt(id.slice(0, dash)), BigInt(id.slice(dash + 1))];
}

function compareIds(a: string, b: string): number {
  const [as, ak] = splitId(a);
  const [bs, bk] = splitId(b);
  return as === bs ? (ak === bk ? 0 : ak < bk ? -1 : 1) : as < bs ? -1 : 1;
}

/** The id right before `id`, or null before the first possible one. */
function previousId(id: string): string | null {
  const [seq, k] = splitId(id);
  if (k > 0n) return `${seq}-${k - 1n}`;
  if (seq > 0n) return `${seq - 1n}-${MAX_K}`;
  return null;
}

function minId(a: string, b: string | null): string | null {
  if (b === null) return null;
  return compareIds(a, b) <= 0 ? a : b;
}

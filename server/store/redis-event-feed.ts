import type { Redis } from 'ioredis';
import type { SessionEvent } from '../../shared/events.js';
import { reportLost } from './memory-session-store.js';
import { idBeforeSeq, RedisKeys } from './redis-keys.js';
import { entryEvents, type StreamEntry } from './redis-session-store.js';
import type { EventFeed, SessionStore, SubscribeOptions } from './session-store.js';

export interface RedisEventFeedOptions {
  /**
   * A connection for this feed alone: it spends its life in `XREAD BLOCK`. Injected (never
   * closed here); give it `maxRetriesPerRequest: null` so a reconnect resends the read.
   */
  blocking: Redis;
  /** A command connection, for `CLIENT UNBLOCK` when a session is added mid-read. */
  command: Redis;
  /** Where gaps (a subscriber joining late, a missed entry) are filled from, by seq. */
  store: SessionStore;
  /** Key prefix (or the keys module), default `cueroom`. */
  prefix?: string | RedisKeys;
  /** Longest one `XREAD BLOCK` waits, in ms. Default 5_000. */
  blockMs?: number;
  /** Entries read per stream per round. Default 500. */
  count?: number;
  /** First delay after a failed read or fill, doubling up to `retryMaxMs`. Default 100 ms. */
  retryMinMs?: number;
  /** Longest delay between retries. Default 2_000 ms. */
  retryMaxMs?: number;
  /** Told of connection and read errors (the feed retries on its own). Default: nothing. */
  onError?: (error: unknown) => void;
}

interface Subscriber {
  readonly sessionId: string;
  readonly onEvents: (events: SessionEvent[]) => void;
  readonly options: SubscribeOptions;
  readonly afterSeq: number;
  /** Seq of the last event queued for it. */
  seq: number;
  active: boolean;
  /** A fill from the store is running; live events wait in `held`. */
  filling: boolean;
  held: SessionEvent[];
  queue: SessionEvent[];
  scheduled: boolean;
}

interface StreamRead {
  readonly sessionId: string;
  readonly key: string;
  /** XREAD resumes after this id (kept across reconnects). */
  lastId: string;
  readonly subscribers: Set<Subscriber>;
}

/**
 * Events of sessions from their Redis streams, for the consoles of this instance.
 *
 * One blocking connection runs `XREAD BLOCK` over the streams of every subscribed session,
 * resuming after the last id read from each (so a reconnect loses nothing); subscribers of
 * one session share that read. Each subscriber has its own seq: events at or below it are
 * skipped (no duplicate), and an event past seq+1 (a late joiner, a trimmed entry) starts a
 * fill from `store.readSince` while later live events wait (no gap).
 */
export class RedisEventFeed implements EventFeed {
  private readonly blocking: Redis;
  private readonly command: Redis;
  private readonly store: SessionStore;
  private readonly keys: RedisKeys;
  private readonly blockMs: number;
  private readonly count: number;
  private readonly retryMinMs: number;
  private readonly retryMaxMs: number;
  private readonly onError: ((error: unknown) => void) | undefined;

  private readonly streams = new Map<string, StreamRead>();
  private closed = false;
  private loop: Promise<void> | null = null;
  private wake: (() => void) | null = null;
  /** Generation of the XREAD in flight (0: none); the reader bumps it for each read. */
  private reading = 0;
  private generation = 0;
  /** Id of the blocking connection, refreshed after every reconnect (null: unknown). */
  private blockingId: number | null = null;
  /**
   * The read that must end early (0: none): one sent before a stream joined, or before
   * close(). A read started later includes every stream, so it is left alone.
   */
  private stale = 0;
  /** The last read CLIENT UNBLOCK ended: it returns on its own, no second kick. */
  private unblocked = 0;
  /** A kick() is running: it picks up a later `stale` itself. */
  private kicking = false;
  /** Pending backoff delays, by timer: close() ends them at once (a retrying loop must not hold it up). */
  private readonly timers = new Map<NodeJS.Timeout, () => void>();
  private readonly onBlockingError = (error: unknown) => this.onError?.(error);
  /**
   * A new connection has a new id. Forgotten on 'close' only: on 'ready' it may already be
   * the new one, as ioredis sends CLIENT (a command allowed while loading) before its
   * ready check has answered, and the reply can come first.
   */
  private readonly onBlockingClose = () => {
    this.blockingId = null;
  };

  constructor(options: RedisEventFeedOptions) {
    this.blocking = options.blocking;
    this.command = options.command;
    this.store = options.store;
    const prefix = options.prefix ?? 'cueroom';
    this.keys = typeof prefix === 'string' ? new RedisKeys(prefix) : prefix;
    this.blockMs = options.blockMs ?? 5_000;
    this.count = options.count ?? 500;
    this.retryMinMs = options.retryMinMs ?? 100;
    this.retryMaxMs = options.retryMaxMs ?? 2_000;
    this.onError = options.onError;
    // An 'error' without a listener is how a Redis blip turns into a crash.
    this.blocking.on('error', this.onBlockingError);
    this.blocking.on('close', this.onBlockingClose);
  }

  subscribe(
    sessionId: string,
    afterSeq: number,
    onEvents: (events: SessionEvent[]) => void,
    options: SubscribeOptions = {},
  ): () => void {
    if (this.closed) throw new Error('RedisEventFeed is closed');
    const sub: Subscriber = {
      sessionId,
      onEvents,
      options,
      afterSeq,
      seq: afterSeq,
      active: true,
      filling: false,
      held: [],
      queue: [],
      scheduled: false,
    };
    let stream = this.streams.get(sessionId);
    if (stream) {
      // The shared read is somewhere else: catch this one up from the store first.
      stream.subscribers.add(sub);
      this.fill(sub, 0);
    } else {
      stream = {
        sessionId,
        key: this.keys.events(sessionId),
        lastId: idBeforeSeq(afterSeq),
        subscribers: new Set([sub]),
      };
      this.streams.set(sessionId, stream);
      this.restartRead();
    }
    this.loop ??= this.run();
    return () => this.unsubscribe(sub);
  }

  /**
   * Events this instance has just applied: its subscribers get them now, not a stream read
   * later (a round trip to Redis, behind whatever else the event loop is doing). The read
   * brings them again and they are skipped by seq; one out of order (another instance's
   * event not read yet) starts a fill from the store, as for a read.
   */
  publish(sessionId: string, events: readonly SessionEvent[]): void {
    const stream = this.streams.get(sessionId);
    if (!stream || events.length === 0) return;
    for (const sub of stream.subscribers) {
      if (!sub.active) continue;
      if (sub.filling) sub.held.push(...events);
      else this.enqueue(sub, events);
    }
  }

  /** Sessions read by this instance and their subscribers, for metrics. */
  stats(): { sessions: number; subscribers: number } {
    let subscribers = 0;
    for (const stream of this.streams.values()) subscribers += stream.subscribers.size;
    return { sessions: this.streams.size, subscribers };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const stream of this.streams.values()) for (const sub of stream.subscribers) sub.active = false;
    this.streams.clear();
    for (const [timer, resolve] of this.timers) {
      clearTimeout(timer);
      resolve();
    }
    this.timers.clear();
    this.wake?.();
    this.stale = this.reading;
    void this.kick();
    await this.loop;
    this.blocking.off('error', this.onBlockingError);
    this.blocking.off('close', this.onBlockingClose);
  }

  private unsubscribe(sub: Subscriber): void {
    if (!sub.active) return;
    sub.active = false;
    const stream = this.streams.get(sub.sessionId);
    if (!stream) return;
    stream.subscribers.delete(sub);
    // The next read leaves the stream out; the one in flight may still bring entries, dropped.
    if (stream.subscribers.size === 0) this.streams.delete(sub.sessionId);
  }

  private async run(): Promise<void> {
    let failures = 0;
    while (!this.closed) {
      if (this.streams.size === 0) {
        await new Promise<void>((resolve) => (this.wake = resolve));
        this.wake = null;
        continue;
      }
      let reads: StreamRead[] = [];
      let reply: [string, StreamEntry[]][] | null;
      const generation = ++this.generation;
      try {
        this.blockingId ??= Number(await this.blocking.client('ID'));
        if (this.closed) break;
        if (this.streams.size === 0) continue;
        // Taken in the same turn as the XREAD is sent: a stream added after this sees
        // `reading` set and has this read kicked.
        reads = [...this.streams.values()];
        this.reading = generation;
        reply = (await this.blocking.xread(
          'COUNT',
          this.count,
          'BLOCK',
          this.blockMs,
          'STREAMS',
          ...reads.map((read) => read.key),
          ...reads.map((read) => read.lastId),
        )) as [string, StreamEntry[]][] | null;
        failures = 0;
      } catch (error) {
        this.reading = 0;
        if (this.closed) break;
        this.onError?.(error);
        this.blockingId = null;
        await this.delay(Math.min(this.retryMaxMs, this.retryMinMs * 2 ** failures++));
        continue;
      } finally {
        if (this.reading === generation) this.reading = 0;
      }
      for (const [key, entries] of reply ?? []) {
        const sessionId = this.keys.sessionOfEvents(key);
        const read = sessionId === null ? undefined : this.streams.get(sessionId);
        // A stream dropped (or dropped and added again) meanwhile: its new read starts on its own.
        if (!read || !reads.includes(read) || entries.length === 0) continue;
        read.lastId = entries[entries.length - 1]![0];
        // An apply's entry id is `<its last seq>-0`: entries every subscriber has already
        // had (published by this instance when it applied them) are not even parsed.
        let seen = Infinity;
        for (const sub of read.subscribers) if (sub.active) seen = Math.min(seen, sub.seq);
        const fresh = entries.filter(([id]) => Number(id.slice(0, id.indexOf('-'))) > seen);
        const events = entryEvents(fresh);
        if (events.length === 0) continue;
        for (const sub of read.subscribers) {
          if (!sub.active) continue;
          if (sub.filling) sub.held.push(...events);
          else this.enqueue(sub, events);
        }
      }
    }
  }

  /** A new stream joined: a read without it must end now, not after `blockMs`. */
  private restartRead(): void {
    this.wake?.();
    if (this.reading === 0) return; // the next read includes it
    this.stale = this.reading;
    void this.kick();
  }

  /**
   * CLIENT UNBLOCK the stale read, until it has ended. Redis answers 0 when the XREAD has
   * been sent but has not reached it yet (or has already returned): retried briefly. One
   * kick runs at a time, and it re-reads `stale` after every round trip, so a stream that
   * joins meanwhile is never left waiting for `blockMs`; a read that already includes it
   * is never kicked.
   */
  private async kick(): Promise<void> {
    if (this.kicking) return;
    this.kicking = true;
    try {
      let attempt = 0;
      while (this.stale !== 0 && this.stale === this.reading && this.stale !== this.unblocked) {
        const id = this.blockingId;
        if (id === null) return; // reconnecting: the read ends by itself within blockMs
        const target = this.stale;
        if (Number(await this.command.client('UNBLOCK', id)) === 1) {
          this.unblocked = target;
          attempt = 0;
          continue;
        }
        if (++attempt >= 200) return;
        await new Promise((resolve) => setTimeout(resolve, Math.min(25, attempt)));
      }
    } catch (error) {
      this.onError?.(error);
    } finally {
      this.kicking = false;
    }
  }

  /** Queues events past the subscriber's seq; a jump starts a fill from the store. */
  private enqueue(sub: Subscriber, events: readonly SessionEvent[]): void {
    for (let i = 0; i < events.length; i++) {
      const event = events[i]!;
      if (event.seq <= sub.seq) continue;
      if (event.seq !== sub.seq + 1) {
        sub.held.push(...events.slice(i));
        this.fill(sub, 0);
        break;
      }
      sub.queue.push(event);
      sub.seq = event.seq;
    }
    if (sub.queue.length > 0 && !sub.scheduled) {
      sub.scheduled = true;
      queueMicrotask(() => this.flush(sub));
    }
  }

  private flush(sub: Subscriber): void {
    sub.scheduled = false;
    if (!sub.active || sub.queue.length === 0) return;
    const batch = sub.queue;
    sub.queue = [];
    try {
      sub.onEvents(batch);
    } catch (error) {
      this.onError?.(error);
    }
  }

  /** Reads what the subscriber misses from the store, then lets the held live events through. */
  private fill(sub: Subscriber, attempt: number): void {
    if (sub.filling && attempt === 0) return;
    sub.filling = true;
    this.store.readSince(sub.sessionId, sub.seq).then(
      (events) => {
        if (!sub.active) return;
        if (events === null) {
          this.unsubscribe(sub);
          reportLost(sub.options, sub.sessionId, sub.seq);
          return;
        }
        sub.filling = false;
        const held = sub.held;
        sub.held = [];
        this.enqueue(sub, events);
        if (sub.filling) sub.held.unshift(...held);
        else this.enqueue(sub, held);
      },
      (error: unknown) => {
        if (!sub.active || this.closed) return;
        this.onError?.(error);
        void this.delay(Math.min(this.retryMaxMs, this.retryMinMs * 2 ** attempt)).then(() => {
          if (sub.active && !this.closed) this.fill(sub, attempt + 1);
        });
      },
    );
  }

  private delay(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.timers.delete(timer);
        resolve();
      }, ms);
      this.timers.set(timer, resolve);
    });
  }
}

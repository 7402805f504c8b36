import { canSee } from '../../shared/audience.js';
import type { SessionEvent } from '../../shared/events.js';
import type { Role } from '../../shared/roles.js';
import { projectState } from '../../shared/audience.js';
import type { EventFeed, SessionStore } from '../store/session-store.js';
import type { Metrics } from '../metrics.js';
import type { ConsoleConnection } from './console-connection.js';

export interface HubOptions {
  /** Fan-out tick in ms; 0 flushes on the next turn of the event loop (setImmediate). */
  flushIntervalMs: number;
}

/**
 * The consoles of one session on this instance. Events arrive from the feed in seq order;
 * each tick they are filtered once per role, serialized once per role, and written as one
 * frame to every console of that role, so a burst costs a few writes, not one per event.
 */
export class SessionHub {
  readonly consoles = new Set<ConsoleConnection>();
  /** Last seq received from the feed. */
  seq = 0;
  private pending: SessionEvent[] = [];
  private flushScheduled = false;
  private unsubscribe: (() => void) | null = null;
  private started: Promise<void> | null = null;

  constructor(
    readonly sessionId: string,
    private readonly store: SessionStore,
    private readonly feed: EventFeed,
    private readonly options: HubOptions,
    private readonly metrics: Metrics,
  ) {}

  /** Subscribes to the feed from the store's current seq; idempotent. */
  start(): Promise<void> {
    this.started ??= (async () => {
      const state = await this.store.load(this.sessionId);
      this.seq = state?.seq ?? 0;
      this.subscribeFrom(this.seq);
    })();
    return this.started;
  }

  private subscribeFrom(seq: number): void {
    this.unsubscribe = this.feed.subscribe(this.sessionId, seq, (events) => this.receive(events), {
      onLost: () => void this.recover(),
    });
  }

  /**
   * The feed could not deliver without a gap (this instance fell behind the retained
   * window): start again from the store's seq and bring every console up to date, by
   * replay where it can and by snapshot where it cannot.
   */
  private async recover(): Promise<void> {
    this.unsubscribe = null;
    this.pending = [];
    const state = await this.store.load(this.sessionId);
    this.seq = state?.seq ?? this.seq;
    this.subscribeFrom(this.seq);
    await Promise.all([...this.consoles].map((console) => this.sync(console, console.cursor)));
  }

  stop(): void {
    this.unsubscribe?.();
    this.unsubscribe = null;
  }

  /**
   * Brings a console up to date, from `since` when it can (replay), otherwise with a
   * snapshot, then lets live events through. Events arriving meanwhile are held, and
   * anything at or below what the console was given is skipped: no gap, no duplicate.
   */
  async sync(console: ConsoleConnection, since: number | null): Promise<void> {
    console.syncing = true;
    console.held = [];
    this.consoles.add(console);
    let replay = since === null ? null : await this.store.readSince(this.sessionId, since);
    if (replay && replay.length === 0 && since !== null && since > this.seq) {
      // A console claiming a seq this session never reached (e.g. it saw another server's
      // data) gets a snapshot; skipping ahead would hide events from it.
      const state = await this.store.load(this.sessionId);
      if (!state || state.seq < since) replay = null;
    }
    if (console.closed) return;
    if (replay && since !== null) {
      const last = replay.at(-1)?.seq ?? since;
      console.send({
        type: 'resumed',
        since,
        seq: last,
        events: replay.filter((event) => canSee(console.role, event)),
      });
      console.cursor = last;
    } else {
      const state = await this.store.load(this.sessionId);
      if (console.closed) return;
      if (!state) {
        console.close(4103, 'session not found');
        return;
      }
      console.send({ type: 'snapshot', seq: state.seq, state: projectState(state, console.role), recovered: false });
      console.cursor = state.seq;
    }
    const held = console.held;
    console.held = [];
    console.syncing = false;
    this.deliver(console, held);
  }

  remove(console: ConsoleConnection): void {
    this.consoles.delete(console);
  }

  private receive(events: SessionEvent[]): void {
    if (events.length === 0) return;
    this.seq = events[events.length - 1]!.seq;
    for (const console of this.consoles) if (console.syncing) console.hold(events);
    for (const event of events) this.pending.push(event);
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    if (this.options.flushIntervalMs > 0) setTimeout(() => this.flush(), this.options.flushIntervalMs);
    else setImmediate(() => this.flush());
  }

  private flush(): void {
    this.flushScheduled = false;
    const events = this.pending;
    this.pending = [];
    if (events.length === 0) return;
    const first = events[0]!.seq;
    const last = events[events.length - 1]!.seq;
    // Serialize each event once, then each role's frame once.
    const json = events.map((event) => JSON.stringify(event));
    const frames = new Map<Role, { frame: string | null; count: number }>();
    const now = Date.now();
    for (const console of this.consoles) {
      if (console.syncing || console.closed) continue;
      if (console.cursor >= last) continue;
      if (console.cursor >= first) {
        // Caught up mid-batch (it just finished syncing): a frame of its own.
        this.deliver(console, events);
        continue;
      }
      let entry = frames.get(console.role);
      if (!entry) {
        const parts: string[] = [];
        for (let i = 0; i < events.length; i++) if (canSee(console.role, events[i]!)) parts.push(json[i]!);
        entry = {
          frame: parts.length ? `{"type":"events","seq":${last},"events":[${parts.join(',')}]}` : null,
          count: parts.length,
        };
        frames.set(console.role, entry);
      }
      if (entry.frame && console.sendFrame(entry.frame)) this.metrics.deliveries.inc(entry.count);
      console.cursor = last;
    }
    for (const event of events) this.metrics.fanoutLatency.observe((now - event.at) / 1000);
  }

  /** Sends `events` past the console's cursor that its role may see, as one frame. */
  private deliver(console: ConsoleConnection, events: readonly SessionEvent[]): void {
    const fresh = events.filter((event) => event.seq > console.cursor);
    if (fresh.length === 0) return;
    const visible = fresh.filter((event) => canSee(console.role, event));
    const last = fresh[fresh.length - 1]!.seq;
    if (visible.length) console.send({ type: 'events', seq: last, events: visible });
    this.metrics.deliveries.inc(visible.length);
    console.cursor = last;
  }
}

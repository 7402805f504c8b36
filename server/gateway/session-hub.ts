import { canSee } from '../../shared/audience.js';
import type { SessionEvent } from '../../shared/events.js';
import type { Role } from '../../shared/roles.js';
import { projectState } from '../../shared/audience.js';
import type { EventFeed, SessionStore } from '../store/session-store.js';
import type { Metrics } from '../metrics.js';
import type { ConsoleConnection } from './console-connection.js';

/** A session whose last frame went out this many ticks ago counts as quiet (see receive). */
const QUIET_TICKS = 10;

export interface HubOptions {
  /** Fan-out tick in ms; 0 flushes on the next turn of the event loop (setImmediate). */
  flushIntervalMs: number;
  /**
   * Health samples reach a console at most once per this many ms, the latest winning; 0
   * sends every one. The rules see every sample regardless (server/health). Default 1000.
   */
  healthIntervalMs?: number;
}

/** Per console: when it was last sent a health sample, and the newest one held back since. */
interface HealthPace {
  sentAt: number;
  /** Always newer than the last frame the console was sent, so it can still go out in seq order. */
  pending: SessionEvent | null;
  timer: NodeJS.Timeout | null;
}

type Part = { seq: number; json: string };

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
  private lastFlushAt = -Infinity;
  private unsubscribe: (() => void) | null = null;
  private started: Promise<void> | null = null;
  private readonly pace = new Map<ConsoleConnection, HealthPace>();
  private readonly healthIntervalMs: number;

  constructor(
    readonly sessionId: string,
    private readonly store: SessionStore,
    private readonly feed: EventFeed,
    private readonly options: HubOptions,
    private readonly metrics: Metrics,
  ) {
    this.healthIntervalMs = options.healthIntervalMs ?? 1000;
  }

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
    for (const console of [...this.pace.keys()]) this.dropPace(console);
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
    // The snapshot or replay carries the latest sample; a held-back one would now be out of order.
    const pace = this.pace.get(console);
    if (pace) pace.pending = null;
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
    this.dropPace(console);
  }

  private dropPace(console: ConsoleConnection): void {
    const pace = this.pace.get(console);
    if (pace?.timer) clearTimeout(pace.timer);
    this.pace.delete(console);
  }

  private receive(events: SessionEvent[]): void {
    if (events.length === 0) return;
    this.seq = events[events.length - 1]!.seq;
    for (const console of this.consoles) if (console.syncing) console.hold(events);
    for (const event of events) this.pending.push(event);
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    // Events of a session that has been quiet for a while (QUIET_TICKS ticks) go out at
    // the end of this turn of the event loop: a session with a few events a second pays no
    // latency for coalescing. Otherwise they wait one tick and go out together: a busy
    // session writes at most one frame per console per tick. (Flushing every event at once
    // whenever the last frame was a tick ago made a 100-events/s room write a frame per
    // event per console and fall behind: measured in docs/benchmarks.md.)
    const interval = this.options.flushIntervalMs;
    if (interval > 0 && Date.now() - this.lastFlushAt < interval * QUIET_TICKS) setTimeout(() => this.flush(), interval);
    else setImmediate(() => this.flush());
  }

  private flush(): void {
    this.flushScheduled = false;
    this.lastFlushAt = Date.now();
    const events = this.pending;
    this.pending = [];
    if (events.length === 0) return;
    const first = events[0]!.seq;
    const last = events[events.length - 1]!.seq;
    // Serialize each event once, then each role's frame once (per health variant).
    const json = events.map((event) => JSON.stringify(event));
    const roles = new Map<Role, { parts: Part[]; health: { event: SessionEvent; json: string } | null }>();
    const frames = new Map<string, Buffer>();
    const now = Date.now();
    for (const console of this.consoles) {
      if (console.syncing || console.closed) continue;
      if (console.cursor >= last) continue;
      if (console.cursor >= first) {
        // Caught up mid-batch (it just finished syncing): a frame of its own.
        this.deliver(console, events);
        continue;
      }
      let entry = roles.get(console.role);
      if (!entry) {
        entry = this.split(console.role, events, json);
        roles.set(console.role, entry);
      }
      this.send(console, entry.parts, entry.health, last, now, frames);
    }
    for (const event of events) this.metrics.fanoutLatency.observe((now - event.at) / 1000);
  }

  /** The events a role sees, health samples apart: only the newest of the batch matters. */
  private split(role: Role, events: readonly SessionEvent[], json: readonly string[]) {
    const parts: Part[] = [];
    let health: { event: SessionEvent; json: string } | null = null;
    for (let i = 0; i < events.length; i++) {
      const event = events[i]!;
      if (!canSee(role, event)) continue;
      if (event.kind === 'health.sampled' && this.healthIntervalMs > 0) health = { event, json: json[i]! };
      else parts.push({ seq: event.seq, json: json[i]! });
    }
    return { parts, health };
  }

  /**
   * Writes one frame to a console: the events of its role plus at most one health sample,
   * paced to one per `healthIntervalMs`. A sample that comes too soon is held back and sent
   * by a timer, unless another frame goes out first, which then carries it (in seq order,
   * so the console never sees an event older than a frame's seq). The frame seq is the
   * console's cursor as always: resuming from it skips only superseded samples.
   */
  private send(
    console: ConsoleConnection,
    parts: readonly Part[],
    health: { event: SessionEvent; json: string } | null,
    last: number,
    now: number,
    frames?: Map<string, Buffer>,
  ): void {
    let pace = this.pace.get(console);
    if (!pace && health) {
      pace = { sentAt: -Infinity, pending: null, timer: null };
      this.pace.set(console, pace);
    }
    let sample: SessionEvent | null = null;
    let sampleJson: string | null = null;
    if (pace) {
      if (health && now - pace.sentAt >= this.healthIntervalMs) {
        sample = health.event;
        sampleJson = health.json;
        pace.pending = null;
      } else if (health) {
        pace.pending = health.event;
      }
      if (!sample && pace.pending && parts.length > 0) {
        sample = pace.pending;
        sampleJson = health?.event === sample ? health.json : JSON.stringify(sample);
        pace.pending = null;
      }
    }
    console.cursor = last;
    if (parts.length > 0 || sample) {
      const key = `${console.role}:${sample?.seq ?? 0}`;
      let frame = frames?.get(key);
      if (!frame) {
        const all = sample ? [...parts, { seq: sample.seq, json: sampleJson! }].sort((a, b) => a.seq - b.seq) : parts;
        // Encoded once for every console of the role: a string would be encoded again into
        // each socket's write.
        frame = Buffer.from(`{"type":"events","seq":${last},"events":[${all.map((p) => p.json).join(',')}]}`);
        frames?.set(key, frame);
      }
      if (console.sendFrame(frame)) this.metrics.deliveries.inc(parts.length + (sample ? 1 : 0));
      if (sample && pace) pace.sentAt = now;
    }
    if (pace?.pending && !pace.timer) {
      pace.timer = setTimeout(() => this.sendPending(console), Math.max(0, pace.sentAt + this.healthIntervalMs - now));
      pace.timer.unref();
    }
  }

  private sendPending(console: ConsoleConnection): void {
    const pace = this.pace.get(console);
    if (!pace) return;
    pace.timer = null;
    const sample = pace.pending;
    if (!sample || console.closed || console.syncing) return;
    pace.pending = null;
    pace.sentAt = Date.now();
    if (console.send({ type: 'events', seq: console.cursor, events: [sample] })) this.metrics.deliveries.inc(1);
  }

  /** Sends `events` past the console's cursor that its role may see, as one frame. */
  private deliver(console: ConsoleConnection, events: readonly SessionEvent[]): void {
    const fresh = events.filter((event) => event.seq > console.cursor);
    if (fresh.length === 0) return;
    const last = fresh[fresh.length - 1]!.seq;
    const { parts, health } = this.split(
      console.role,
      fresh,
      fresh.map((event) => JSON.stringify(event)),
    );
    this.send(console, parts, health, last, Date.now());
  }
}

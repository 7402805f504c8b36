import {
  DEFAULT_HEALTH_RULES,
  normalizeStatus,
  worstStatus,
  type HealthRuleName,
  type HealthRules,
  type HealthStatus,
} from '../../shared/health.js';
import type { HealthSample, INCIDENT_CATEGORIES, Severity } from '../../shared/model.js';

type IncidentCategory = (typeof INCIDENT_CATEGORIES)[number];

/** What the engine asks its owner to do; the owner turns it into a system command. */
export type HealthAction =
  | {
      type: 'breach';
      sessionId: string;
      rule: HealthRuleName;
      dedupeKey: string;
      severity: Severity;
      category: IncidentCategory;
      title: string;
      detail: string;
      /** The sample that breached; null for the watchdog. */
      sample: HealthSample | null;
      at: number;
    }
  | { type: 'clear'; sessionId: string; rule: HealthRuleName; dedupeKey: string; at: number }
  | { type: 'resolve'; sessionId: string; rule: HealthRuleName; dedupeKey: string; at: number; resolution: string };

/** The session's settings the rules read. */
export interface RuleContext {
  rules: HealthRules;
  targetBitrateKbps: number | null;
}

interface RuleState {
  /** When the bad condition started (it must hold `forSeconds` before the first breach). */
  badSince: number | null;
  /** The incident is open and its signal breaches. */
  breaching: boolean;
  /** The incident is open (breaching, or waiting out the hysteresis time). */
  open: boolean;
  /** When the signal became good again while the incident is open. */
  goodSince: number | null;
}

interface SessionHealth {
  context: RuleContext;
  rules: Record<HealthRuleName, RuleState>;
  lastSampleAt: number | null;
  last: HealthSample | null;
  viewers: WindowMax;
}

export const dedupeKeyOf = (rule: HealthRuleName) => `health:${rule}`;

const freshRule = (): RuleState => ({ badSince: null, breaching: false, open: false, goodSince: null });

/**
 * The health rules of every session on this instance, as a plain class: samples in,
 * actions out, time from an injected clock. It holds no timers; its owner calls `tick` at
 * `nextDeadline` (the watchdog and the hysteresis are deadlines, not samples).
 *
 * Durations are measured on this instance's clock at arrival, not on the samples' `ts`,
 * so an encoder with a wrong clock cannot fake or hide an outage.
 */
export class HealthRuleEngine {
  private readonly sessions = new Map<string, SessionHealth>();

  constructor(private readonly clock: () => number = Date.now) {}

  /**
   * Marks incidents that are already open (found in the session's state after a restart or
   * raised by another instance), so that a recovery resolves them and a breach counts as
   * the same incident.
   */
  seed(sessionId: string, context: RuleContext, open: readonly { rule: HealthRuleName; breaching: boolean }[]): void {
    const session = this.session(sessionId, context);
    const now = this.clock();
    for (const { rule, breaching } of open) {
      session.rules[rule] = {
        badSince: breaching ? now : null,
        breaching,
        open: true,
        goodSince: breaching ? null : now,
      };
    }
  }

  /**
   * Arms the watchdog of a session from now, as if a sample had just arrived: for
   * sessions that were live when this instance started, whose agent may have died meanwhile.
   */
  expectSamples(sessionId: string, context: RuleContext): void {
    const session = this.session(sessionId, context);
    session.lastSampleAt ??= this.clock();
  }

  has(sessionId: string): boolean {
    return this.sessions.has(sessionId);
  }

  setContext(sessionId: string, context: Partial<RuleContext>): void {
    const session = this.sessions.get(sessionId);
    if (session) session.context = { ...session.context, ...context };
  }

  forget(sessionId: string): void {
    this.sessions.delete(sessionId);
  }

  /** Judges one sample against every enabled rule. */
  observe(sessionId: string, sample: HealthSample, context?: RuleContext): HealthAction[] {
    const session = this.session(sessionId, context);
    const now = this.clock();
    const previous = session.last;
    session.last = sample;
    session.lastSampleAt = now;
    const { rules, targetBitrateKbps } = session.context;
    const actions: HealthAction[] = [];

    // A sample is the watchdog's good news.
    this.judge(session, sessionId, 'watchdog', false, 0, now, null, actions);

    const target = targetBitrateKbps ?? rules.bitrate.defaultTargetKbps;
    const lowBitrate = sample.bitrateKbps < rules.bitrate.minShareOfTarget * target;
    this.judge(
      session,
      sessionId,
      'bitrate',
      rules.bitrate.enabled && lowBitrate,
      rules.bitrate.forSeconds,
      now,
      sample,
      actions,
      () => ({
        title: 'Bitrate low',
        detail: `${Math.round(sample.bitrateKbps)} kbps, under ${Math.round(rules.bitrate.minShareOfTarget * 100)}% of the ${Math.round(target)} kbps target for ${rules.bitrate.forSeconds} s.`,
      }),
    );

    this.judge(
      session,
      sessionId,
      'fps',
      rules.fps.enabled && sample.fps < rules.fps.floor,
      rules.fps.forSeconds,
      now,
      sample,
      actions,
      () => ({
        title: 'Frame rate low',
        detail: `${sample.fps} fps, under the floor of ${rules.fps.floor} for ${rules.fps.forSeconds} s.`,
      }),
    );

    const ratio = droppedRatio(sample, previous);
    this.judge(
      session,
      sessionId,
      'droppedFrames',
      rules.droppedFrames.enabled && ratio > rules.droppedFrames.maxRatio,
      rules.droppedFrames.forSeconds,
      now,
      sample,
      actions,
      () => ({
        title: 'Dropping frames',
        detail: `${(ratio * 100).toFixed(1)}% of frames dropped, over the ${(rules.droppedFrames.maxRatio * 100).toFixed(1)}% ceiling for ${rules.droppedFrames.forSeconds} s.`,
      }),
    );

    let viewersBad = false;
    let peak = 0;
    if (sample.viewers !== undefined) {
      peak = session.viewers.push(now, sample.viewers, now - rules.viewers.windowSeconds * 1000);
      viewersBad =
        rules.viewers.enabled &&
        peak >= rules.viewers.minViewers &&
        sample.viewers < peak * (1 - rules.viewers.maxDropShare);
    }
    if (sample.viewers !== undefined || session.rules.viewers.open) {
      // A drop is news as it happens: no hold time.
      this.judge(session, sessionId, 'viewers', viewersBad, 0, now, sample, actions, () => ({
        title: 'Viewers falling',
        detail: `${sample.viewers} viewers, down from ${peak} within ${rules.viewers.windowSeconds} s.`,
      }));
    }

    const destinations = sample.destinations ?? [];
    const statuses = destinations.map((d) => normalized(d.status));
    const worst = worstStatus(statuses);
    const down = destinations.filter((_, i) => statuses[i] === 'critical' || statuses[i] === 'offline');
    this.judge(
      session,
      sessionId,
      'destinations',
      rules.destinations.enabled && destinations.length > 0 && (worst === 'critical' || worst === 'offline'),
      0,
      now,
      sample,
      actions,
      () => ({
        title: worst === 'offline' ? 'Destination offline' : 'Destination unhealthy',
        detail: down.map((d) => `${d.id}: ${d.status}`).join(', '),
        severity: worst === 'offline' ? 'sev1' : 'sev2',
      }),
    );
    return actions;
  }

  /** Time-driven rules: the watchdog, and resolving after the hysteresis time. */
  tick(sessionId: string): HealthAction[] {
    const session = this.sessions.get(sessionId);
    if (!session) return [];
    const now = this.clock();
    const actions: HealthAction[] = [];
    const { rules } = session.context;
    if (rules.watchdog.enabled && session.lastSampleAt !== null && !session.rules.watchdog.breaching) {
      const silentFor = now - session.lastSampleAt;
      if (silentFor >= rules.watchdog.noSampleSeconds * 1000) {
        this.judge(session, sessionId, 'watchdog', true, 0, now, null, actions);
      }
    }
    this.resolveRecovered(session, sessionId, now, actions);
    return actions;
  }

  /** When `tick` has something to do next for this session, or null. */
  nextDeadline(sessionId: string): number | null {
    const session = this.sessions.get(sessionId);
    if (!session) return null;
    const { rules } = session.context;
    let next: number | null = null;
    const consider = (at: number) => (next = next === null ? at : Math.min(next, at));
    if (rules.watchdog.enabled && session.lastSampleAt !== null && !session.rules.watchdog.breaching) {
      consider(session.lastSampleAt + rules.watchdog.noSampleSeconds * 1000);
    }
    for (const state of Object.values(session.rules)) {
      if (state.open && !state.breaching && state.goodSince !== null)
        consider(state.goodSince + rules.recoverSeconds * 1000);
    }
    return next;
  }

  /** The session's status now: `no_data` without a recent sample, never `healthy`. */
  status(sessionId: string): HealthStatus {
    const session = this.sessions.get(sessionId);
    if (!session || session.lastSampleAt === null || session.rules.watchdog.breaching) return 'no_data';
    const statuses: HealthStatus[] = (session.last?.destinations ?? []).map((d) => normalized(d.status));
    for (const [rule, state] of Object.entries(session.rules)) {
      if (state.breaching) statuses.push(SEVERITY[rule as HealthRuleName] === 'sev1' ? 'critical' : 'degraded');
    }
    return worstStatus(statuses.length ? statuses : ['healthy']);
  }

  /** Which rules have an open incident, and whether they breach (for tests and metrics). */
  openRules(sessionId: string): Partial<Record<HealthRuleName, { breaching: boolean }>> {
    const out: Partial<Record<HealthRuleName, { breaching: boolean }>> = {};
    const session = this.sessions.get(sessionId);
    if (!session) return out;
    for (const [rule, state] of Object.entries(session.rules))
      if (state.open) out[rule as HealthRuleName] = { breaching: state.breaching };
    return out;
  }

  private session(sessionId: string, context?: RuleContext): SessionHealth {
    let session = this.sessions.get(sessionId);
    if (!session) {
      session = {
        context: context ?? { rules: DEFAULT_HEALTH_RULES, targetBitrateKbps: null },
        rules: {
          bitrate: freshRule(),
          fps: freshRule(),
          droppedFrames: freshRule(),
          viewers: freshRule(),
          destinations: freshRule(),
          watchdog: freshRule(),
        },
        lastSampleAt: null,
        last: null,
        viewers: new WindowMax(),
      };
      this.sessions.set(sessionId, session);
    } else if (context) {
      session.context = context;
    }
    return session;
  }

  private judge(
    session: SessionHealth,
    sessionId: string,
    rule: HealthRuleName,
    bad: boolean,
    holdSeconds: number,
    now: number,
    sample: HealthSample | null,
    actions: HealthAction[],
    describe?: () => { title: string; detail: string; severity?: Severity },
  ): void {
    const state = session.rules[rule];
    const dedupeKey = dedupeKeyOf(rule);
    if (bad) {
      state.goodSince = null;
      state.badSince ??= now;
      if (state.breaching) return;
      // The hold time guards the first raise; a signal that flaps back while its incident is
      // still open breaches again at once (the same incident, one more occurrence).
      if (!state.open && now - state.badSince < holdSeconds * 1000) return;
      state.breaching = true;
      state.open = true;
      const described = describe?.() ?? {
        title: 'Stream down',
        detail: `No health sample for ${session.context.rules.watchdog.noSampleSeconds} s.`,
      };
      actions.push({
        type: 'breach',
        sessionId,
        rule,
        dedupeKey,
        severity: described.severity ?? SEVERITY[rule],
        category: CATEGORY[rule],
        title: described.title,
        detail: described.detail,
        sample,
        at: now,
      });
      return;
    }
    state.badSince = null;
    if (state.breaching) {
      state.breaching = false;
      state.goodSince = now;
      actions.push({ type: 'clear', sessionId, rule, dedupeKey, at: now });
    }
    this.resolveRecovered(session, sessionId, now, actions, rule);
  }

  private resolveRecovered(
    session: SessionHealth,
    sessionId: string,
    now: number,
    actions: HealthAction[],
    only?: HealthRuleName,
  ): void {
    // While the stream is silent nothing is "good": no other rule resolves under the watchdog.
    if (session.rules.watchdog.breaching && only !== 'watchdog') return;
    const recoverMs = session.context.rules.recoverSeconds * 1000;
    for (const [name, state] of Object.entries(session.rules) as [HealthRuleName, RuleState][]) {
      if (only && name !== only) continue;
      if (!state.open || state.breaching || state.goodSince === null) continue;
      if (now - state.goodSince < recoverMs) continue;
      state.open = false;
      state.goodSince = null;
      actions.push({
        type: 'resolve',
        sessionId,
        rule: name,
        dedupeKey: dedupeKeyOf(name),
        at: now,
        resolution: `Resolved automatically: healthy for ${session.context.rules.recoverSeconds} s.`,
      });
    }
  }
}

const SEVERITY: Readonly<Record<HealthRuleName, Severity>> = {
  watchdog: 'sev1',
  bitrate: 'sev2',
  fps: 'sev2',
  droppedFrames: 'sev2',
  viewers: 'sev3',
  destinations: 'sev2',
};
const CATEGORY: Readonly<Record<HealthRuleName, IncidentCategory>> = {
  watchdog: 'encoder',
  bitrate: 'network',
  fps: 'video',
  droppedFrames: 'encoder',
  viewers: 'platform',
  destinations: 'platform',
};

/**
 * Share of frames dropped since the previous sample: `droppedFrames` counts the frames
 * dropped since the previous sample, and fps × elapsed seconds estimates those sent.
 */
export function droppedRatio(sample: HealthSample, previous: HealthSample | null): number {
  if (sample.droppedFrames === 0) return 0;
  const seconds = previous && sample.ts > previous.ts ? Math.min((sample.ts - previous.ts) / 1000, 60) : 1;
  const sent = sample.fps * seconds;
  return sample.droppedFrames / (sample.droppedFrames + sent);
}

/** Vendor words repeat on every sample: normalize each once. */
const NORMALIZED = new Map<string, HealthStatus>();
function normalized(raw: string): HealthStatus {
  let status = NORMALIZED.get(raw);
  if (status === undefined) {
    status = normalizeStatus(raw);
    if (NORMALIZED.size < 1000) NORMALIZED.set(raw, status);
  }
  return status;
}

/**
 * The highest value within a sliding time window, O(1) amortized per push: a deque of
 * candidates in decreasing value (a value under a newer, larger one can never be the peak).
 */
export class WindowMax {
  private at: number[] = [];
  private values: number[] = [];
  private head = 0;

  /** Adds a value at `at`, drops what is older than `from`, and returns the window's peak. */
  push(at: number, value: number, from: number): number {
    while (this.values.length > this.head && this.values[this.values.length - 1]! <= value) {
      this.values.pop();
      this.at.pop();
    }
    this.values.push(value);
    this.at.push(at);
    while (this.at[this.head]! < from) this.head++;
    if (this.head > 64 && this.head * 2 > this.values.length) {
      this.values = this.values.slice(this.head);
      this.at = this.at.slice(this.head);
      this.head = 0;
    }
    return this.values[this.head]!;
  }
}

import type { SessionEvent } from '../../shared/events.js';
import type { CrewRole, Role } from '../../shared/roles.js';
import { SEVERITIES, type Severity } from '../../shared/model.js';

/*
 * The post-live review, computed from the session's events alone: nothing in it is typed
 * by hand, and the same log always gives the same report. A pure function, so the figures
 * are checked against a scripted session in test/unit/review.test.ts.
 *
 * Conventions, for whoever reads the numbers:
 * - Durations are milliseconds between event times (`at`, the server's clock when the
 *   command was decided), except health, which uses the samples' own `ts`.
 * - Percentiles are nearest-rank: the p-th percentile of n sorted values is the value at
 *   rank ceil(p/100 × n); the median is p50. No interpolation, so every figure is a value
 *   that happened.
 * - An incident counts under its severity at the end of the session (an escalation moves
 *   it). Time to acknowledge: raise → first acknowledge. Time to resolve: raise → the
 *   resolve that left it resolved (a reopened and re-resolved incident counts its last).
 * - A question counts as flagged, answered or dismissed if it ever was; "unanswered
 *   flagged" are those still flagged at the end. Time to answer: arrival → last answer.
 * - Open intervals (a product still on screen, a console still open) end at the end of
 *   the session, or at the last event if it has not ended.
 */

export interface Stats {
  count: number;
  median: number | null;
  p90: number | null;
  max: number | null;
}

export interface Percentiles {
  count: number;
  min: number | null;
  p10: number | null;
  median: number | null;
  p90: number | null;
  max: number | null;
}

export interface Interval {
  from: number;
  to: number;
  durationMs: number;
}

export interface TimelineEntry {
  seq: number;
  at: number;
  kind: string;
  actor: string;
  role: Role | 'system';
  summary: string;
}

export interface IncidentReview {
  id: string;
  title: string;
  severity: Severity;
  category: string;
  status: string;
  raisedAt: number;
  raisedBy: string;
  acknowledgedAt: number | null;
  acknowledgedBy: string | null;
  resolvedAt: number | null;
  resolvedBy: string | null;
  assignee: string | null;
  timeToAcknowledgeMs: number | null;
  timeToResolveMs: number | null;
  occurrences: number;
  reopened: number;
}

export interface ProductReview {
  id: string;
  name: string;
  onScreenMs: number;
  onScreen: Interval[];
  priceChanges: { at: number; from: number; to: number; by: string }[];
  stockChanges: { at: number; from: number; to: number; by: string }[];
  soldOutAt: number[];
}

export interface CueReview {
  id: string;
  text: string;
  from: string;
  to: CrewRole[];
  sentAt: number;
  acknowledgedAt: number | null;
  timeToAcknowledgeMs: number | null;
}

export interface PresenceReview {
  personId: string;
  name: string;
  role: string;
  intervals: Interval[];
  totalMs: number;
}

export interface Outage {
  from: number;
  to: number;
  durationMs: number;
  /** `no_samples`: a gap over OUTAGE_GAP_MS between samples; `zero_bitrate`: samples said 0 kbps. */
  cause: 'no_samples' | 'zero_bitrate';
}

export interface Review {
  session: {
    id: string;
    title: string;
    status: string;
    createdAt: number | null;
    liveAt: number | null;
    endedAt: number | null;
    /** Live → ended (or → the last event while still live). */
    liveMs: number | null;
    lastSeq: number;
    events: number;
  };
  timeline: TimelineEntry[];
  incidents: {
    total: number;
    bySeverity: Record<Severity, { count: number; timeToAcknowledge: Stats; timeToResolve: Stats }>;
    /** Who acknowledged or resolved how many. */
    handledBy: { name: string; acknowledged: number; resolved: number }[];
    items: IncidentReview[];
  };
  questions: {
    received: number;
    flagged: number;
    answered: number;
    dismissed: number;
    timeToAnswer: Stats;
    unansweredFlagged: { id: string; text: string; author: string; submittedAt: number }[];
  };
  products: ProductReview[];
  health: {
    samples: number;
    bitrateKbps: Percentiles;
    fps: Percentiles;
    droppedFrames: Percentiles;
    outages: Outage[];
    outageMs: number;
    /**
     * Bitrate and fps over time for a chart: every sample up to SERIES_POINTS, beyond that
     * the lowest of each of SERIES_POINTS equal runs of samples, so a dip stays visible.
     */
    series: { ts: number; bitrateKbps: number; fps: number }[];
  };
  cues: { sent: number; acknowledged: number; timeToAcknowledge: Stats; items: CueReview[] };
  presence: PresenceReview[];
}

/** At most this many points in `health.series`. */
export const SERIES_POINTS = 600;

function downsample(sorted: readonly { ts: number; bitrateKbps: number; fps: number }[]): Review['health']['series'] {
  if (sorted.length <= SERIES_POINTS) return sorted.map(({ ts, bitrateKbps, fps }) => ({ ts, bitrateKbps, fps }));
  const series: Review['health']['series'] = [];
  for (let b = 0; b < SERIES_POINTS; b++) {
    const run = sorted.slice(
      Math.floor((b * sorted.length) / SERIES_POINTS),
      Math.floor(((b + 1) * sorted.length) / SERIES_POINTS),
    );
    if (run.length === 0) continue;
    series.push({
      ts: run[0]!.ts,
      bitrateKbps: Math.min(...run.map((s) => s.bitrateKbps)),
      fps: Math.min(...run.map((s) => s.fps)),
    });
  }
  return series;
}

/** A gap between two health samples longer than this is an outage. */
export const OUTAGE_GAP_MS = 10_000;

/** Nearest-rank percentile of sorted values. */
function rank(sorted: readonly number[], p: number): number | null {
  if (sorted.length === 0) return null;
  return sorted[Math.max(0, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

export function stats(values: readonly number[]): Stats {
  const sorted = [...values].sort((a, b) => a - b);
  return { count: sorted.length, median: rank(sorted, 50), p90: rank(sorted, 90), max: sorted.at(-1) ?? null };
}

export function percentiles(values: readonly number[]): Percentiles {
  const sorted = [...values].sort((a, b) => a - b);
  return {
    count: sorted.length,
    min: sorted[0] ?? null,
    p10: rank(sorted, 10),
    median: rank(sorted, 50),
    p90: rank(sorted, 90),
    max: sorted.at(-1) ?? null,
  };
}

const interval = (from: number, to: number): Interval => ({ from, to, durationMs: to - from });

/** One line for people about what an event did. */
function summarize(event: SessionEvent): string {
  switch (event.kind) {
    case 'session.created':
      return `Session "${event.title}" created`;
    case 'session.status_changed':
      return `Session ${event.from} → ${event.to}${event.override ? ` (override: ${event.reason ?? 'no reason'}; unchecked ${event.uncheckedItems.join(', ')})` : ''}`;
    case 'incident.raised':
    case 'incident.recurred':
    case 'incident.acknowledged':
    case 'incident.assigned':
    case 'incident.note_added':
    case 'incident.severity_changed':
    case 'incident.pushed_to_host':
    case 'incident.resolved':
    case 'incident.reopened':
      return `${event.incident.severity} incident "${event.incident.title}" ${event.kind.slice('incident.'.length).replaceAll('_', ' ')}`;
    case 'incident.signal_changed':
      return `${event.incident.severity} incident "${event.incident.title}": signal ${event.incident.signal?.breaching ? 'breaching again' : 'back to normal'}`;
    case 'lineup.set':
      return `Lineup set: ${event.products.map((p) => p.name).join(', ')}`;
    case 'product.switched':
      return `On screen: ${event.next.name}`;
    case 'product.price_changed':
      return `${event.product.name} price ${event.previousPrice} → ${event.product.price}`;
    case 'product.stock_changed':
      return `${event.product.name} stock ${event.previousStock} → ${event.product.stock}`;
    case 'product.sold_out':
      return `${event.product.name} sold out`;
    case 'question.submitted':
    case 'question.upvoted':
    case 'question.flagged':
    case 'question.pinned':
    case 'question.prioritized':
    case 'question.answered':
    case 'question.dismissed':
    case 'question.restored':
      return `Question from ${event.question.author} ${event.kind.slice('question.'.length)}: "${event.question.text}"`;
    case 'cue.sent':
      return `Cue to ${event.cue.to.join(', ')}: "${event.cue.text}"`;
    case 'cue.acknowledged':
      return `Cue "${event.cue.text}" acknowledged by ${event.by}`;
    case 'presence.joined':
      return `${event.entry.name} (${event.entry.role}) joined`;
    case 'presence.left':
      return `${event.entry.name} (${event.entry.role}) left`;
    default:
      return event.kind;
  }
}

/** Kinds left out of the timeline: samples every second (summarized under health) and console counts. */
const NOT_IN_TIMELINE: ReadonlySet<string> = new Set(['health.sampled', 'presence.changed']);

/** The review of a session from its events in seq order. */
export function buildReview(events: Iterable<SessionEvent>): Review {
  const builder = reviewBuilder();
  for (const event of events) builder.add(event);
  return builder.finish();
}

/**
 * The review as a fold: `add` each event in seq order, then `finish`. Nothing keeps the
 * events themselves, so a long session can be reviewed as it is read, each page of events
 * let go once added.
 */
export function reviewBuilder(): { add(event: SessionEvent): void; finish(): Review } {
  let first: SessionEvent | undefined;
  let last: SessionEvent | undefined;
  let count = 0;
  let title = '';
  let status = 'scheduled';
  let createdAt: number | null = null;
  let liveAt: number | null = null;
  let endedAt: number | null = null;

  const timeline: TimelineEntry[] = [];
  const incidents = new Map<string, IncidentReview>();
  const questions = new Map<
    string,
    {
      flagged: boolean;
      answered: boolean;
      dismissed: boolean;
      submittedAt: number;
      answeredAt: number | null;
      status: string;
      text: string;
      author: string;
    }
  >();
  const products = new Map<string, ProductReview>();
  let onScreen: { id: string; since: number } | null = null;
  const samples: { ts: number; bitrateKbps: number; fps: number; droppedFrames: number }[] = [];
  const cues = new Map<string, CueReview>();
  const presence = new Map<string, PresenceReview & { since: number | null }>();

  const product = (id: string, name: string): ProductReview => {
    let entry = products.get(id);
    if (!entry) {
      entry = { id, name, onScreenMs: 0, onScreen: [], priceChanges: [], stockChanges: [], soldOutAt: [] };
      products.set(id, entry);
    }
    entry.name = name;
    return entry;
  };
  const takeOffScreen = (at: number) => {
    if (!onScreen) return;
    const entry = products.get(onScreen.id);
    if (entry) entry.onScreen.push(interval(onScreen.since, at));
    onScreen = null;
  };

  const add = (event: SessionEvent): void => {
    first ??= event;
    last = event;
    count++;
    if (!NOT_IN_TIMELINE.has(event.kind)) {
      timeline.push({
        seq: event.seq,
        at: event.at,
        kind: event.kind,
        actor: event.actor.name,
        role: event.actor.role,
        summary: summarize(event),
      });
    }
    switch (event.kind) {
      case 'session.created':
        title = event.title;
        createdAt = event.at;
        break;
      case 'session.status_changed':
        status = event.to;
        if (event.to === 'live') liveAt = event.at;
        if (event.to === 'ended') {
          endedAt = event.at;
          takeOffScreen(event.at);
        }
        break;

      case 'incident.raised':
      case 'incident.recurred':
      case 'incident.acknowledged':
      case 'incident.assigned':
      case 'incident.note_added':
      case 'incident.severity_changed':
      case 'incident.pushed_to_host':
      case 'incident.resolved':
      case 'incident.reopened':
      case 'incident.signal_changed': {
        const incident = event.incident;
        let entry = incidents.get(incident.id);
        if (!entry) {
          entry = {
            id: incident.id,
            title: incident.title,
            severity: incident.severity,
            category: incident.category,
            status: incident.status,
            raisedAt: event.at,
            raisedBy: event.actor.name,
            acknowledgedAt: null,
            acknowledgedBy: null,
            resolvedAt: null,
            resolvedBy: null,
            assignee: null,
            timeToAcknowledgeMs: null,
            timeToResolveMs: null,
            occurrences: 1,
            reopened: 0,
          };
          incidents.set(incident.id, entry);
        }
        entry.title = incident.title;
        entry.severity = incident.severity;
        entry.status = incident.status;
        entry.assignee = incident.assignee;
        entry.occurrences = incident.occurrences;
        if (event.kind === 'incident.acknowledged' && entry.acknowledgedAt === null) {
          entry.acknowledgedAt = event.at;
          entry.acknowledgedBy = event.actor.name;
          entry.timeToAcknowledgeMs = event.at - entry.raisedAt;
        } else if (event.kind === 'incident.resolved') {
          entry.resolvedAt = event.at;
          entry.resolvedBy = event.actor.name;
          entry.timeToResolveMs = event.at - entry.raisedAt;
        } else if (event.kind === 'incident.reopened') {
          entry.reopened++;
          entry.resolvedAt = null;
          entry.resolvedBy = null;
          entry.timeToResolveMs = null;
        }
        break;
      }

      case 'lineup.set':
        for (const p of event.products) product(p.id, p.name);
        // Taken out of the lineup while on screen: off screen (as evolve does).
        if (onScreen && !event.products.some((p) => p.id === onScreen!.id)) takeOffScreen(event.at);
        break;
      case 'product.switched':
        takeOffScreen(event.at);
        product(event.next.id, event.next.name);
        onScreen = { id: event.next.id, since: event.at };
        break;
      case 'product.price_changed':
        product(event.product.id, event.product.name).priceChanges.push({
          at: event.at,
          from: event.previousPrice,
          to: event.product.price,
          by: event.actor.name,
        });
        break;
      case 'product.stock_changed':
        product(event.product.id, event.product.name).stockChanges.push({
          at: event.at,
          from: event.previousStock,
          to: event.product.stock,
          by: event.actor.name,
        });
        break;
      case 'product.sold_out':
        product(event.product.id, event.product.name).soldOutAt.push(event.at);
        break;

      case 'question.submitted':
      case 'question.upvoted':
      case 'question.flagged':
      case 'question.pinned':
      case 'question.prioritized':
      case 'question.answered':
      case 'question.dismissed':
      case 'question.restored': {
        const q = event.question;
        let entry = questions.get(q.id);
        if (!entry) {
          entry = {
            flagged: false,
            answered: false,
            dismissed: false,
            submittedAt: q.submittedAt,
            answeredAt: null,
            status: q.status,
            text: q.text,
            author: q.author,
          };
          questions.set(q.id, entry);
        }
        entry.status = q.status;
        if (q.status === 'flagged') entry.flagged = true;
        if (event.kind === 'question.answered') {
          entry.answered = true;
          entry.answeredAt = event.at;
        }
        if (event.kind === 'question.dismissed') entry.dismissed = true;
        break;
      }

      case 'cue.sent':
        cues.set(event.cue.id, {
          id: event.cue.id,
          text: event.cue.text,
          from: event.cue.from,
          to: [...event.cue.to],
          sentAt: event.cue.sentAt,
          acknowledgedAt: null,
          timeToAcknowledgeMs: null,
        });
        break;
      case 'cue.acknowledged': {
        const entry = cues.get(event.cue.id);
        if (entry && event.cue.acknowledgedAt !== null && entry.acknowledgedAt === null) {
          entry.acknowledgedAt = event.cue.acknowledgedAt;
          entry.timeToAcknowledgeMs = event.cue.acknowledgedAt - entry.sentAt;
        }
        break;
      }

      case 'health.sampled':
        samples.push(event.sample);
        break;

      case 'presence.joined':
      case 'presence.changed':
      case 'presence.left': {
        const e = event.entry;
        let entry = presence.get(e.personId);
        if (!entry) {
          entry = { personId: e.personId, name: e.name, role: e.role, intervals: [], totalMs: 0, since: null };
          presence.set(e.personId, entry);
        }
        entry.name = e.name;
        entry.role = e.role;
        if (event.kind === 'presence.joined') entry.since = event.at;
        if (event.kind === 'presence.left' && entry.since !== null) {
          entry.intervals.push(interval(entry.since, event.at));
          entry.since = null;
        }
        break;
      }
      default:
        break;
    }
  };

  const finish = (): Review => {
    const end = endedAt ?? last?.at ?? 0;
    takeOffScreen(end);
    for (const entry of presence.values()) {
      if (entry.since !== null) entry.intervals.push(interval(entry.since, Math.max(entry.since, end)));
      entry.since = null;
    }

    const incidentItems = [...incidents.values()];
    const bySeverity = Object.fromEntries(
      SEVERITIES.map((severity) => {
        const of = incidentItems.filter((i) => i.severity === severity);
        return [
          severity,
          {
            count: of.length,
            timeToAcknowledge: stats(
              of.flatMap((i) => (i.timeToAcknowledgeMs === null ? [] : [i.timeToAcknowledgeMs])),
            ),
            timeToResolve: stats(of.flatMap((i) => (i.timeToResolveMs === null ? [] : [i.timeToResolveMs]))),
          },
        ];
      }),
    ) as Review['incidents']['bySeverity'];
    const handled = new Map<string, { name: string; acknowledged: number; resolved: number }>();
    const handler = (name: string) => {
      let entry = handled.get(name);
      if (!entry) handled.set(name, (entry = { name, acknowledged: 0, resolved: 0 }));
      return entry;
    };
    for (const i of incidentItems) {
      if (i.acknowledgedBy) handler(i.acknowledgedBy).acknowledged++;
      if (i.resolvedBy) handler(i.resolvedBy).resolved++;
    }

    const questionItems = [...questions.entries()];
    const cueItems = [...cues.values()];

    return {
      session: {
        id: first?.kind === 'session.created' ? first.sessionId : '',
        title,
        status,
        createdAt,
        liveAt,
        endedAt,
        liveMs: liveAt === null ? null : end - liveAt,
        lastSeq: last?.seq ?? 0,
        events: count,
      },
      timeline,
      incidents: {
        total: incidentItems.length,
        bySeverity,
        handledBy: [...handled.values()].sort((a, b) => a.name.localeCompare(b.name)),
        items: incidentItems,
      },
      questions: {
        received: questionItems.length,
        flagged: questionItems.filter(([, q]) => q.flagged).length,
        answered: questionItems.filter(([, q]) => q.answered).length,
        dismissed: questionItems.filter(([, q]) => q.dismissed).length,
        timeToAnswer: stats(
          questionItems.flatMap(([, q]) =>
            q.status === 'answered' && q.answeredAt !== null ? [q.answeredAt - q.submittedAt] : [],
          ),
        ),
        unansweredFlagged: questionItems
          .filter(([, q]) => q.status === 'flagged')
          .map(([id, q]) => ({ id, text: q.text, author: q.author, submittedAt: q.submittedAt })),
      },
      products: [...products.values()].map((p) => ({
        ...p,
        onScreenMs: p.onScreen.reduce((sum, i) => sum + i.durationMs, 0),
      })),
      health: healthReview(samples),
      cues: {
        sent: cueItems.length,
        acknowledged: cueItems.filter((c) => c.acknowledgedAt !== null).length,
        timeToAcknowledge: stats(
          cueItems.flatMap((c) => (c.timeToAcknowledgeMs === null ? [] : [c.timeToAcknowledgeMs])),
        ),
        items: cueItems,
      },
      presence: [...presence.values()].map(({ since: _since, ...p }) => ({
        ...p,
        totalMs: p.intervals.reduce((sum, i) => sum + i.durationMs, 0),
      })),
    };
  };
  return { add, finish };
}

function healthReview(
  samples: { ts: number; bitrateKbps: number; fps: number; droppedFrames: number }[],
): Review['health'] {
  const sorted = [...samples].sort((a, b) => a.ts - b.ts);
  const raw: Outage[] = [];
  let zeroSince: number | null = null;
  for (let i = 0; i < sorted.length; i++) {
    const sample = sorted[i]!;
    const previous = sorted[i - 1];
    if (previous && sample.ts - previous.ts > OUTAGE_GAP_MS) {
      raw.push({ from: previous.ts, to: sample.ts, durationMs: sample.ts - previous.ts, cause: 'no_samples' });
    }
    if (sample.bitrateKbps === 0) zeroSince ??= sample.ts;
    else if (zeroSince !== null) {
      raw.push({ from: zeroSince, to: sample.ts, durationMs: sample.ts - zeroSince, cause: 'zero_bitrate' });
      zeroSince = null;
    }
  }
  const lastTs = sorted.at(-1)?.ts;
  if (zeroSince !== null && lastTs !== undefined) {
    raw.push({ from: zeroSince, to: lastTs, durationMs: lastTs - zeroSince, cause: 'zero_bitrate' });
  }
  // A zero-bitrate run that spans a gap is one outage: merge overlaps, keeping the first cause.
  raw.sort((a, b) => a.from - b.from);
  const outages: Outage[] = [];
  for (const outage of raw) {
    const previous = outages.at(-1);
    if (previous && outage.from < previous.to) {
      previous.to = Math.max(previous.to, outage.to);
      previous.durationMs = previous.to - previous.from;
    } else outages.push({ ...outage });
  }
  return {
    samples: sorted.length,
    bitrateKbps: percentiles(sorted.map((s) => s.bitrateKbps)),
    fps: percentiles(sorted.map((s) => s.fps)),
    droppedFrames: percentiles(sorted.map((s) => s.droppedFrames)),
    outages,
    outageMs: outages.reduce((sum, o) => sum + o.durationMs, 0),
    series: downsample(sorted),
  };
}

/**
 * The review for spreadsheets: one row per figure, `section,key,field,value`, so it pivots
 * anywhere. Times are ISO 8601 UTC, durations milliseconds.
 */
export function reviewToCsv(review: Review): string {
  const rows: (string | number | null)[][] = [['section', 'key', 'field', 'value']];
  const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());
  const add = (section: string, key: string, field: string, value: string | number | null) =>
    rows.push([section, key, field, value]);
  const addStats = (section: string, key: string, prefix: string, s: Stats) => {
    add(section, key, `${prefix}_count`, s.count);
    add(section, key, `${prefix}_median_ms`, s.median);
    add(section, key, `${prefix}_p90_ms`, s.p90);
    add(section, key, `${prefix}_max_ms`, s.max);
  };
  const s = review.session;
  add('session', s.id, 'title', s.title);
  add('session', s.id, 'status', s.status);
  add('session', s.id, 'live_at', iso(s.liveAt));
  add('session', s.id, 'ended_at', iso(s.endedAt));
  add('session', s.id, 'live_ms', s.liveMs);
  for (const t of review.timeline)
    add('timeline', String(t.seq), `${iso(t.at)} ${t.kind} by ${t.actor} (${t.role})`, t.summary);
  for (const severity of SEVERITIES) {
    const figures = review.incidents.bySeverity[severity];
    add('incidents', severity, 'count', figures.count);
    addStats('incidents', severity, 'acknowledge', figures.timeToAcknowledge);
    addStats('incidents', severity, 'resolve', figures.timeToResolve);
  }
  for (const i of review.incidents.items) {
    add('incident', i.id, 'title', i.title);
    add('incident', i.id, 'severity', i.severity);
    add('incident', i.id, 'time_to_acknowledge_ms', i.timeToAcknowledgeMs);
    add('incident', i.id, 'acknowledged_by', i.acknowledgedBy);
    add('incident', i.id, 'time_to_resolve_ms', i.timeToResolveMs);
    add('incident', i.id, 'resolved_by', i.resolvedBy);
  }
  const q = review.questions;
  for (const field of ['received', 'flagged', 'answered', 'dismissed'] as const)
    add('questions', 'all', field, q[field]);
  addStats('questions', 'all', 'answer', q.timeToAnswer);
  for (const u of q.unansweredFlagged) add('questions', u.id, 'unanswered_flagged', u.text);
  for (const p of review.products) {
    add('product', p.id, 'name', p.name);
    add('product', p.id, 'on_screen_ms', p.onScreenMs);
    add('product', p.id, 'price_changes', p.priceChanges.length);
    add('product', p.id, 'stock_changes', p.stockChanges.length);
    add('product', p.id, 'sold_outs', p.soldOutAt.length);
  }
  const h = review.health;
  add('health', 'all', 'samples', h.samples);
  for (const metric of ['bitrateKbps', 'fps', 'droppedFrames'] as const) {
    for (const field of ['min', 'p10', 'median', 'p90', 'max'] as const) add('health', metric, field, h[metric][field]);
  }
  for (const o of h.outages) add('outage', iso(o.from)!, o.cause, o.durationMs);
  addStats('cues', 'all', 'acknowledge', review.cues.timeToAcknowledge);
  for (const p of review.presence) {
    for (const i of p.intervals)
      add('presence', `${p.name} (${p.role})`, `${iso(i.from)} → ${iso(i.to)}`, i.durationMs);
  }
  return rows.map((row) => row.map(csvCell).join(',')).join('\r\n') + '\r\n';
}

/**
 * One CSV cell (RFC 4180 quoting). A cell a spreadsheet would run as a formula (=, +, -,
 * @, tab, CR first) gets a leading quote: viewer questions and names are untrusted text.
 */
export function csvCell(value: string | number | null | undefined): string {
  if (value === null || value === undefined) return '';
  if (typeof value === 'number') return String(value);
  const text = /^[=+\-@\t\r]/.test(value) ? `'${value}` : value;
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

import type { EventKind, SessionEvent } from './events.js';
import type { Cue, Incident, Question, SessionState } from './model.js';
import type { Role } from './roles.js';

const EVERYONE = ['host', 'cohost', 'tech', 'ops', 'observer'] as const satisfies readonly Role[];
const INCIDENTS = ['host', 'tech', 'ops', 'observer'] as const satisfies readonly Role[];
const PRODUCTS = ['host', 'cohost', 'ops', 'observer'] as const satisfies readonly Role[];
const QUESTIONS = ['host', 'cohost', 'ops', 'observer'] as const satisfies readonly Role[];
const CUES = EVERYONE;
const HEALTH = ['tech', 'ops', 'observer'] as const satisfies readonly Role[];
const PRESENCE = ['ops', 'observer'] as const satisfies readonly Role[];

/**
 * Which roles receive each event kind. Refinements narrow some cells further, per event:
 * the host receives only incidents that are sev1 or pushed to the host and only flagged
 * questions; cues reach the roles they are addressed to, their sender's role, ops and
 * observers. `ingest` receives nothing.
 */
export const AUDIENCE: Readonly<Record<EventKind, readonly Role[]>> = {
  'session.created': EVERYONE,
  'session.status_changed': EVERYONE,
  'session.checklist_item_added': EVERYONE,
  'session.checklist_item_checked': EVERYONE,
  'session.target_bitrate_set': HEALTH,

  'incident.raised': INCIDENTS,
  'incident.recurred': INCIDENTS,
  'incident.acknowledged': INCIDENTS,
  'incident.assigned': INCIDENTS,
  'incident.note_added': INCIDENTS,
  'incident.severity_changed': INCIDENTS,
  'incident.pushed_to_host': INCIDENTS,
  'incident.resolved': INCIDENTS,
  'incident.reopened': INCIDENTS,
  'incident.signal_changed': INCIDENTS,

  'lineup.set': PRODUCTS,
  'product.switched': PRODUCTS,
  'product.price_changed': PRODUCTS,
  'product.stock_changed': PRODUCTS,
  'product.sold_out': PRODUCTS,

  'question.submitted': QUESTIONS,
  'question.upvoted': QUESTIONS,
  'question.flagged': QUESTIONS,
  'question.pinned': QUESTIONS,
  'question.prioritized': QUESTIONS,
  'question.answered': QUESTIONS,
  'question.dismissed': QUESTIONS,
  'question.restored': QUESTIONS,

  'cue.sent': CUES,
  'cue.acknowledged': CUES,

  'health.sampled': HEALTH,
  'health.rules_set': HEALTH,

  'presence.joined': PRESENCE,
  'presence.changed': PRESENCE,
  'presence.left': PRESENCE,
};

export function incidentVisibleToHost(incident: Pick<Incident, 'severity' | 'pushedToHost'>): boolean {
  return incident.severity === 'sev1' || incident.pushedToHost;
}

export function questionVisibleToHost(question: Pick<Question, 'status'>): boolean {
  return question.status === 'flagged';
}

export function cueVisibleTo(role: Role, cue: Pick<Cue, 'to' | 'fromRole'>): boolean {
  return role === 'ops' || role === 'observer' || role === cue.fromRole || (cue.to as readonly Role[]).includes(role);
}

/**
 * Whether a console of `role` receives `event`. The one filter behind live fan-out,
 * replay and (through `projectState`) snapshots.
 */
export function canSee(role: Role, event: SessionEvent): boolean {
  if (!AUDIENCE[event.kind].includes(role)) return false;
  switch (event.kind) {
    case 'incident.raised':
      return role !== 'host' || incidentVisibleToHost(event.incident);
    case 'incident.recurred':
    case 'incident.acknowledged':
    case 'incident.assigned':
    case 'incident.note_added':
    case 'incident.severity_changed':
    case 'incident.pushed_to_host':
    case 'incident.resolved':
    case 'incident.reopened':
    case 'incident.signal_changed':
      // The host also hears the change that takes an incident off its screen.
      return role !== 'host' || incidentVisibleToHost(event.incident) || event.wasVisibleToHost;
    case 'question.submitted':
      return role !== 'host' || questionVisibleToHost(event.question);
    case 'question.upvoted':
    case 'question.flagged':
    case 'question.pinned':
    case 'question.prioritized':
    case 'question.answered':
    case 'question.dismissed':
    case 'question.restored':
      return role !== 'host' || questionVisibleToHost(event.question) || event.previousStatus === 'flagged';
    case 'cue.sent':
    case 'cue.acknowledged':
      return cueVisibleTo(role, event.cue);
    default:
      return true;
  }
}

function pick<T>(record: Record<string, T>, keep: (value: T) => boolean): Record<string, T> {
  const out: Record<string, T> = {};
  for (const [key, value] of Object.entries(record)) if (keep(value)) out[key] = value;
  return out;
}

const sees = (role: Role, roles: readonly Role[]) => roles.includes(role);

/**
 * The part of a session's state a console of `role` may see: what folding only the events
 * `canSee` lets through would show it. Returns a new object; the input is not touched.
 *
 * One nuance for the host: the event that takes an incident or a question off its screen
 * (a de-escalation, an un-push, an answer) carries the entity in its new, hidden state. A
 * host console drops such an entity rather than keeping it; `projectState` leaves it out,
 * and `seq` is the session's, not the last one the role saw (test/unit/audience.test.ts).
 */
export function projectState(state: SessionState, role: Role): SessionState {
  const questionsSeen = sees(role, QUESTIONS);
  const incidentsSeen = sees(role, INCIDENTS);
  return {
    ...state,
    lineup: sees(role, PRODUCTS) ? state.lineup : [],
    currentProductId: sees(role, PRODUCTS) ? state.currentProductId : null,
    questions: !questionsSeen
      ? {}
      : role === 'host'
        ? pick(state.questions, questionVisibleToHost)
        : state.questions,
    incidents: !incidentsSeen
      ? {}
      : role === 'host'
        ? pick(state.incidents, incidentVisibleToHost)
        : state.incidents,
    cues: pick(state.cues, (cue) => cueVisibleTo(role, cue)),
    health: sees(role, HEALTH) ? state.health : { latest: null, window: [], targetBitrateKbps: null },
    presence: sees(role, PRESENCE) ? state.presence : {},
    questionCount: questionsSeen && role !== 'host' ? state.questionCount : 0,
  };
}

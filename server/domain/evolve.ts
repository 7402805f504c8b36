import type { SessionEvent } from '../../shared/events.js';
import { HEALTH_WINDOW, type Product, type SessionState } from '../../shared/model.js';
import { indexQuestion } from './question-index.js';

/** The state of a session before its `session.created` event: nothing in it yet. */
export function initialState(sessionId: string): SessionState {
  return {
    id: sessionId,
    title: '',
    status: 'scheduled',
    seq: 0,
    createdAt: 0,
    scheduledFor: null,
    preflightAt: null,
    liveAt: null,
    endedAt: null,
    checklist: [],
    lineup: [],
    currentProductId: null,
    questions: {},
    incidents: {},
    cues: {},
    health: { latest: null, window: [], targetBitrateKbps: null },
    presence: {},
    questionCount: 0,
  };
}

/** A deep copy, for callers that must keep the state they were given untouched. */
export function cloneState(state: SessionState): SessionState {
  return structuredClone(state);
}

function replaceProduct(lineup: Product[], product: Product): void {
  const index = lineup.findIndex((p) => p.id === product.id);
  if (index >= 0) lineup[index] = product;
}

/**
 * Folds one event into `state` and returns it.
 *
 * This is the hot path (every event of every session, on every instance and on replay),
 * so it MUTATES `state` in place instead of copying: the caller owns the object and must
 * `cloneState` first if it needs the previous one. Entities from the event payload
 * (incidents, questions, products, cues, samples) are stored by reference but never edited
 * in place afterwards (`decide` always builds new entity objects), and arrays taken from an
 * event are copied before the state edits them: folding never changes an event already
 * sent, kept in memory or logged.
 *
 * `evolve` trusts its input: events were validated when they were decided. It does not
 * know about roles, so it folds a role-filtered stream just as well as the full one.
 */
export function evolve(state: SessionState, event: SessionEvent): SessionState {
  switch (event.kind) {
    case 'session.created':
      state.id = event.sessionId;
      state.title = event.title;
      state.scheduledFor = event.scheduledFor;
      // Copied: later events edit the state's checklist in place, never the logged event's.
      state.checklist = [...event.checklist];
      state.createdAt = event.at;
      break;
    case 'session.status_changed':
      state.status = event.to;
      if (event.to === 'preflight') state.preflightAt = event.at;
      else if (event.to === 'live') state.liveAt = event.at;
      else if (event.to === 'ended') state.endedAt = event.at;
      break;
    case 'session.checklist_item_added':
    case 'session.checklist_item_checked': {
      const index = state.checklist.findIndex((item) => item.id === event.item.id);
      if (index >= 0) state.checklist[index] = event.item;
      else state.checklist.push(event.item);
      break;
    }
    case 'session.target_bitrate_set':
      state.health.targetBitrateKbps = event.targetBitrateKbps;
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
    case 'incident.signal_changed':
      state.incidents[event.incident.id] = event.incident;
      break;

    case 'lineup.set':
      state.lineup = [...event.products];
      // The product on screen was taken out of the lineup: nothing is on screen any more.
      // Derived here rather than carried by the event, so every fold agrees on it.
      if (state.currentProductId !== null && !event.products.some((p) => p.id === state.currentProductId)) {
        state.currentProductId = null;
      }
      break;
    case 'product.switched':
      replaceProduct(state.lineup, event.next);
      state.currentProductId = event.next.id;
      break;
    case 'product.price_changed':
    case 'product.stock_changed':
    case 'product.sold_out':
      replaceProduct(state.lineup, event.product);
      break;

    case 'question.submitted':
      state.questions[event.question.id] = event.question;
      indexQuestion(state.questions, event.question);
      state.questionCount += 1;
      break;
    case 'question.upvoted':
    case 'question.flagged':
    case 'question.pinned':
    case 'question.prioritized':
    case 'question.answered':
    case 'question.dismissed':
    case 'question.restored':
      state.questions[event.question.id] = event.question;
      break;

    case 'cue.sent':
    case 'cue.acknowledged':
      state.cues[event.cue.id] = event.cue;
      break;

    case 'health.rules_set':
      state.health.rules = event.rules;
      break;

    case 'health.sampled': {
      const health = state.health;
      health.latest = event.sample;
      health.window.push(event.sample);
      if (health.window.length > HEALTH_WINDOW) health.window.splice(0, health.window.length - HEALTH_WINDOW);
      break;
    }

    case 'presence.joined':
    case 'presence.changed':
      state.presence[event.entry.personId] = event.entry;
      break;
    case 'presence.left':
      delete state.presence[event.entry.personId];
      break;

    default:
      return assertNever(event);
  }
  state.seq = event.seq;
  return state;
}

/** Folds events in order into `state` (mutated, see `evolve`), or into a fresh state. */
export function foldEvents(events: Iterable<SessionEvent>, state?: SessionState): SessionState {
  let current = state;
  for (const event of events) {
    current ??= initialState(event.kind === 'session.created' ? event.sessionId : '');
    current = evolve(current, event);
  }
  return current ?? initialState('');
}

/** Compile-time exhaustiveness: a new event kind without a case fails to type-check here. */
function assertNever(event: never): never {
  throw new Error(`Unknown event kind: ${(event as { kind?: unknown }).kind}`);
}

import { incidentVisibleToHost } from '../../shared/audience.js';
import type { Command, CommandKind, CommandOf, SystemCommand } from '../../shared/commands.js';
import { ErrorCode } from '../../shared/errors.js';
import type { EventBody, EventBodyOf, SessionEvent } from '../../shared/events.js';
import type {
  ChecklistItem,
  Cue,
  Incident,
  Product,
  Question,
  QuestionStatus,
  SessionState,
  SessionStatus,
  Severity,
} from '../../shared/model.js';
import { DEFAULT_HEALTH_RULES, mergeRules } from '../../shared/health.js';
import { ACCEPTED_IN } from '../../shared/permissions.js';
import { CREW_ROLES, type Actor, type CrewRole } from '../../shared/roles.js';
import { CueroomError } from '../errors.js';
import { questionByExternalId } from './question-index.js';

/** What `decide` needs besides state, command and actor: the clock and the idempotency key. */
export interface DecideContext {
  /** The time the command is decided at (ms since epoch); every event it produces carries it. */
  now: number;
  /** The command id; entity ids default to it, so a retried command names the same entity. */
  commandId: string;
}

/** Events to append (at least one), or the reason the command is refused. */
export type Decision = { ok: true; events: EventBody[] } | { ok: false; error: CueroomError };

type SystemCommandKind = SystemCommand['kind'];
type SystemCommandOf<K extends SystemCommandKind> = Extract<SystemCommand, { kind: K }>;

/*
 * One handler per command kind. The mapped types make a kind without a handler (or a
 * handler for a kind that does not exist) a compile error.
 */
type Handler<C> = (state: SessionState, command: C, actor: Actor, ctx: DecideContext) => Decision;
type CommandHandlers = { [K in CommandKind]: Handler<CommandOf<K>> };
type SystemHandlers = { [K in SystemCommandKind]: Handler<SystemCommandOf<K>> };

const accept = (...events: EventBody[]): Decision => ({ ok: true, events });
const refuse = (code: ErrorCode, message: string): Decision => ({ ok: false, error: new CueroomError(code, message) });
const conflict = (message: string) => refuse(ErrorCode.Conflict, message);
const notFound = (message: string) => refuse(ErrorCode.NotFound, message);

/**
 * Decides what a command does to a session: the events it produces, or why it is refused.
 * Pure: no clock, no I/O, and `state` is not touched (the caller folds the events with
 * `stamp` + `evolve` once the store has accepted them).
 *
 * Role permissions are NOT checked here (the gateway does it with `isAllowed`, before the
 * state is even loaded); the session status is (`ACCEPTED_IN`), because it needs the state.
 */
export function decide(
  state: SessionState,
  command: Command | SystemCommand,
  actor: Actor,
  ctx: DecideContext,
): Decision {
  if (isSystemCommand(command)) {
    // Presence follows sockets, which open and close whatever the session's status: a
    // console may stay connected to an ended session to read the review.
    const handler = systemHandlers[command.kind] as Handler<SystemCommand>;
    return handler(state, command, actor, ctx);
  }
  const accepted = ACCEPTED_IN[command.kind];
  if (!accepted.includes(state.status)) {
    return refuse(ErrorCode.SessionNotLive, notAcceptedMessage(command.kind, state.status, accepted));
  }
  const handler = commandHandlers[command.kind] as Handler<Command>;
  return handler(state, command, actor, ctx);
}

function isSystemCommand(command: Command | SystemCommand): command is SystemCommand {
  return Object.hasOwn(systemHandlers, command.kind);
}

/**
 * Envelopes decided event bodies: seq afterSeq+1, afterSeq+2, … in order, all at the
 * decision time, all carrying the command id and actor.
 */
export function stamp(
  bodies: EventBody[],
  afterSeq: number,
  ctx: { now: number; commandId: string },
  actor: Actor,
): SessionEvent[] {
  return bodies.map((body, index) => ({
    ...body,
    seq: afterSeq + index + 1,
    at: ctx.now,
    commandId: ctx.commandId,
    actor,
  }));
}

/** The preflight checklist a session starts with when its creator gives none. */
export const DEFAULT_CHECKLIST: readonly { id: string; label: string }[] = [
  { id: 'camera', label: 'Camera' },
  { id: 'audio', label: 'Audio' },
  { id: 'network', label: 'Network' },
  { id: 'lineup', label: 'Lineup loaded' },
  { id: 'crew', label: 'Crew present' },
];

/** The first event of a session. Creating a session is not a command on a session, so it lives outside `decide`. */
export function createSessionEvent(input: {
  sessionId: string;
  title: string;
  scheduledFor: number | null;
  checklist?: { id: string; label: string }[];
}): EventBodyOf<'session.created'> {
  return {
    kind: 'session.created',
    sessionId: input.sessionId,
    title: input.title,
    scheduledFor: input.scheduledFor,
    checklist: (input.checklist ?? DEFAULT_CHECKLIST).map(({ id, label }) => uncheckedItem(id, label)),
  };
}

function uncheckedItem(id: string, label: string): ChecklistItem {
  return { id, label, checked: false, checkedBy: null, checkedAt: null };
}

/**
 * What a command is about, as a person would say it in "… open when it goes live". The
 * lifecycle commands have messages of their own; their entries only keep the record total.
 */
const SUBJECT: Readonly<Record<CommandKind, string>> = {
  'session.start_preflight': 'starting preflight',
  'session.add_checklist_item': 'checklist changes',
  'session.check_item': 'checklist changes',
  'session.go_live': 'going live',
  'session.end': 'ending the session',
  'session.set_target_bitrate': 'target bitrate changes',
  'incident.raise': 'incidents',
  'incident.acknowledge': 'incidents',
  'incident.assign': 'incidents',
  'incident.add_note': 'incidents',
  'incident.set_severity': 'incidents',
  'incident.push_to_host': 'incidents',
  'incident.resolve': 'incidents',
  'incident.reopen': 'incidents',
  'lineup.set': 'lineup changes',
  'product.switch': 'product switches',
  'product.set_price': 'price changes',
  'product.set_stock': 'stock changes',
  'question.submit': 'questions',
  'question.upvote': 'questions',
  'question.flag': 'questions',
  'question.pin': 'questions',
  'question.set_priority': 'questions',
  'question.answer': 'questions',
  'question.dismiss': 'questions',
  'question.restore': 'questions',
  'cue.send': 'cues',
  'cue.acknowledge': 'cues',
  'health.sample': 'health samples',
  'health.set_rules': 'health rule changes',
};

const ORDER: readonly SessionStatus[] = ['scheduled', 'preflight', 'live', 'ended'];
const IS: Readonly<Record<SessionStatus, string>> = {
  scheduled: 'is scheduled and has not started preflight',
  preflight: 'is in preflight',
  live: 'is live',
  ended: 'has ended',
};
const REACHES: Readonly<Record<SessionStatus, string>> = {
  scheduled: 'is scheduled',
  preflight: 'starts preflight',
  live: 'goes live',
  ended: 'ends',
};

function notAcceptedMessage(kind: CommandKind, status: SessionStatus, accepted: readonly SessionStatus[]): string {
  // The lifecycle moves only forward; say where the session is and what to do instead.
  switch (kind) {
    case 'session.start_preflight':
      return `The session ${IS[status]}; preflight can only start from scheduled.`;
    case 'session.go_live':
      return status === 'scheduled'
        ? 'The session is still scheduled; start preflight and work through the checklist before going live.'
        : `The session ${IS[status]}; it can only go live from preflight.`;
    case 'session.end':
      return status === 'scheduled'
        ? 'The session has not started; start preflight before ending it.'
        : 'The session has already ended.';
  }
  if (status === 'ended') {
    return `The session has ended; ${SUBJECT[kind]} are closed and its state stays readable for the review.`;
  }
  const first = accepted[0] ?? 'live';
  if (ORDER.indexOf(status) < ORDER.indexOf(first)) {
    return `The session ${IS[status]}; ${SUBJECT[kind]} open when it ${REACHES[first]}.`;
  }
  return `The session ${IS[status]}; ${SUBJECT[kind]} are only accepted while it is ${accepted.join(' or ')}.`;
}

const SEVERITY_RANK: Readonly<Record<Severity, number>> = { sev1: 1, sev2: 2, sev3: 3 };
const higherSeverity = (a: Severity, b: Severity): Severity => (SEVERITY_RANK[a] <= SEVERITY_RANK[b] ? a : b);

type IncidentChangeKind = Extract<EventBody, { wasVisibleToHost: boolean }>['kind'];
type QuestionChangeKind = Extract<EventBody, { previousStatus: QuestionStatus }>['kind'];

/** Incident events carry the incident after the change and whether the host could see it before. */
function incidentChange(kind: IncidentChangeKind, before: Incident | null, incident: Incident): EventBody {
  return { kind, incident, wasVisibleToHost: before ? incidentVisibleToHost(before) : false };
}

function questionChange(kind: QuestionChangeKind, before: Question, question: Question): EventBody {
  return { kind, question, previousStatus: before.status };
}

const withSoldOut = (product: Omit<Product, 'soldOut'>): Product => ({ ...product, soldOut: product.stock === 0 });
const list = (items: readonly string[]) => items.join(', ');

function findIncident(state: SessionState, id: string): Incident | undefined {
  return Object.hasOwn(state.incidents, id) ? state.incidents[id] : undefined;
}
function findQuestion(state: SessionState, id: string): Question | undefined {
  return Object.hasOwn(state.questions, id) ? state.questions[id] : undefined;
}
function findCue(state: SessionState, id: string): Cue | undefined {
  return Object.hasOwn(state.cues, id) ? state.cues[id] : undefined;
}
const missingIncident = (id: string) => notFound(`No incident '${id}' in this session.`);
const missingQuestion = (id: string) => notFound(`No question '${id}' in this session.`);
const missingProduct = (id: string) => notFound(`No product '${id}' in the lineup.`);

/** Handlers for commands on an existing incident: look it up first, refuse with not_found if absent. */
function onIncident<C extends { incidentId: string }>(
  handle: (incident: Incident, command: C, actor: Actor, ctx: DecideContext, state: SessionState) => Decision,
): Handler<C> {
  return (state, command, actor, ctx) => {
    const incident = findIncident(state, command.incidentId);
    return incident ? handle(incident, command, actor, ctx, state) : missingIncident(command.incidentId);
  };
}
function onQuestion<C extends { questionId: string }>(
  handle: (question: Question, command: C, actor: Actor, ctx: DecideContext) => Decision,
): Handler<C> {
  return (state, command, actor, ctx) => {
    const question = findQuestion(state, command.questionId);
    return question ? handle(question, command, actor, ctx) : missingQuestion(command.questionId);
  };
}
function onProduct<C extends { productId: string }>(
  handle: (product: Product, command: C, state: SessionState) => Decision,
): Handler<C> {
  return (state, command) => {
    const product = state.lineup.find((p) => p.id === command.productId);
    return product ? handle(product, command, state) : missingProduct(command.productId);
  };
}

function statusChanged(
  from: SessionStatus,
  to: SessionStatus,
  override: { uncheckedItems: string[]; reason: string | null } = { uncheckedItems: [], reason: null },
): EventBody {
  return {
    kind: 'session.status_changed',
    from,
    to,
    override: override.uncheckedItems.length > 0,
    uncheckedItems: override.uncheckedItems,
    reason: override.reason,
  };
}

const commandHandlers: CommandHandlers = {
  'session.start_preflight': (state) => accept(statusChanged(state.status, 'preflight')),

  'session.add_checklist_item': (state, command) => {
    const existing = state.checklist.find((item) => item.id === command.itemId);
    if (existing) return conflict(`The checklist already has an item '${command.itemId}' ("${existing.label}").`);
    return accept({ kind: 'session.checklist_item_added', item: uncheckedItem(command.itemId, command.label) });
  },

  'session.check_item': (state, command, actor, ctx) => {
    const item = state.checklist.find((i) => i.id === command.itemId);
    if (!item) return notFound(`No checklist item '${command.itemId}' in this session.`);
    if (item.checked === command.checked) {
      return conflict(
        item.checked
          ? `"${item.label}" is already checked${item.checkedBy ? ` by ${item.checkedBy}` : ''}.`
          : `"${item.label}" is not checked.`,
      );
    }
    const after: ChecklistItem = command.checked
      ? { ...item, checked: true, checkedBy: actor.name, checkedAt: ctx.now }
      : { ...item, checked: false, checkedBy: null, checkedAt: null };
    return accept({ kind: 'session.checklist_item_checked', item: after });
  },

  'session.go_live': (state, command) => {
    const unchecked = state.checklist.filter((item) => !item.checked);
    const reason = command.reason?.trim() || null;
    if (unchecked.length > 0 && !(command.override && reason)) {
      const labels = list(unchecked.map((item) => `"${item.label}"`));
      const count = unchecked.length === 1 ? '1 checklist item is' : `${unchecked.length} checklist items are`;
      return conflict(
        command.override
          ? `${count} not checked (${labels}); an override needs a reason, which goes into the audit log.`
          : `${count} not checked: ${labels}. Check them, or go live with an override and a reason.`,
      );
    }
    return accept(
      statusChanged(state.status, 'live', {
        uncheckedItems: unchecked.map((item) => item.id),
        // A reason given without anything to override is still worth keeping in the log.
        reason,
      }),
    );
  },

  'session.end': (state) => accept(statusChanged(state.status, 'ended')),

  'session.set_target_bitrate': (_state, command) =>
    accept({ kind: 'session.target_bitrate_set', targetBitrateKbps: command.targetBitrateKbps }),

  'incident.raise': (state, command, actor, ctx) => {
    if (command.dedupeKey !== undefined) {
      const same = Object.values(state.incidents).find(
        (incident) => incident.dedupeKey === command.dedupeKey && incident.status !== 'resolved',
      );
      if (same) {
        // One outage is one incident: count the repeat, and never lower its severity.
        const after: Incident = {
          ...same,
          occurrences: same.occurrences + 1,
          severity: higherSeverity(same.severity, command.severity),
          pushedToHost: same.pushedToHost || command.pushToHost,
        };
        return accept(incidentChange('incident.recurred', same, after));
      }
    }
    const id = command.incidentId ?? ctx.commandId;
    if (findIncident(state, id)) return conflict(`An incident with id '${id}' already exists in this session.`);
    const incident: Incident = {
      id,
      severity: command.severity,
      category: command.category,
      title: command.title,
      detail: command.detail,
      status: 'open',
      raisedBy: actor.name,
      assignee: null,
      dedupeKey: command.dedupeKey ?? null,
      occurrences: 1,
      pushedToHost: command.pushToHost,
      raisedAt: ctx.now,
      acknowledgedAt: null,
      resolvedAt: null,
      reopenedAt: null,
      notes: [],
    };
    return accept(incidentChange('incident.raised', null, incident));
  },

  'incident.acknowledge': onIncident((incident, _command, _actor, ctx) => {
    if (incident.status === 'acknowledged') return conflict(`Incident '${incident.id}' is already acknowledged.`);
    if (incident.status === 'resolved') {
      // A late acknowledge (sent before the resolve arrived) must never undo the resolve.
      return conflict(`Incident '${incident.id}' is already resolved; reopen it first if it is back.`);
    }
    return accept(
      incidentChange('incident.acknowledged', incident, {
        ...incident,
        status: 'acknowledged',
        acknowledgedAt: ctx.now,
      }),
    );
  }),

  'incident.assign': onIncident((incident, command) => {
    if (incident.assignee === command.assignee) {
      return conflict(
        command.assignee === null
          ? `Incident '${incident.id}' is not assigned to anyone.`
          : `Incident '${incident.id}' is already assigned to ${command.assignee}.`,
      );
    }
    return accept(incidentChange('incident.assigned', incident, { ...incident, assignee: command.assignee }));
  }),

  'incident.add_note': onIncident((incident, command, actor, ctx) =>
    accept(
      incidentChange('incident.note_added', incident, {
        ...incident,
        notes: [...incident.notes, { by: actor.name, text: command.text, at: ctx.now }],
      }),
    ),
  ),

  'incident.set_severity': onIncident((incident, command) => {
    if (incident.severity === command.severity) {
      return conflict(`Incident '${incident.id}' is already ${command.severity}.`);
    }
    return accept(incidentChange('incident.severity_changed', incident, { ...incident, severity: command.severity }));
  }),

  'incident.push_to_host': onIncident((incident, command) => {
    if (incident.pushedToHost === command.pushed) {
      return conflict(
        command.pushed
          ? `Incident '${incident.id}' is already on the host's screen.`
          : `Incident '${incident.id}' is not pushed to the host.`,
      );
    }
    return accept(incidentChange('incident.pushed_to_host', incident, { ...incident, pushedToHost: command.pushed }));
  }),

  'incident.resolve': onIncident((incident, command, actor, ctx) => {
    if (incident.status === 'resolved') return conflict(`Incident '${incident.id}' is already resolved.`);
    if (incident.signal?.breaching && !command.force) {
      return conflict(
        `Incident '${incident.id}' was raised by the ${incident.signal.rule} health rule, which still breaches; it resolves itself once health is good, or resolve it with force.`,
      );
    }
    // The incident has no resolution field: the resolution is kept as its last note.
    let notes = command.resolution
      ? [...incident.notes, { by: actor.name, text: command.resolution, at: ctx.now }]
      : incident.notes;
    if (incident.signal?.breaching) {
      notes = [
        ...notes,
        {
          by: actor.name,
          text: `Resolved by force while the ${incident.signal.rule} rule still breached.`,
          at: ctx.now,
        },
      ];
    }
    return accept(
      incidentChange('incident.resolved', incident, { ...incident, status: 'resolved', resolvedAt: ctx.now, notes }),
    );
  }),

  'incident.reopen': onIncident((incident, _command, _actor, ctx) => {
    if (incident.status !== 'resolved') {
      return conflict(
        `Incident '${incident.id}' is ${incident.status}, not resolved; only a resolved one can be reopened.`,
      );
    }
    // Timestamps describe the current pass through the lifecycle (an open incident shows no
    // acknowledgement); the earlier pass stays in the event log for the review.
    return accept(
      incidentChange('incident.reopened', incident, {
        ...incident,
        status: 'open',
        reopenedAt: ctx.now,
        acknowledgedAt: null,
        resolvedAt: null,
      }),
    );
  }),

  'lineup.set': (_state, command) => {
    const seen = new Set<string>();
    const duplicates = new Set<string>();
    for (const product of command.products) {
      if (seen.has(product.id)) duplicates.add(product.id);
      seen.add(product.id);
    }
    if (duplicates.size > 0) {
      const ids = [...duplicates];
      return {
        ok: false,
        error: CueroomError.invalid(
          `Product ids must be unique in a lineup; ${list(ids.map((id) => `'${id}'`))} appear${ids.length === 1 ? 's' : ''} more than once.`,
        ),
      };
    }
    // If the product on screen is not in the new lineup, evolve clears currentProductId.
    return accept({ kind: 'lineup.set', products: command.products.map(withSoldOut) });
  },

  'product.switch': onProduct((product, _command, state) => {
    if (state.currentProductId === product.id) return conflict(`"${product.name}" is already the current product.`);
    const previous = state.lineup.find((p) => p.id === state.currentProductId) ?? null;
    return accept({ kind: 'product.switched', previous, next: product });
  }),

  'product.set_price': onProduct((product, command) => {
    if (product.price === command.price) return conflict(`"${product.name}" already costs ${command.price}.`);
    return accept({
      kind: 'product.price_changed',
      product: { ...product, price: command.price },
      previousPrice: product.price,
    });
  }),

  'product.set_stock': onProduct((product, command) => {
    if (product.stock === command.stock) return conflict(`"${product.name}" already has a stock of ${command.stock}.`);
    const after = withSoldOut({ ...product, stock: command.stock });
    const events: EventBody[] = [{ kind: 'product.stock_changed', product: after, previousStock: product.stock }];
    if (after.stock === 0) events.push({ kind: 'product.sold_out', product: after });
    return accept(...events);
  }),

  'question.submit': (state, command, actor, ctx) => {
    const id = command.questionId ?? ctx.commandId;
    if (findQuestion(state, id)) return conflict(`A question with id '${id}' already exists in this session.`);
    const source = command.source ?? (actor.role === 'ingest' ? 'chat' : 'crew');
    const externalId = command.externalId ?? null;
    if (externalId !== null) {
      const same = questionByExternalId(state.questions, source, externalId);
      if (same)
        return conflict(`This ${source} message (${externalId}) was already received as question '${same.id}'.`);
    }
    const question: Question = {
      id,
      text: command.text,
      author: command.author,
      source,
      externalId,
      status: 'new',
      upvotes: 0,
      voters: [],
      pinned: false,
      priority: 0,
      productId: state.currentProductId,
      submittedAt: ctx.now,
      flaggedAt: null,
      answeredAt: null,
      dismissedAt: null,
      order: state.questionCount + 1,
    };
    return accept({ kind: 'question.submitted', question });
  },

  'question.upvote': onQuestion((question, command) => {
    if (question.voters.includes(command.voter)) {
      return conflict(`${command.voter} already upvoted question '${question.id}'.`);
    }
    return accept(
      questionChange('question.upvoted', question, {
        ...question,
        upvotes: question.upvotes + 1,
        voters: [...question.voters, command.voter],
      }),
    );
  }),

  'question.flag': onQuestion((question, _command, _actor, ctx) => {
    if (question.status !== 'new') {
      return conflict(
        `Question '${question.id}' is ${question.status}; only new questions can be flagged for the host.`,
      );
    }
    return accept(questionChange('question.flagged', question, { ...question, status: 'flagged', flaggedAt: ctx.now }));
  }),

  'question.pin': onQuestion((question, command) => {
    if (question.pinned === command.pinned) {
      return conflict(`Question '${question.id}' is ${command.pinned ? 'already' : 'not'} pinned.`);
    }
    return accept(questionChange('question.pinned', question, { ...question, pinned: command.pinned }));
  }),

  'question.set_priority': onQuestion((question, command) => {
    if (question.priority === command.priority) {
      return conflict(`Question '${question.id}' already has priority ${command.priority}.`);
    }
    return accept(questionChange('question.prioritized', question, { ...question, priority: command.priority }));
  }),

  'question.answer': onQuestion((question, _command, _actor, ctx) => {
    if (question.status !== 'new' && question.status !== 'flagged') {
      return conflict(`Question '${question.id}' is already ${question.status}; restore it first.`);
    }
    return accept(
      questionChange('question.answered', question, { ...question, status: 'answered', answeredAt: ctx.now }),
    );
  }),

  'question.dismiss': onQuestion((question, _command, _actor, ctx) => {
    if (question.status !== 'new' && question.status !== 'flagged') {
      return conflict(`Question '${question.id}' is already ${question.status}; restore it first.`);
    }
    return accept(
      questionChange('question.dismissed', question, { ...question, status: 'dismissed', dismissedAt: ctx.now }),
    );
  }),

  'question.restore': onQuestion((question) => {
    if (question.status !== 'dismissed' && question.status !== 'answered') {
      return conflict(
        `Question '${question.id}' is ${question.status}; only answered or dismissed questions can be restored.`,
      );
    }
    // Back to new, as if it just arrived (it keeps its order); the log keeps the history.
    return accept(
      questionChange('question.restored', question, {
        ...question,
        status: 'new',
        flaggedAt: null,
        answeredAt: null,
        dismissedAt: null,
      }),
    );
  }),

  'cue.send': (state, command, actor, ctx) => {
    if (!isCrewRole(actor.role)) return refuse(ErrorCode.Forbidden, 'Only a crew member can send a cue.');
    const id = command.cueId ?? ctx.commandId;
    if (findCue(state, id)) return conflict(`A cue with id '${id}' already exists in this session.`);
    const cue: Cue = {
      id,
      text: command.text,
      to: [...new Set(command.to)],
      from: actor.name,
      fromRole: actor.role,
      sentAt: ctx.now,
      acknowledgedBy: {},
      acknowledgedAt: null,
    };
    return accept({ kind: 'cue.sent', cue });
  },

  'cue.acknowledge': (state, command, actor, ctx) => {
    const cue = findCue(state, command.cueId);
    if (!cue) return notFound(`No cue '${command.cueId}' in this session.`);
    const role = actor.role;
    if (!isCrewRole(role) || !cue.to.includes(role)) {
      return refuse(ErrorCode.Forbidden, `This cue is addressed to ${list(cue.to)}; only they can acknowledge it.`);
    }
    const already = cue.acknowledgedBy[role];
    if (already !== undefined) return conflict(`This cue was already acknowledged for ${role} by ${already}.`);
    const acknowledgedBy = { ...cue.acknowledgedBy, [role]: actor.name };
    const everyone = cue.to.every((r) => Object.hasOwn(acknowledgedBy, r));
    return accept({
      kind: 'cue.acknowledged',
      cue: { ...cue, acknowledgedBy, acknowledgedAt: everyone ? ctx.now : null },
      by: actor.name,
    });
  },

  'health.sample': (_state, command) => accept({ kind: 'health.sampled', sample: command.sample }),

  'health.set_rules': (state, command) =>
    accept({ kind: 'health.rules_set', rules: mergeRules(state.health.rules ?? DEFAULT_HEALTH_RULES, command.rules) }),
};

function isCrewRole(role: Actor['role']): role is CrewRole {
  return (CREW_ROLES as readonly string[]).includes(role);
}

/** The open incident a health signal raised, found by its dedupe key. */
function openSignalIncident(state: SessionState, dedupeKey: string): Incident | undefined {
  return Object.values(state.incidents).find(
    (incident) => incident.dedupeKey === dedupeKey && incident.status !== 'resolved',
  );
}

/** Health signals only raise and clear incidents while the session runs (like incident.raise). */
const signalAccepted = (state: SessionState) => state.status === 'preflight' || state.status === 'live';
const signalRefused = (state: SessionState) =>
  refuse(ErrorCode.SessionNotLive, `The session ${IS[state.status]}; health rules act in preflight and live.`);

const systemHandlers: SystemHandlers = {
  'signal.breach': (state, command, actor, ctx) => {
    if (!signalAccepted(state)) return signalRefused(state);
    const same = openSignalIncident(state, command.dedupeKey);
    if (same) {
      // Flapping: the same signal breaching again before its incident resolved is the same incident.
      if (same.signal?.breaching) return conflict(`Incident '${same.id}' is already breaching.`);
      const after: Incident = {
        ...same,
        occurrences: same.occurrences + 1,
        severity: higherSeverity(same.severity, command.severity),
        signal: { ...command.signal, since: same.signal?.since ?? command.signal.since },
      };
      return accept(incidentChange('incident.recurred', same, after));
    }
    const id = ctx.commandId.slice(0, 64);
    if (findIncident(state, id)) return conflict(`An incident with id '${id}' already exists in this session.`);
    return accept(
      incidentChange('incident.raised', null, {
        id,
        severity: command.severity,
        category: command.category,
        title: command.title,
        detail: command.detail,
        status: 'open',
        raisedBy: actor.name,
        assignee: null,
        dedupeKey: command.dedupeKey,
        occurrences: 1,
        pushedToHost: false,
        raisedAt: ctx.now,
        acknowledgedAt: null,
        resolvedAt: null,
        reopenedAt: null,
        notes: [],
        signal: command.signal,
      }),
    );
  },

  'signal.clear': (state, command, _actor, ctx) => {
    if (!signalAccepted(state)) return signalRefused(state);
    const incident = openSignalIncident(state, command.dedupeKey);
    if (!incident?.signal?.breaching) return conflict(`No breaching incident for '${command.dedupeKey}'.`);
    return accept(
      incidentChange('incident.signal_changed', incident, {
        ...incident,
        signal: { ...incident.signal, breaching: false, clearedAt: ctx.now },
      }),
    );
  },

  'signal.resolve': (state, command, actor, ctx) => {
    if (!signalAccepted(state)) return signalRefused(state);
    const incident = openSignalIncident(state, command.dedupeKey);
    if (!incident) return conflict(`No open incident for '${command.dedupeKey}'.`);
    if (incident.signal?.breaching) return conflict(`Incident '${incident.id}' still breaches.`);
    return accept(
      incidentChange('incident.resolved', incident, {
        ...incident,
        status: 'resolved',
        resolvedAt: ctx.now,
        notes: [...incident.notes, { by: actor.name, text: command.resolution, at: ctx.now }],
      }),
    );
  },

  'presence.open': (state, command, _actor, ctx) => {
    const entry = Object.hasOwn(state.presence, command.personId) ? state.presence[command.personId] : undefined;
    if (!entry) {
      return accept({
        kind: 'presence.joined',
        entry: {
          personId: command.personId,
          name: command.name,
          role: command.role,
          consoles: [command.consoleId],
          since: ctx.now,
        },
      });
    }
    if (entry.consoles.includes(command.consoleId)) {
      return conflict(`Console '${command.consoleId}' of ${entry.name} is already open.`);
    }
    // The newest token speaks for the person: a new console may carry a new name or role.
    return accept({
      kind: 'presence.changed',
      entry: { ...entry, name: command.name, role: command.role, consoles: [...entry.consoles, command.consoleId] },
    });
  },

  'presence.close': (state, command) => {
    const entry = Object.hasOwn(state.presence, command.personId) ? state.presence[command.personId] : undefined;
    if (!entry || !entry.consoles.includes(command.consoleId)) {
      return conflict(`Console '${command.consoleId}' of person '${command.personId}' is not open.`);
    }
    const after = { ...entry, consoles: entry.consoles.filter((c) => c !== command.consoleId) };
    return accept({ kind: after.consoles.length === 0 ? 'presence.left' : 'presence.changed', entry: after });
  },
};

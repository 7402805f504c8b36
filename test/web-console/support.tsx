import { signal } from '@preact/signals';
import { render } from '@testing-library/preact';
import type { CommandInput } from '../../shared/commands.js';
import type { EventBody, SessionEvent } from '../../shared/events.js';
import type { Incident, Question, SessionState } from '../../shared/model.js';
import type { CrewRole } from '../../shared/roles.js';
import { initialState } from '../../server/domain/evolve.js';
import { ConsoleContext, type Console } from '../../web-console/src/context.js';
import { ConsoleStore } from '../../web-console/src/store.js';
import { VIEWS } from '../../web-console/src/views/roles.js';

export const NOW = 1_800_000_000_000;

export function question(id: string, patch: Partial<Question> = {}): Question {
  return {
    id,
    text: `Question ${id}?`,
    author: 'viewer',
    source: 'chat',
    externalId: null,
    status: 'new',
    upvotes: 0,
    voters: [],
    pinned: false,
    priority: 0,
    productId: 'p-kettle',
    submittedAt: NOW,
    flaggedAt: null,
    answeredAt: null,
    dismissedAt: null,
    order: 0,
    ...patch,
  };
}

export function incident(id: string, patch: Partial<Incident> = {}): Incident {
  return {
    id,
    severity: 'sev2',
    category: 'video',
    title: `Incident ${id}`,
    detail: '',
    status: 'open',
    raisedBy: 'Tomás',
    assignee: null,
    dedupeKey: null,
    occurrences: 1,
    pushedToHost: false,
    raisedAt: NOW,
    acknowledgedAt: null,
    resolvedAt: null,
    reopenedAt: null,
    notes: [],
    ...patch,
  };
}

/** A live session with a lineup of two, the kettle on screen. */
export function liveState(patch: Partial<SessionState> = {}): SessionState {
  return {
    ...initialState('s-1'),
    title: 'Kitchen Friday',
    status: 'live',
    seq: 10,
    liveAt: NOW,
    lineup: [
      {
        id: 'p-kettle',
        name: 'Glass kettle',
        price: 3999,
        currency: 'USD',
        stock: 10,
        soldOut: false,
        talkingPoints: ['Boils in 3 minutes', 'Blue light'],
      },
      {
        id: 'p-mugs',
        name: 'Stoneware mugs',
        price: 2499,
        currency: 'USD',
        stock: 5,
        soldOut: false,
        talkingPoints: [],
      },
    ],
    currentProductId: 'p-kettle',
    ...patch,
  };
}

export interface Sent {
  action: string;
  command: CommandInput;
}

/** Renders the role's view over a store holding `state`, with a connection that records what it sends. */
export function renderRole(role: CrewRole, state: SessionState) {
  const store = new ConsoleStore();
  store.identity.value = { sessionId: state.id, role, personId: `p-${role}`, name: `Pat (${role})` };
  store.applySnapshot(state, state.seq);
  store.setPhase('live');
  const sent: Sent[] = [];
  const connection: Console['connection'] = {
    errors: signal<Record<string, string>>({}),
    pending: signal({}),
    send(action, command) {
      sent.push({ action, command });
      return `cmd-${sent.length}`;
    },
    clearError(action) {
      const { [action]: _gone, ...rest } = connection.errors.value;
      connection.errors.value = rest;
    },
  };
  const View = VIEWS[role];
  const result = render(
    <ConsoleContext.Provider value={{ store, connection }}>
      <View />
    </ConsoleContext.Provider>,
  );
  return { ...result, store, connection, sent };
}

export function event(seq: number, body: EventBody): SessionEvent {
  return {
    seq,
    at: NOW + seq,
    commandId: `c-${seq}`,
    actor: { id: 'ops', name: 'Olga', role: 'ops' },
    ...body,
  } as SessionEvent;
}

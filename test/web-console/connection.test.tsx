// @vitest-environment happy-dom
import { describe, expect, it } from 'vitest';
import { Connection, explain, takeToken } from '../../web-console/src/connection.js';
import { ConsoleStore } from '../../web-console/src/store.js';
import * as browser from '../../web-console/src/model-constants.js';
import { HEALTH_WINDOW, INCIDENT_CATEGORIES, SEVERITIES } from '../../shared/model.js';
import { CREW_ROLES } from '../../shared/roles.js';
import { event, liveState, question } from './support.js';

function connect(role: 'cohost' | 'host' = 'cohost') {
  const store = new ConsoleStore();
  const connection = new Connection(store, 'tok en', 'ws://example.test');
  connection.receive({
    type: 'welcome',
    sessionId: 's-1',
    role,
    personId: 'p',
    name: 'Pat',
    connectionId: 'c',
    heartbeatMs: 15000,
  });
  return { store, connection };
}

describe('console connection', () => {
  it('asks for a snapshot first, then resumes from the last seq it was caught up to', () => {
    const { store, connection } = connect();
    expect(connection.url()).toBe('ws://example.test/v1/ws?token=tok%20en');
    connection.receive({ type: 'snapshot', seq: 10, state: liveState(), recovered: false });
    expect(store.phase.value).toBe('live');
    // An events frame can say the console is caught up past its last visible event.
    connection.receive({
      type: 'events',
      seq: 14,
      events: [event(12, { kind: 'question.submitted', question: question('q1') })],
    });
    expect(connection.url()).toBe('ws://example.test/v1/ws?token=tok%20en&since=14');
  });

  it('never folds an event twice when a replay overlaps what a frame delivered', () => {
    const { store, connection } = connect();
    connection.receive({ type: 'snapshot', seq: 10, state: liveState(), recovered: false });
    const submitted = event(11, { kind: 'question.submitted', question: question('q1') });
    connection.receive({ type: 'events', seq: 11, events: [submitted] });
    connection.receive({
      type: 'resumed',
      since: 10,
      seq: 12,
      events: [submitted, event(12, { kind: 'question.submitted', question: question('q2') })],
    });
    expect(Object.keys(store.questions.value).sort()).toEqual(['q1', 'q2']);
    expect(store.activity.value.map((a) => a.seq)).toEqual([12, 11]);
  });

  it('says "resynced" when a reconnect had to take a snapshot', () => {
    const { store, connection } = connect();
    connection.receive({ type: 'snapshot', seq: 10, state: liveState(), recovered: false });
    connection.receive({ type: 'snapshot', seq: 50, state: liveState({ seq: 50 }), recovered: false });
    expect(store.phase.value).toBe('resynced');
    expect(store.seq).toBe(50);
  });

  it('puts an error next to the action that sent the command, in words for people', () => {
    const { connection } = connect();
    const id = connection.send('flag-q1', { kind: 'question.flag', questionId: 'q1' });
    expect(Object.values(connection.pending.value)).toEqual([{ action: 'flag-q1', kind: 'question.flag' }]);
    connection.receive({ type: 'error', id, code: 'forbidden', message: 'Role tech may not send question.flag.' });
    expect(connection.errors.value['flag-q1']).toBe(
      'Not allowed for your role: the cohost console cannot flag questions.',
    );
    expect(connection.pending.value).toEqual({});
    const other = connection.send('answer-q1', { kind: 'question.answer', questionId: 'q1' });
    connection.receive({ type: 'ack', id: other, seq: 3, lastSeq: 3 });
    expect(connection.pending.value).toEqual({});
    expect(explain({ code: 'rate_limited', message: 'x' })).toMatch(/wait a moment/);
  });

  it('takes the token from the fragment, removes it from the address bar and keeps it for the tab', () => {
    history.replaceState(null, '', '/?session=s-1#token=abc');
    expect(takeToken(location, sessionStorage, history)).toBe('abc');
    expect(location.hash).toBe('');
    expect(takeToken(location, sessionStorage, history)).toBe('abc');
  });

  it('builds the browser reducer and forms with the same constants as shared/', () => {
    expect(browser.HEALTH_WINDOW).toBe(HEALTH_WINDOW);
    expect(browser.CREW_ROLES).toEqual(CREW_ROLES);
    expect(browser.SEVERITIES).toEqual(SEVERITIES);
    expect(browser.INCIDENT_CATEGORIES).toEqual(INCIDENT_CATEGORIES);
  });
});

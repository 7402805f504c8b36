// @vitest-environment happy-dom
import { signal } from '@preact/signals';
import { cleanup, fireEvent, render, screen, waitFor, within } from '@testing-library/preact';
import { afterEach, describe, expect, it } from 'vitest';
import type { CommandInput, SystemCommand } from '../../shared/commands.js';
import type { Actor, CrewRole } from '../../shared/roles.js';
import { buildReview, type Review } from '../../server/review/review.js';
import { App, tab } from '../../web-console/src/app.js';
import type { Console } from '../../web-console/src/context.js';
import { ConsoleStore } from '../../web-console/src/store.js';
import { chartMarks, ReviewReport } from '../../web-console/src/views/review.js';
import { cohost, host, ingest, ops, Room, T0, tech } from '../unit/domain-harness.js';
import { liveState } from './support.js';

afterEach(() => {
  cleanup();
  tab.value = 'live';
});

const s = (seconds: number) => T0 + seconds * 1000;

/** A short show scripted to the second: two incidents, four questions, two products, an outage. */
function scriptedReview(): Review {
  const room = new Room({ checklist: [] });
  const at = (seconds: number, actor: Actor, command: CommandInput | SystemCommand) => {
    room.now = s(seconds) - 1000; // Room.run adds a second before each command
    room.ok(actor, command);
  };
  at(10, ops, { kind: 'session.start_preflight' });
  at(20, ops, { kind: 'session.go_live' });
  at(30, ops, {
    kind: 'lineup.set',
    products: [
      { id: 'p1', name: 'Kettle', price: 4900, stock: 10 },
      { id: 'p2', name: 'Teapot', price: 2900, stock: 3 },
    ],
  });
  at(35, ops, { kind: 'product.switch', productId: 'p1' });
  for (const [i, sec] of [40, 41, 42, 43].entries())
    at(sec, ingest, { kind: 'question.submit', questionId: `q${i + 1}`, text: `Question ${i + 1}?`, author: 'ann' });
  at(60, tech, { kind: 'incident.raise', incidentId: 'i1', severity: 'sev2', category: 'video', title: 'Freeze' });
  at(90, tech, { kind: 'incident.acknowledge', incidentId: 'i1' }); // 30 s to acknowledge
  at(100, cohost, { kind: 'question.flag', questionId: 'q1' });
  at(110, cohost, { kind: 'question.flag', questionId: 'q2' });
  at(120, host, { kind: 'question.answer', questionId: 'q1' });
  at(130, ops, { kind: 'question.dismiss', questionId: 'q3' });
  at(150, tech, { kind: 'incident.resolve', incidentId: 'i1' }); // 1 min 30 s to resolve
  at(155, ops, { kind: 'product.switch', productId: 'p2' }); // kettle on screen 2 min
  at(160, ops, {
    kind: 'incident.raise',
    incidentId: 'i2',
    severity: 'sev1',
    category: 'network',
    title: 'Uplink down',
  });
  const samples: [number, number, number][] = [
    [100, 4000, 30],
    [101, 3900, 30],
    [102, 4100, 30],
    [130, 4000, 30], // 28 s without samples: an outage
    [131, 2000, 20],
  ];
  samples.forEach(([ts, bitrateKbps, fps], i) =>
    at(170 + i / 10, tech, { kind: 'health.sample', sample: { ts: s(ts), bitrateKbps, fps, droppedFrames: 0 } }),
  );
  at(215, ops, { kind: 'session.end' }); // teapot on screen 1 min
  return buildReview(room.events);
}

const review = scriptedReview();

function renderApp(role: CrewRole, status: 'live' | 'ended', loadReview?: Console['loadReview']) {
  const store = new ConsoleStore();
  const state = liveState({ status });
  store.identity.value = { sessionId: state.id, role, personId: `p-${role}`, name: `Pat (${role})` };
  store.applySnapshot(state, state.seq);
  store.setPhase('live');
  const connection: Console['connection'] = {
    errors: signal({}),
    pending: signal({}),
    send: () => 'cmd-1',
    clearError: () => undefined,
  };
  const asked: string[] = [];
  const loader =
    loadReview ??
    (async (id: string) => {
      asked.push(id);
      return review;
    });
  render(<App console={{ store, connection, loadReview: loader }} />);
  return { asked };
}

describe('review report', () => {
  it('shows the Q&A funnel with its numbers', () => {
    render(<ReviewReport review={review} />);
    const qa = screen.getByRole('region', { name: 'Q&A funnel' });
    expect(within(qa).getByRole('status').textContent).toBe('4 received → 2 flagged → 1 answered, 1 dismissed');
    const table = within(qa).getByRole('table', { name: /Questions, from received/ });
    const row = (step: string) => within(table).getByRole('row', { name: new RegExp(`^${step}`) }).textContent;
    expect(row('Received')).toContain('4');
    expect(row('Flagged for the host')).toContain('50%');
    expect(row('Answered')).toContain('25%');
    expect(row('Dismissed')).toContain('25%');
  });

  it("gives each incident's time to acknowledge and resolve, and says when it never was", () => {
    render(<ReviewReport review={review} />);
    const table = screen.getByRole('table', { name: 'Incident durations' });
    const freeze = within(table).getByRole('row', { name: /Freeze/ });
    expect(freeze.textContent).toContain('30 s');
    expect(freeze.textContent).toContain('1 min 30 s');
    expect(freeze.textContent).toContain('sev2');
    const uplink = within(table).getByRole('row', { name: /Uplink down/ });
    expect(uplink.textContent).toContain('never acknowledged');
    expect(uplink.textContent).toContain('not resolved (open)');
    expect(screen.getByRole('table', { name: /By severity/ }).textContent).toContain('30 s / 30 s / 30 s');
  });

  it('gives time on screen per product', () => {
    render(<ReviewReport review={review} />);
    const table = screen.getByRole('table', { name: /Time on screen/ });
    expect(within(table).getByRole('row', { name: /Kettle/ }).textContent).toContain('2 min 0 s');
    expect(within(table).getByRole('row', { name: /Teapot/ }).textContent).toContain('1 min 0 s');
  });

  it('lists the outage with its cause and duration, and the marks drawn on the health chart', () => {
    render(<ReviewReport review={review} />);
    const health = screen.getByRole('region', { name: 'Stream health over time' });
    expect(within(health).getByRole('status').textContent).toMatch(/1 outage, 28 s in all/);
    const outages = within(health).getByRole('table', { name: 'Outages' });
    const rows = within(outages).getAllByRole('row').slice(1);
    expect(rows).toHaveLength(1);
    expect(rows[0]!.textContent).toContain('28 s');
    expect(rows[0]!.textContent).toContain('no samples');
    expect(chartMarks(review).map((m) => `${m.kind}:${m.label}`)).toEqual([
      'product:Kettle',
      'incident:sev2 Freeze',
      'product:Teapot',
      'incident:sev1 Uplink down',
    ]);
    expect(within(health).getAllByRole('row', { name: /incident raised/ })).toHaveLength(2);
    expect(review.health.series).toHaveLength(5);
  });

  it('keeps a timeline', () => {
    render(<ReviewReport review={review} />);
    const timeline = screen.getByRole('table', { name: /Everything that happened/ });
    expect(timeline.textContent).toContain('On screen: Teapot');
    expect(timeline.textContent).toContain('Session live → ended');
  });
});

describe('review tab', () => {
  it('is there for observers while live: fetches the report for the session and shows it', async () => {
    const { asked } = renderApp('observer', 'live');
    fireEvent.click(screen.getByRole('button', { name: 'Review' }));
    await waitFor(() => screen.getByRole('region', { name: 'Q&A funnel' }));
    expect(asked).toEqual(['s-1']);
    expect(screen.getByRole('button', { name: 'Review' }).getAttribute('aria-pressed')).toBe('true');
    fireEvent.click(screen.getByRole('button', { name: 'Live' }));
    expect(screen.queryByRole('region', { name: 'Q&A funnel' })).toBeNull();
  });

  it('is there for ops; for the host only once the session has ended', () => {
    renderApp('ops', 'live');
    expect(screen.getByRole('button', { name: 'Review' })).toBeTruthy();
    cleanup();
    renderApp('host', 'live');
    expect(screen.queryByRole('button', { name: 'Review' })).toBeNull();
    cleanup();
    renderApp('host', 'ended');
    expect(screen.getByRole('button', { name: 'Review' })).toBeTruthy();
  });

  it('says so when the report cannot be loaded', async () => {
    renderApp('ops', 'ended', async () => {
      throw new Error('Only admin, ops or observer may read this.');
    });
    fireEvent.click(screen.getByRole('button', { name: 'Review' }));
    const alert = await screen.findByRole('alert');
    expect(alert.textContent).toContain('Could not load the review: Only admin, ops or observer may read this.');
  });
});

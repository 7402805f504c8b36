// @vitest-environment happy-dom
import { act, cleanup, fireEvent, screen } from '@testing-library/preact';
import { afterEach, describe, expect, it } from 'vitest';
import { event, incident, liveState, question, renderRole, NOW } from './support.js';

afterEach(cleanup);

const checklist = [
  { id: 'cam', label: 'Camera', checked: true, checkedBy: 'Olga', checkedAt: NOW },
  { id: 'mic', label: 'Audio', checked: false, checkedBy: null, checkedAt: null },
];

describe('ops view', () => {
  it('runs the lifecycle: go live needs a reason while items are unchecked', () => {
    const { sent } = renderRole('ops', liveState({ status: 'preflight', checklist }));
    fireEvent.input(screen.getByLabelText(/Reason to go live with 1 unchecked/), {
      target: { value: 'audio checked by ear' },
    });
    fireEvent.click(screen.getByRole('button', { name: 'Go live anyway' }));
    expect(sent.at(-1)?.command).toEqual({ kind: 'session.go_live', override: true, reason: 'audio checked by ear' });
    fireEvent.click(screen.getAllByRole('button', { name: 'Check' })[0]!);
    expect(sent.at(-1)?.command).toEqual({ kind: 'session.check_item', itemId: 'mic', checked: true });
    expect((screen.getByRole('button', { name: 'Start preflight' }) as HTMLButtonElement).disabled).toBe(true);
  });

  it('shows Q&A counts, presence, incidents, the lineup editor, cues to anyone and the activity feed', () => {
    const { store, sent } = renderRole(
      'ops',
      liveState({
        questions: { a: question('a'), b: question('b', { status: 'answered' }) },
        incidents: { i1: incident('i1', { title: 'Packet loss' }) },
        presence: { h: { personId: 'h', name: 'Hana', role: 'host', consoles: ['c1'], since: NOW } },
      }),
    );
    const counts = screen.getByRole('status', { name: 'Question counts' });
    expect(counts.textContent).toContain('1 new');
    expect(counts.textContent).toContain('1 answered');
    expect(screen.getByText(/Hana/)).toBeTruthy();
    expect(screen.getByText('Packet loss')).toBeTruthy();
    expect(screen.getByText('Lineup editor')).toBeTruthy();
    expect(screen.getByRole('checkbox', { name: 'observer' })).toBeTruthy();
    act(() =>
      store.applyEvents(
        [event(11, { kind: 'product.switched', previous: null, next: store.lineup.value.products[1]! })],
        11,
      ),
    );
    expect(screen.getByText(/switched to Stoneware mugs/)).toBeTruthy();
    fireEvent.click(screen.getByRole('button', { name: 'Remove Glass kettle' }));
    expect(sent.at(-1)?.command.kind).toBe('lineup.set');
  });
});

describe('updates without a full re-render', () => {
  it('a health sample leaves the question queue and the activity feed alone', () => {
    const questions = Object.fromEntries(
      Array.from({ length: 50 }, (_, i) => [`q${i}`, question(`q${i}`, { order: i })]),
    );
    const { store } = renderRole('ops', liveState({ questions }));
    const row = screen.getByText('Question q7?').closest('li');
    const queue = store.questions.value;
    act(() =>
      store.applyEvents(
        [event(11, { kind: 'health.sampled', sample: { ts: NOW, bitrateKbps: 4000, fps: 30, droppedFrames: 0 } })],
        11,
      ),
    );
    expect(store.questions.value).toBe(queue);
    expect(store.activity.value).toEqual([]);
    expect(screen.getByText('Question q7?').closest('li')).toBe(row);
    expect(screen.getByText(/Bitrate:/).textContent).toContain('4000 kbps');
  });
});

describe('observer view', () => {
  it('shows everything and offers no action at all', () => {
    renderRole(
      'observer',
      liveState({
        status: 'preflight',
        checklist,
        questions: { a: question('a', { text: 'Visible question' }) },
        incidents: { i1: incident('i1', { title: 'Visible incident' }) },
      }),
    );
    expect(screen.getByText('Visible question')).toBeTruthy();
    expect(screen.getByText('Visible incident')).toBeTruthy();
    expect(screen.getByText(/Read-only/)).toBeTruthy();
    const actions = screen
      .queryAllByRole('button')
      .map((b) => b.textContent ?? '')
      .filter((t) =>
        /Flag|Answer|Dismiss|Acknowledge|Resolve|Go live|Check|Switch|Send cue|Raise|Add|Remove|Pin/.test(t),
      );
    expect(actions).toEqual([]);
  });
});

// @vitest-environment happy-dom
import { act, cleanup, fireEvent, screen, within } from '@testing-library/preact';
import { afterEach, describe, expect, it } from 'vitest';
import { event, incident, liveState, question, renderRole, NOW } from './support.js';

afterEach(cleanup);

describe('host view', () => {
  it('shows the product on screen with its talking points, and nothing of the crew tools', () => {
    renderRole('host', liveState());
    expect(screen.getByText('Glass kettle')).toBeTruthy();
    expect(screen.getByText('Boils in 3 minutes')).toBeTruthy();
    expect(screen.queryByText(/Question queue/)).toBeNull();
    expect(screen.queryByText(/Stream health/)).toBeNull();
    expect(screen.queryByRole('button', { name: /Flag|Dismiss|Acknowledge|Switch/ })).toBeNull();
  });

  it('lists flagged questions oldest first, each with "Answered"', () => {
    const { sent } = renderRole(
      'host',
      liveState({
        questions: {
          late: question('late', { status: 'flagged', order: 5, text: 'Second?' }),
          early: question('early', { status: 'flagged', order: 1, text: 'First?' }),
        },
      }),
    );
    const list = screen.getByText('First?').closest('ol')!;
    const items = within(list).getAllByRole('listitem');
    expect(items.map((li) => li.textContent)).toEqual([
      expect.stringContaining('First?'),
      expect.stringContaining('Second?'),
    ]);
    fireEvent.click(within(items[0]!).getByRole('button', { name: 'Answered' }));
    expect(sent).toEqual([{ action: 'answer-early', command: { kind: 'question.answer', questionId: 'early' } }]);
  });

  it('drops a question the event takes off its screen', () => {
    const { store } = renderRole(
      'host',
      liveState({ questions: { q1: question('q1', { status: 'flagged', text: 'Gone soon?' }) } }),
    );
    expect(screen.getByText('Gone soon?')).toBeTruthy();
    act(() =>
      store.applyEvents(
        [
          event(11, {
            kind: 'question.answered',
            question: question('q1', { status: 'answered' }),
            previousStatus: 'flagged',
          }),
        ],
        11,
      ),
    );
    expect(screen.queryByText('Gone soon?')).toBeNull();
    expect(store.questions.value).toEqual({});
  });

  it('shows cues for the host with "Got it"', () => {
    const { sent } = renderRole(
      'host',
      liveState({
        cues: {
          c1: {
            id: 'c1',
            text: 'Wrap up in 30 s',
            to: ['host'],
            from: 'Carlos',
            fromRole: 'cohost',
            sentAt: NOW,
            acknowledgedBy: {},
            acknowledgedAt: null,
          },
        },
      }),
    );
    expect(screen.getByText(/Wrap up in 30 s/)).toBeTruthy();
    fireEvent.click(screen.getByRole('button', { name: 'Got it' }));
    expect(sent[0]?.command).toEqual({ kind: 'cue.acknowledge', cueId: 'c1' });
  });

  it('puts a sev1 incident on a full-screen alert banner, and a pushed one on a status banner', () => {
    renderRole('host', liveState({ incidents: { i1: incident('i1', { severity: 'sev1', title: 'Stream is down' }) } }));
    const alert = screen.getByRole('alert');
    expect(alert.textContent).toContain('Stream is down');
    expect(alert.textContent).toContain('Critical incident');
    cleanup();
    renderRole('host', liveState({ incidents: { i2: incident('i2', { pushedToHost: true, title: 'Mic check' }) } }));
    expect(screen.queryByRole('alert')).toBeNull();
    expect(screen.getByText('Mic check').closest('[role="status"]')).toBeTruthy();
  });
});

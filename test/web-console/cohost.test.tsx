// @vitest-environment happy-dom
import { act, cleanup, fireEvent, screen, within } from '@testing-library/preact';
import { afterEach, describe, expect, it } from 'vitest';
import { event, liveState, question, renderRole } from './support.js';

afterEach(cleanup);

describe('cohost view', () => {
  it('shows the triage queue with upvotes and the product each question was asked under', () => {
    renderRole(
      'cohost',
      liveState({
        questions: {
          a: question('a', { text: 'Is it dishwasher safe?', upvotes: 7, productId: 'p-mugs', order: 2 }),
          b: question('b', { text: 'Flagged one', status: 'flagged', order: 1 }),
        },
      }),
    );
    const row = screen.getByText('Is it dishwasher safe?').closest('li')!;
    expect(row.textContent).toContain('▲ 7');
    expect(row.textContent).toContain('asked under Stoneware mugs');
    expect(screen.queryByText('Flagged one')).toBeNull();
    fireEvent.click(screen.getByRole('tab', { name: /flagged/ }));
    expect(screen.getByText('Flagged one')).toBeTruthy();
  });

  it('acts on the selected question with one key while the queue has focus, not while typing', () => {
    const { sent } = renderRole(
      'cohost',
      liveState({ questions: { a: question('a', { order: 1 }), b: question('b', { order: 2 }) } }),
    );
    const listbox = screen.getByRole('list', { name: /new questions/ });
    listbox.focus();
    fireEvent.keyDown(listbox, { key: 'j' });
    fireEvent.keyDown(listbox, { key: 'f' });
    expect(sent.at(-1)).toEqual({ action: 'flag-b', command: { kind: 'question.flag', questionId: 'b' } });
    fireEvent.keyDown(listbox, { key: 'd' });
    expect(sent.at(-1)?.command).toEqual({ kind: 'question.dismiss', questionId: 'b' });
    fireEvent.keyDown(listbox, { key: 'p' });
    expect(sent.at(-1)?.command).toEqual({ kind: 'question.pin', questionId: 'b', pinned: true });
    const count = sent.length;
    const cueText = screen.getByLabelText(/Cue text/);
    fireEvent.keyDown(cueText, { key: 'f' });
    expect(sent.length).toBe(count);
  });

  it('re-renders only the rows that changed when a question event arrives', () => {
    const questions = Object.fromEntries(
      Array.from({ length: 500 }, (_, i) => [`q${i}`, question(`q${i}`, { order: i })]),
    );
    const { store } = renderRole('cohost', liveState({ questions }));
    expect(within(screen.getByRole('list', { name: /new questions/ })).getAllByRole('listitem')).toHaveLength(500);
    const first = screen.getByText('Question q1?').closest('li');
    act(() =>
      store.applyEvents(
        [event(11, { kind: 'question.upvoted', question: question('q0', { upvotes: 3 }), previousStatus: 'new' })],
        11,
      ),
    );
    expect(screen.getByText('Question q0?').closest('li')!.textContent).toContain('▲ 3');
    // Same DOM node for an untouched row: keyed and memoised.
    expect(screen.getByText('Question q1?').closest('li')).toBe(first);
  });

  it('upvotes once as the crew member', () => {
    const { sent } = renderRole('cohost', liveState({ questions: { a: question('a') } }));
    fireEvent.click(screen.getByRole('button', { name: '▲ +1' }));
    expect(sent[0]?.command).toEqual({ kind: 'question.upvote', questionId: 'a', voter: 'Pat (cohost)' });
    cleanup();
    renderRole('cohost', liveState({ questions: { a: question('a', { voters: ['Pat (cohost)'], upvotes: 1 }) } }));
    expect(screen.queryByRole('button', { name: '▲ +1' })).toBeNull();
  });

  it('shows the lineup with current and next, and switches', () => {
    const { sent } = renderRole('cohost', liveState());
    expect(screen.getByText(/Now:/).parentElement!.textContent).toContain('Glass kettle');
    fireEvent.click(screen.getByRole('button', { name: /Switch to next: Stoneware mugs/ }));
    expect(sent[0]?.command).toEqual({ kind: 'product.switch', productId: 'p-mugs' });
  });

  it('sends a cue to the host', () => {
    const { sent } = renderRole('cohost', liveState());
    fireEvent.input(screen.getByLabelText(/Cue text/), { target: { value: 'Stretch 1 min' } });
    fireEvent.submit(screen.getByRole('button', { name: 'Send cue' }).closest('form')!);
    expect(sent[0]).toEqual({ action: 'cue-send', command: { kind: 'cue.send', to: ['host'], text: 'Stretch 1 min' } });
  });

  it('offers no incident or lifecycle actions, and shows an error next to the action that caused it', () => {
    const { connection } = renderRole('cohost', liveState({ questions: { a: question('a') } }));
    expect(screen.queryByRole('button', { name: /Acknowledge|Go live|End session|Raise/ })).toBeNull();
    act(() => {
      connection.errors.value = { 'flag-a': 'Not allowed for your role: nope' };
    });
    const button = screen.getByRole('button', { name: /Flag/ });
    expect(button.parentElement!.textContent).toContain('Not allowed for your role: nope');
  });

  it('disables triage with the reason when the session is not live', () => {
    renderRole('cohost', liveState({ status: 'preflight', questions: { a: question('a') } }));
    const flag = screen.getByRole('button', { name: /Flag/ }) as HTMLButtonElement;
    expect(flag.disabled).toBe(true);
    expect(flag.title).toContain('Only while the session is live');
  });
});

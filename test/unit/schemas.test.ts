import { describe, expect, it } from 'vitest';
import { COMMAND_KINDS, commandIdSchema, commandSchema, commandSchemas } from '../../shared/commands.js';
import { EVENT_KINDS, eventBodySchemas, sessionEventSchema } from '../../shared/events.js';
import { sessionStateSchema } from '../../shared/model.js';
import { clientMessageSchema, serverMessageSchema } from '../../shared/protocol.js';
import { CueroomError } from '../../server/errors.js';
import { Room } from './domain-harness.js';

/** The issues of a failed parse as `path: message` lines, the way a client would show them. */
function issuesOf(input: unknown): string[] {
  const result = commandSchema.safeParse(input);
  expect(result.success, 'expected the command to be rejected').toBe(false);
  return result.error!.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`);
}

describe('command schemas reject bad input with issues that point at the field', () => {
  it('a wrong type', () => {
    const issues = issuesOf({ kind: 'product.set_price', productId: 'p1', price: '19.99' });
    expect(issues).toHaveLength(1);
    expect(issues[0]).toMatch(/^price: .*number/i);
  });

  it('a price that is not a whole number of cents', () => {
    expect(issuesOf({ kind: 'product.set_price', productId: 'p1', price: 19.99 })[0]).toMatch(/^price: .*int/i);
  });

  it('an unknown kind', () => {
    const issues = issuesOf({ kind: 'question.delete', questionId: 'q1' });
    expect(issues).toHaveLength(1);
    // The message lists the kinds that exist, so the sender sees what was meant.
    expect(issues[0]).toMatch(/^kind: /);
    expect(issues[0]).toContain('question.dismiss');
  });

  it('no kind at all', () => {
    expect(issuesOf({ questionId: 'q1' })[0]).toMatch(/^kind: /);
  });

  it('oversized text', () => {
    const issues = issuesOf({ kind: 'question.submit', text: 'x'.repeat(1001), author: 'v' });
    expect(issues).toEqual([expect.stringMatching(/^text: .*1000/)]);
    expect(issuesOf({ kind: 'cue.send', to: ['host'], text: 'y'.repeat(281) })).toEqual([
      expect.stringMatching(/^text: .*280/),
    ]);
  });

  it('text that is only whitespace', () => {
    expect(issuesOf({ kind: 'incident.add_note', incidentId: 'i1', text: '   ' })).toEqual([
      expect.stringMatching(/^text: /),
    ]);
  });

  it('an id with spaces, saying what is allowed', () => {
    expect(issuesOf({ kind: 'question.flag', questionId: 'q 1' })).toEqual([
      'questionId: use letters, digits, dot, dash, underscore or colon',
    ]);
  });

  it('values outside the allowed set, each reported by path', () => {
    const issues = issuesOf({ kind: 'incident.raise', severity: 'sev0', category: 'weather', title: 'Rain' });
    expect(issues.map((line) => line.split(':')[0]).sort()).toEqual(['category', 'severity']);
  });

  it('a cue to a role that is not crew, or to nobody', () => {
    expect(issuesOf({ kind: 'cue.send', to: ['ingest'], text: 'hi' })[0]).toMatch(/^to\.0: /);
    expect(issuesOf({ kind: 'cue.send', to: [], text: 'hi' })[0]).toMatch(/^to: /);
  });

  it('a negative stock and a bad health sample', () => {
    expect(issuesOf({ kind: 'product.set_stock', productId: 'p1', stock: -1 })[0]).toMatch(/^stock: /);
    expect(
      issuesOf({
        kind: 'health.sample',
        sample: { ts: 1, bitrateKbps: 1, fps: 1, droppedFrames: 0, encoderCpu: 140 },
      })[0],
    ).toMatch(/^sample\.encoderCpu: /);
  });

  it('a product in a lineup, reported with its index', () => {
    expect(
      issuesOf({ kind: 'lineup.set', products: [{ id: 'p1', name: 'Kettle', price: 1, stock: 1 }, { id: 'p2' }] }),
    ).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^products\.1\.name: /),
        expect.stringMatching(/^products\.1\.price: /),
      ]),
    );
  });

  it('turns into an invalid_command error carrying the issues', () => {
    const result = commandSchema.safeParse({ kind: 'question.upvote', questionId: 'q1' });
    expect(result.success).toBe(false);
    const error = CueroomError.invalid('The command is not valid.', result.error!.issues);
    expect(error.code).toBe('invalid_command');
    expect(error.details).toEqual([{ path: ['voter'], message: expect.any(String) }]);
  });
});

describe('command schemas fill in defaults', () => {
  it.each([
    [{ kind: 'session.go_live' }, { override: false }],
    [{ kind: 'session.check_item', itemId: 'audio' }, { checked: true }],
    [
      { kind: 'incident.raise', severity: 'sev2', category: 'audio', title: 'Hum' },
      { detail: '', pushToHost: false },
    ],
    [{ kind: 'incident.push_to_host', incidentId: 'i1' }, { pushed: true }],
    [{ kind: 'question.pin', questionId: 'q1' }, { pinned: true }],
  ])('%o gets %o', (input, defaults) => {
    expect(commandSchema.parse(input)).toEqual({ ...input, ...defaults });
  });

  it('gives products a currency and empty talking points', () => {
    const parsed = commandSchema.parse({
      kind: 'lineup.set',
      products: [{ id: 'p1', name: 'Kettle', price: 4900, stock: 3 }],
    });
    expect(parsed).toEqual({
      kind: 'lineup.set',
      products: [{ id: 'p1', name: 'Kettle', price: 4900, stock: 3, currency: 'USD', talkingPoints: [] }],
    });
  });

  it('trims text and leaves optional ids absent (the server derives them from the command id)', () => {
    const parsed = commandSchema.parse({ kind: 'question.submit', text: '  Warranty?  ', author: ' v1 ' });
    expect(parsed).toEqual({ kind: 'question.submit', text: 'Warranty?', author: 'v1' });
  });

  it('has one schema per command kind, each keyed by its own kind', () => {
    for (const kind of COMMAND_KINDS) expect(commandSchemas[kind].shape.kind.value).toBe(kind);
  });
});

describe('wire messages', () => {
  it('a command frame needs a usable command id', () => {
    const command = { kind: 'question.flag', questionId: 'q1' };
    expect(
      clientMessageSchema.safeParse({ type: 'command', id: 'b2c1f0e4-8d1a-4c7e-9a55-0f0c1d2e3f40', command }).success,
    ).toBe(true);
    const short = clientMessageSchema.safeParse({ type: 'command', id: 'abc', command });
    expect(short.error?.issues.map((i) => i.path.join('.'))).toEqual(['id']);
    expect(commandIdSchema.safeParse('has space in it').success).toBe(false);
  });

  it('every event the domain produces, and the state it folds to, parse with the wire schemas', () => {
    const room = new Room().goLive().lineup();
    for (const event of room.events) expect(sessionEventSchema.parse(event)).toEqual(event);
    expect(sessionStateSchema.parse(room.state)).toEqual(room.state);
    expect(
      serverMessageSchema.safeParse({ type: 'snapshot', seq: room.state.seq, state: room.state, recovered: false })
        .success,
    ).toBe(true);
  });

  it('has one event schema per event kind', () => {
    for (const kind of EVENT_KINDS) expect(eventBodySchemas[kind].shape.kind.value).toBe(kind);
  });
});

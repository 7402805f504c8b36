import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { AUDIENCE, canSee, projectState } from '../../shared/audience.js';
import type { CommandInput, SystemCommand } from '../../shared/commands.js';
import { EVENT_KINDS, type EventKind, type SessionEvent } from '../../shared/events.js';
import type { SessionState } from '../../shared/model.js';
import { CREW_ROLES, ROLES, type Actor, type CrewRole, type Role } from '../../shared/roles.js';
import { foldEvents } from '../../server/domain/index.js';
import { Room, cohost, host, ingest, observer, ops, system, tech } from './domain-harness.js';

/*
 * The audience table written out by hand from the product brief, one cell per role and
 * event kind (before the per-event refinements tested further down).
 */
const COLUMNS = ['host', 'cohost', 'tech', 'ops', 'observer', 'ingest'] as const satisfies readonly Role[];
const _ = false;
const X = true;

// prettier-ignore
const EXPECTED: Record<EventKind, readonly [host: boolean, cohost: boolean, tech: boolean, ops: boolean, observer: boolean, ingest: boolean]> = {
  //                                host cohost tech ops observer ingest
  'session.created':                [X,   X,     X,   X,  X,       _],
  'session.status_changed':         [X,   X,     X,   X,  X,       _],
  'session.checklist_item_added':   [X,   X,     X,   X,  X,       _],
  'session.checklist_item_checked': [X,   X,     X,   X,  X,       _],
  'session.target_bitrate_set':     [_,   _,     X,   X,  X,       _],

  'incident.raised':                [X,   _,     X,   X,  X,       _],
  'incident.recurred':              [X,   _,     X,   X,  X,       _],
  'incident.acknowledged':          [X,   _,     X,   X,  X,       _],
  'incident.assigned':              [X,   _,     X,   X,  X,       _],
  'incident.note_added':            [X,   _,     X,   X,  X,       _],
  'incident.severity_changed':      [X,   _,     X,   X,  X,       _],
  'incident.pushed_to_host':        [X,   _,     X,   X,  X,       _],
  'incident.resolved':              [X,   _,     X,   X,  X,       _],
  'incident.reopened':              [X,   _,     X,   X,  X,       _],
  'incident.signal_changed':        [X,   _,     X,   X,  X,       _],

  'lineup.set':                     [X,   X,     _,   X,  X,       _],
  'product.switched':               [X,   X,     _,   X,  X,       _],
  'product.price_changed':          [X,   X,     _,   X,  X,       _],
  'product.stock_changed':          [X,   X,     _,   X,  X,       _],
  'product.sold_out':               [X,   X,     _,   X,  X,       _],

  'question.submitted':             [X,   X,     _,   X,  X,       _],
  'question.upvoted':               [X,   X,     _,   X,  X,       _],
  'question.flagged':               [X,   X,     _,   X,  X,       _],
  'question.pinned':                [X,   X,     _,   X,  X,       _],
  'question.prioritized':           [X,   X,     _,   X,  X,       _],
  'question.answered':              [X,   X,     _,   X,  X,       _],
  'question.dismissed':             [X,   X,     _,   X,  X,       _],
  'question.restored':              [X,   X,     _,   X,  X,       _],

  'cue.sent':                       [X,   X,     X,   X,  X,       _],
  'cue.acknowledged':               [X,   X,     X,   X,  X,       _],

  'health.sampled':                 [_,   _,     X,   X,  X,       _],
  'health.rules_set':               [_,   _,     X,   X,  X,       _],

  'presence.joined':                [_,   _,     _,   X,  X,       _],
  'presence.changed':               [_,   _,     _,   X,  X,       _],
  'presence.left':                  [_,   _,     _,   X,  X,       _],
};

describe('audience table', () => {
  const cells = EVENT_KINDS.flatMap((kind) =>
    COLUMNS.map((role, column) => ({ role, kind, receives: EXPECTED[kind][column] })),
  );

  it('covers every role and every event kind, nothing more', () => {
    expect([...COLUMNS].sort()).toEqual([...ROLES].sort());
    expect(Object.keys(EXPECTED).sort()).toEqual([...EVENT_KINDS].sort());
    expect(Object.keys(AUDIENCE).sort()).toEqual([...EVENT_KINDS].sort());
  });

  it.each(cells)('$role ← $kind: $receives', ({ role, kind, receives }) => {
    expect(AUDIENCE[kind].includes(role)).toBe(receives);
  });
});

/** Who among the crew receives an event, in a stable order. */
const receivers = (event: SessionEvent) => ROLES.filter((role) => canSee(role, event));
const last = (room: Room) => room.events.at(-1)!;

describe('refinements for the host', () => {
  const live = () => new Room().goLive();
  const raise = (incidentId: string, severity: 'sev1' | 'sev2' | 'sev3', pushToHost = false): CommandInput => ({
    kind: 'incident.raise',
    incidentId,
    severity,
    category: 'video',
    title: 'Frozen picture',
    pushToHost,
  });

  it('sees sev1 incidents and not the others', () => {
    const room = live();
    room.ok(tech, raise('i1', 'sev1'));
    expect(receivers(last(room))).toEqual(['host', 'tech', 'ops', 'observer']);
    room.ok(tech, raise('i2', 'sev2'));
    expect(receivers(last(room))).toEqual(['tech', 'ops', 'observer']);
    room.ok(tech, { kind: 'incident.acknowledge', incidentId: 'i2' });
    expect(canSee('host', last(room))).toBe(false);
  });

  it('sees an incident once pushed to it, and everything about it while it is', () => {
    const room = live();
    room.ok(tech, raise('i1', 'sev3'));
    room.ok(ops, { kind: 'incident.push_to_host', incidentId: 'i1' });
    expect(canSee('host', last(room))).toBe(true);
    room.ok(tech, { kind: 'incident.add_note', incidentId: 'i1', text: 'Encoder restarting' });
    expect(canSee('host', last(room))).toBe(true);
    room.ok(tech, raise('i2', 'sev3', true));
    expect(canSee('host', last(room))).toBe(true);
  });

  it('sees the de-escalation that takes an incident off its screen, then nothing more about it', () => {
    const room = live();
    room.ok(tech, raise('i1', 'sev1'));
    room.ok(ops, { kind: 'incident.set_severity', incidentId: 'i1', severity: 'sev2' });
    expect(canSee('host', last(room))).toBe(true);
    room.ok(tech, { kind: 'incident.resolve', incidentId: 'i1' });
    expect(canSee('host', last(room))).toBe(false);
  });

  it('sees the un-push that takes an incident off its screen', () => {
    const room = live();
    room.ok(tech, raise('i1', 'sev2', true));
    room.ok(ops, { kind: 'incident.push_to_host', incidentId: 'i1', pushed: false });
    expect(canSee('host', last(room))).toBe(true);
  });

  it('sees flagged questions, and the answer or dismissal of a flagged one, never new ones', () => {
    const room = live();
    room.ok(ingest, { kind: 'question.submit', questionId: 'q1', text: 'Price?', author: 'v1' });
    expect(receivers(last(room))).toEqual(['cohost', 'ops', 'observer']);
    room.ok(ingest, { kind: 'question.upvote', questionId: 'q1', voter: 'v2' });
    expect(canSee('host', last(room))).toBe(false);
    room.ok(cohost, { kind: 'question.flag', questionId: 'q1' });
    expect(receivers(last(room))).toEqual(['host', 'cohost', 'ops', 'observer']);
    room.ok(ingest, { kind: 'question.upvote', questionId: 'q1', voter: 'v3' });
    expect(canSee('host', last(room))).toBe(true);
    room.ok(host, { kind: 'question.answer', questionId: 'q1' });
    expect(canSee('host', last(room))).toBe(true);

    room.ok(ingest, { kind: 'question.submit', questionId: 'q2', text: 'Colour?', author: 'v1' });
    room.ok(cohost, { kind: 'question.flag', questionId: 'q2' });
    room.ok(cohost, { kind: 'question.dismiss', questionId: 'q2' });
    expect(canSee('host', last(room))).toBe(true);
    room.ok(cohost, { kind: 'question.restore', questionId: 'q2' });
    expect(canSee('host', last(room))).toBe(false);

    room.ok(ingest, { kind: 'question.submit', questionId: 'q3', text: 'Shipping?', author: 'v4' });
    room.ok(cohost, { kind: 'question.answer', questionId: 'q3' });
    expect(canSee('host', last(room))).toBe(false);
  });
});

describe('cues', () => {
  it('reach the addressed roles, the sender role, ops and observers only', () => {
    const room = new Room().goLive();
    room.ok(cohost, { kind: 'cue.send', cueId: 'c1', to: ['host'], text: 'Show the lid' });
    expect(receivers(last(room))).toEqual(['host', 'cohost', 'ops', 'observer']);
    room.ok(host, { kind: 'cue.acknowledge', cueId: 'c1' });
    expect(receivers(last(room))).toEqual(['host', 'cohost', 'ops', 'observer']);
    room.ok(ops, { kind: 'cue.send', cueId: 'c2', to: ['tech'], text: 'Check audio levels' });
    expect(receivers(last(room))).toEqual(['tech', 'ops', 'observer']);
  });
});

function signalBreach(dedupeKey: string): Extract<SystemCommand, { kind: 'signal.breach' }> {
  return {
    kind: 'signal.breach',
    dedupeKey,
    severity: 'sev1',
    category: 'encoder',
    title: 'Stream down',
    detail: 'No sample for 15 s',
    signal: {
      rule: 'watchdog',
      breaching: true,
      since: 1,
      clearedAt: null,
      sample: null,
      context: { productId: null, productName: null, viewers: null, techOnDuty: [] },
    },
  };
}

/** A session that goes through every event kind, with things both seen and hidden for the host. */
function scriptedSession(): Room {
  const room = new Room();
  room.ok(system, { kind: 'presence.open', personId: 'u-ops', name: 'Olga', role: 'ops', consoleId: 'o1' });
  room.ok(system, { kind: 'presence.open', personId: 'u-host', name: 'Hana', role: 'host', consoleId: 'h1' });
  room.ok(system, { kind: 'presence.open', personId: 'u-host', name: 'Hana', role: 'host', consoleId: 'h2' });
  room.ok(ops, { kind: 'session.add_checklist_item', itemId: 'lights', label: 'Key light' });
  room.ok(ops, { kind: 'session.start_preflight' });
  room.ok(tech, { kind: 'session.set_target_bitrate', targetBitrateKbps: 4000 });
  room.ok(tech, { kind: 'health.sample', sample: { ts: 1, bitrateKbps: 3900, fps: 30, droppedFrames: 0 } });
  room.ok(tech, { kind: 'session.check_item', itemId: 'camera' });
  room.ok(host, { kind: 'session.check_item', itemId: 'audio' });
  room.ok(ops, { kind: 'cue.send', cueId: 'cue-pre', to: ['tech'], text: 'Sound check' });
  room.lineup();
  room.ok(ops, { kind: 'session.go_live', override: true, reason: 'Crew joins late' });

  room.ok(cohost, { kind: 'product.switch', productId: 'p1' });
  room.ok(ops, { kind: 'product.set_price', productId: 'p1', price: 3900 });
  room.ok(ingest, { kind: 'product.set_stock', productId: 'p2', stock: 0 });
  room.ok(cohost, { kind: 'product.switch', productId: 'p2' });

  room.ok(ingest, { kind: 'question.submit', questionId: 'q1', text: 'Warranty?', author: 'v1', externalId: 'm1' });
  room.ok(ingest, { kind: 'question.submit', questionId: 'q2', text: 'Colours?', author: 'v2' });
  room.ok(ingest, { kind: 'question.submit', questionId: 'q3', text: 'Shipping?', author: 'v3' });
  room.ok(ingest, { kind: 'question.submit', questionId: 'q4', text: 'Discount?', author: 'v4' });
  room.ok(ingest, { kind: 'question.upvote', questionId: 'q1', voter: 'v9' });
  room.ok(cohost, { kind: 'question.flag', questionId: 'q1' });
  room.ok(cohost, { kind: 'question.flag', questionId: 'q2' });
  room.ok(cohost, { kind: 'question.flag', questionId: 'q4' });
  room.ok(cohost, { kind: 'question.pin', questionId: 'q1' });
  room.ok(ops, { kind: 'question.set_priority', questionId: 'q2', priority: 2 });
  room.ok(host, { kind: 'question.answer', questionId: 'q1' });
  room.ok(cohost, { kind: 'question.dismiss', questionId: 'q2' });
  room.ok(cohost, { kind: 'question.restore', questionId: 'q2' });
  room.ok(cohost, { kind: 'question.answer', questionId: 'q3' });

  room.ok(tech, {
    kind: 'incident.raise',
    incidentId: 'i1',
    severity: 'sev1',
    category: 'video',
    title: 'Black screen',
  });
  room.ok(tech, { kind: 'incident.acknowledge', incidentId: 'i1' });
  room.ok(ops, { kind: 'incident.set_severity', incidentId: 'i1', severity: 'sev2' });
  room.ok(tech, { kind: 'incident.add_note', incidentId: 'i1', text: 'Only one CDN region' });
  room.ok(tech, { kind: 'incident.raise', incidentId: 'i2', severity: 'sev3', category: 'audio', title: 'Echo' });
  room.ok(ops, { kind: 'incident.push_to_host', incidentId: 'i2' });
  room.ok(tech, { kind: 'incident.assign', incidentId: 'i2', assignee: 'Tariq' });
  const bitrate = {
    kind: 'incident.raise',
    severity: 'sev2',
    category: 'network',
    title: 'Low bitrate',
    dedupeKey: 'bitrate',
  } as const;
  room.ok(ingest, bitrate, 'auto-1');
  room.ok(ingest, { ...bitrate, severity: 'sev1' }, 'auto-2');
  room.ok(tech, { kind: 'incident.resolve', incidentId: 'auto-1' });
  room.ok(tech, { kind: 'incident.reopen', incidentId: 'auto-1' });
  room.ok(ops, { kind: 'incident.set_severity', incidentId: 'auto-1', severity: 'sev3' });
  room.ok(ops, { kind: 'health.set_rules', rules: { fps: { floor: 24 } } });
  room.ok(system, signalBreach('health:watchdog'), 'sig-1');
  room.ok(system, { kind: 'signal.clear', dedupeKey: 'health:watchdog', rule: 'watchdog' });
  room.ok(system, signalBreach('health:watchdog'));
  room.ok(system, { kind: 'signal.clear', dedupeKey: 'health:watchdog', rule: 'watchdog' });
  room.ok(system, { kind: 'signal.resolve', dedupeKey: 'health:watchdog', rule: 'watchdog', resolution: 'good again' });

  room.ok(cohost, { kind: 'cue.send', cueId: 'cue-1', to: ['host'], text: 'Wrap up product 1' });
  room.ok(host, { kind: 'cue.acknowledge', cueId: 'cue-1' });
  room.ok(ops, { kind: 'cue.send', cueId: 'cue-2', to: ['tech', 'cohost'], text: 'Stand by' });
  room.ok(tech, { kind: 'cue.acknowledge', cueId: 'cue-2' });
  room.ok(tech, { kind: 'health.sample', sample: { ts: 2, bitrateKbps: 1200, fps: 24, droppedFrames: 40 } });
  room.ok(system, { kind: 'presence.close', personId: 'u-host', consoleId: 'h1' });
  room.ok(system, { kind: 'presence.close', personId: 'u-ops', consoleId: 'o1' });
  room.ok(ops, { kind: 'lineup.set', products: [{ id: 'p1', name: 'Kettle', price: 3900, stock: 9 }] });
  room.ok(ops, { kind: 'session.end' });
  return room;
}

/**
 * The state a console of `role` builds from the events it receives, in the terms of the
 * snapshot. Two adjustments, both by design:
 * - `seq`: the snapshot carries the session's seq, the fold the last seq the role saw; the
 *   `events` frames carry the session seq separately, so it is left out here.
 * - host: the event that takes an incident or question off the host's screen (a
 *   de-escalation, an answer) carries the entity in its new, hidden state, and a plain fold
 *   keeps it. The host console drops what is no longer for it, exactly as `projectState`
 *   leaves it out; so the fold is compared after the same visibility rule.
 */
function seenByFold(events: readonly SessionEvent[], role: CrewRole): Omit<SessionState, 'seq'> {
  const { seq: _seq, ...folded } = projectState(foldEvents(events.filter((event) => canSee(role, event))), role);
  return folded;
}
function snapshotFor(state: SessionState, role: CrewRole): Omit<SessionState, 'seq'> {
  const { seq: _seq, ...projected } = projectState(state, role);
  return projected;
}

describe('snapshots agree with live events', () => {
  const room = scriptedSession();

  it('the scripted session produces every event kind', () => {
    expect(new Set(room.events.map((e) => e.kind))).toEqual(new Set(EVENT_KINDS));
  });

  it('ingest receives none of it', () => {
    expect(room.events.filter((e) => canSee('ingest', e))).toEqual([]);
  });

  it.each(CREW_ROLES)('projectState(state, %s) is what folding the events it receives gives', (role) => {
    expect(snapshotFor(room.state, role)).toEqual(seenByFold(room.events, role));
  });

  it.each(CREW_ROLES.filter((r) => r !== 'host'))(
    'for %s the plain fold of its events is the snapshot, no adjustment needed',
    (role) => {
      const { seq: _seq, ...folded } = foldEvents(room.events.filter((event) => canSee(role, event)));
      expect(snapshotFor(room.state, role)).toEqual(folded);
    },
  );

  it('the host adjustment only ever drops entities it was told left its screen', () => {
    const folded = foldEvents(room.events.filter((event) => canSee('host', event)));
    const shown = projectState(room.state, 'host');
    const dropped = [
      ...Object.keys(folded.questions).filter((id) => !(id in shown.questions)),
      ...Object.keys(folded.incidents).filter((id) => !(id in shown.incidents)),
    ].sort();
    // q1 answered and q2 dismissed after being flagged; i1 and auto-1 de-escalated from sev1.
    expect(dropped).toEqual(['auto-1', 'i1', 'q1', 'q2']);
    expect(shown.questions.q4?.status).toBe('flagged');
    // sig-1 is a sev1 the health rules raised: the host keeps it, resolved.
    expect(Object.keys(shown.incidents)).toEqual(['i2', 'sig-1']);
  });

  it('observers and ops see the whole state', () => {
    expect(projectState(room.state, 'observer')).toEqual(room.state);
    expect(projectState(room.state, 'ops')).toEqual(room.state);
  });
});

describe('snapshots agree with live events for any sequence of commands', () => {
  const ids = { q: ['q1', 'q2', 'q3'], i: ['i1', 'i2'], p: ['p1', 'p2', 'p3'], c: ['c1', 'c2'] } as const;
  const actors = [host, cohost, tech, ops, observer, ingest] as const;
  const crewRoles = ['host', 'cohost', 'tech', 'ops'] as const;
  const severity = fc.constantFrom('sev1', 'sev2', 'sev3' as const);
  const q = fc.constantFrom(...ids.q);
  const i = fc.constantFrom(...ids.i);
  const p = fc.constantFrom(...ids.p);
  const c = fc.constantFrom(...ids.c);

  const lifecycle: fc.Arbitrary<CommandInput> = fc.constantFrom(
    { kind: 'session.start_preflight' } as const,
    { kind: 'session.go_live', override: true, reason: 'test' } as const,
    { kind: 'session.end' } as const,
  );
  const command: fc.Arbitrary<CommandInput | SystemCommand> = fc.oneof(
    { arbitrary: lifecycle, weight: 1 },
    fc.record({
      kind: fc.constant('session.add_checklist_item' as const),
      itemId: fc.constantFrom('x1', 'x2'),
      label: fc.constant('Extra'),
    }),
    fc.record({
      kind: fc.constant('session.check_item' as const),
      itemId: fc.constantFrom('camera', 'audio', 'x1'),
      checked: fc.boolean(),
    }),
    fc.record({
      kind: fc.constant('session.set_target_bitrate' as const),
      targetBitrateKbps: fc.constantFrom(3000, 4000),
    }),
    fc.record({
      kind: fc.constant('question.submit' as const),
      questionId: q,
      text: fc.constant('Why?'),
      author: fc.constant('v'),
    }),
    fc.record({ kind: fc.constant('question.upvote' as const), questionId: q, voter: fc.constantFrom('a', 'b') }),
    {
      arbitrary: fc.record({
        kind: fc.constantFrom('question.flag', 'question.answer', 'question.dismiss', 'question.restore' as const),
        questionId: q,
      }),
      weight: 4,
    },
    fc.record({ kind: fc.constant('question.pin' as const), questionId: q, pinned: fc.boolean() }),
    fc.record({
      kind: fc.constant('question.set_priority' as const),
      questionId: q,
      priority: fc.integer({ min: 0, max: 3 }),
    }),
    fc.record({
      kind: fc.constant('incident.raise' as const),
      incidentId: i,
      severity,
      category: fc.constant('video' as const),
      title: fc.constant('x'),
      pushToHost: fc.boolean(),
    }),
    fc.record({
      kind: fc.constant('incident.raise' as const),
      severity,
      category: fc.constant('network' as const),
      title: fc.constant('auto'),
      dedupeKey: fc.constant('k'),
    }),
    {
      arbitrary: fc.record({ kind: fc.constant('incident.set_severity' as const), incidentId: i, severity }),
      weight: 2,
    },
    {
      arbitrary: fc.record({
        kind: fc.constant('incident.push_to_host' as const),
        incidentId: i,
        pushed: fc.boolean(),
      }),
      weight: 2,
    },
    {
      arbitrary: fc.record({
        kind: fc.constantFrom('incident.acknowledge', 'incident.resolve', 'incident.reopen' as const),
        incidentId: i,
      }),
      weight: 3,
    },
    fc.record({ kind: fc.constant('incident.add_note' as const), incidentId: i, text: fc.constant('note') }),
    fc.record({
      kind: fc.constant('incident.assign' as const),
      incidentId: i,
      assignee: fc.constantFrom('Tariq', null),
    }),
    fc.record({
      kind: fc.constant('lineup.set' as const),
      products: fc.subarray(ids.p.map((id) => ({ id, name: id, price: 100, stock: 2 }))),
    }),
    { arbitrary: fc.record({ kind: fc.constant('product.switch' as const), productId: p }), weight: 2 },
    fc.record({ kind: fc.constant('product.set_price' as const), productId: p, price: fc.constantFrom(100, 200) }),
    fc.record({ kind: fc.constant('product.set_stock' as const), productId: p, stock: fc.integer({ min: 0, max: 2 }) }),
    fc.record({
      kind: fc.constant('cue.send' as const),
      cueId: c,
      to: fc.subarray([...crewRoles], { minLength: 1 }),
      text: fc.constant('go'),
    }),
    { arbitrary: fc.record({ kind: fc.constant('cue.acknowledge' as const), cueId: c }), weight: 2 },
    fc.record({
      kind: fc.constant('health.sample' as const),
      sample: fc.constant({ ts: 1, bitrateKbps: 1, fps: 1, droppedFrames: 0 }),
    }),
    // Health rules and signals on one key, so that breach, clear and resolve meet often enough.
    {
      arbitrary: fc.oneof(
        fc.constantFrom<CommandInput>({ kind: 'health.set_rules', rules: { fps: { floor: 10 } } }),
        fc.constant<SystemCommand>({ ...signalBreach('k1'), severity: 'sev2' }),
        fc.constant<SystemCommand>({ kind: 'signal.clear', dedupeKey: 'k1', rule: 'watchdog' }),
        fc.constant<SystemCommand>({ kind: 'signal.resolve', dedupeKey: 'k1', rule: 'watchdog', resolution: 'ok' }),
      ),
      weight: 3,
    },
    fc.record({
      kind: fc.constant('presence.open' as const),
      personId: fc.constantFrom('u1', 'u2'),
      name: fc.constant('N'),
      role: fc.constantFrom(...crewRoles),
      consoleId: fc.constantFrom('k1', 'k2'),
    }),
    fc.record({
      kind: fc.constant('presence.close' as const),
      personId: fc.constantFrom('u1', 'u2'),
      consoleId: fc.constantFrom('k1', 'k2'),
    }),
  );
  const step = fc.tuple(fc.constantFrom(...actors), command);

  it('holds for every crew role', () => {
    const kindsSeen = new Set<EventKind>();
    fc.assert(
      fc.property(
        fc.constantFrom('scheduled', 'preflight', 'live'),
        fc.array(step, { maxLength: 80, size: 'max' }),
        (start, steps) => {
          const room = new Room();
          if (start !== 'scheduled') room.ok(ops, { kind: 'session.start_preflight' });
          if (start === 'live') room.goLive().lineup();
          for (const [actor, input] of steps)
            room.run(
              input.kind.startsWith('presence.') || input.kind.startsWith('signal.') ? system : (actor as Actor),
              input,
            );
          for (const role of CREW_ROLES) {
            expect(snapshotFor(room.state, role)).toEqual(seenByFold(room.events, role));
            if (role === 'host') continue;
            const { seq: _seq, ...folded } = foldEvents(room.events.filter((event) => canSee(role, event)));
            expect(snapshotFor(room.state, role)).toEqual(folded);
          }
          for (const event of room.events) kindsSeen.add(event.kind);
        },
      ),
      // A fixed seed keeps the coverage check below reproducible; FC_SEED overrides it to explore.
      { numRuns: 300, seed: Number(process.env.FC_SEED ?? 20261123) },
    );
    // The generator is only worth something if it reaches (nearly) every event kind.
    expect(EVENT_KINDS.filter((kind) => !kindsSeen.has(kind))).toEqual([]);
  });
});

import { describe, expect, it } from 'vitest';
import type { SessionEvent } from '../../shared/events.js';
import {
  DEFAULT_CHECKLIST,
  createSessionEvent,
  evolve,
  foldEvents,
  initialState,
  stamp,
} from '../../server/domain/index.js';
import { Room, T0, cohost, expectReplayMatches, host, ingest, ops, system, tech } from './domain-harness.js';

describe('session creation', () => {
  it('starts scheduled with the default preflight checklist, nothing checked', () => {
    const room = new Room();
    expect(room.state).toMatchObject({
      id: 's-test',
      title: 'Spring launch',
      status: 'scheduled',
      seq: 1,
      createdAt: T0,
      scheduledFor: T0 + 3_600_000,
      preflightAt: null,
      liveAt: null,
      endedAt: null,
      lineup: [],
      currentProductId: null,
      questionCount: 0,
    });
    expect(room.state.checklist.map((item) => item.label)).toEqual([
      'Camera',
      'Audio',
      'Network',
      'Lineup loaded',
      'Crew present',
    ]);
    expect(room.state.checklist.every((item) => !item.checked && item.checkedBy === null)).toBe(true);
  });

  it('takes a checklist of its own', () => {
    const room = new Room({ checklist: [{ id: 'mic', label: 'Lavalier mic' }] });
    expect(room.state.checklist).toEqual([
      { id: 'mic', label: 'Lavalier mic', checked: false, checkedBy: null, checkedAt: null },
    ]);
  });

  it('default checklist is the one the product names', () => {
    expect(createSessionEvent({ sessionId: 's', title: 't', scheduledFor: null }).checklist).toHaveLength(
      DEFAULT_CHECKLIST.length,
    );
  });
});

describe('lifecycle', () => {
  it('moves scheduled → preflight → live → ended and records when', () => {
    const room = new Room();
    const preflight = room.one(ops, { kind: 'session.start_preflight' });
    expect(preflight).toMatchObject({ kind: 'session.status_changed', from: 'scheduled', to: 'preflight' });
    expect(room.state.preflightAt).toBe(preflight.at);

    room.goLive();
    expect(room.state.status).toBe('live');
    expect(room.state.liveAt).toBe(room.now);

    const end = room.one(ops, { kind: 'session.end' });
    expect(end).toMatchObject({ from: 'live', to: 'ended', override: false, uncheckedItems: [], reason: null });
    expect(room.state).toMatchObject({ status: 'ended', endedAt: end.at });
    expect(room.events.map((e) => e.seq)).toEqual(room.events.map((_, i) => i + 1));
    expectReplayMatches(room);
  });

  it('never moves backwards, and says where the session is', () => {
    const room = new Room();
    expect(room.refused(ops, { kind: 'session.go_live' })).toMatchObject({
      code: 'session_not_live',
      message: expect.stringMatching(/still scheduled; start preflight/),
    });
    room.goLive();
    expect(room.refused(ops, { kind: 'session.start_preflight' })).toMatchObject({
      code: 'session_not_live',
      message: 'The session is live; preflight can only start from scheduled.',
    });
    expect(room.refused(ops, { kind: 'session.go_live' }).code).toBe('session_not_live');
    room.ok(ops, { kind: 'session.end' });
    expect(room.refused(ops, { kind: 'session.end' }).message).toBe('The session has already ended.');
  });

  it('refuses the work of the show before it is live with a message a person can act on', () => {
    const room = new Room();
    room.ok(ops, { kind: 'session.start_preflight' });
    expect(
      room.refused(ingest, { kind: 'question.submit', text: 'Is it dishwasher safe?', author: 'viewer1' }),
    ).toMatchObject({
      code: 'session_not_live',
      message: 'The session is in preflight; questions open when it goes live.',
    });
    expect(room.refused(cohost, { kind: 'product.switch', productId: 'p1' }).message).toBe(
      'The session is in preflight; product switches open when it goes live.',
    );
  });

  it('refuses incidents before preflight', () => {
    const room = new Room();
    expect(
      room.refused(tech, { kind: 'incident.raise', severity: 'sev2', category: 'audio', title: 'Hum on mic' }).message,
    ).toBe('The session is scheduled and has not started preflight; incidents open when it starts preflight.');
  });

  it('is read-only once ended, except presence', () => {
    const room = new Room().goLive();
    room.ok(ops, { kind: 'session.end' });
    const error = room.refused(ingest, { kind: 'question.submit', text: 'Still there?', author: 'late' });
    expect(error).toMatchObject({ code: 'session_not_live', message: expect.stringMatching(/has ended/) });
    expect(room.refused(ops, { kind: 'lineup.set', products: [] }).code).toBe('session_not_live');
    expect(room.refused(ops, { kind: 'session.set_target_bitrate', targetBitrateKbps: 3000 }).code).toBe(
      'session_not_live',
    );
    room.ok(system, { kind: 'presence.open', personId: 'u-obs', name: 'Omar', role: 'observer', consoleId: 'c1' });
    room.ok(system, { kind: 'presence.close', personId: 'u-obs', consoleId: 'c1' });
  });
});

describe('preflight checklist', () => {
  it('records who checked an item and when', () => {
    const room = new Room();
    room.ok(ops, { kind: 'session.start_preflight' });
    const event = room.one(tech, { kind: 'session.check_item', itemId: 'audio' });
    expect(event).toMatchObject({
      kind: 'session.checklist_item_checked',
      item: { id: 'audio', label: 'Audio', checked: true, checkedBy: 'Tariq', checkedAt: room.now },
    });
    expect(room.state.checklist.find((i) => i.id === 'audio')).toEqual(
      expect.objectContaining({ checked: true, checkedBy: 'Tariq' }),
    );
  });

  it('can be worked on before preflight, and not once live', () => {
    const room = new Room();
    room.ok(host, { kind: 'session.check_item', itemId: 'camera' });
    room.goLive();
    expect(room.refused(host, { kind: 'session.check_item', itemId: 'camera', checked: false }).message).toBe(
      'The session is live; checklist changes are only accepted while it is scheduled or preflight.',
    );
  });

  it('refuses checking twice, and unchecking clears who checked', () => {
    const room = new Room();
    room.ok(tech, { kind: 'session.check_item', itemId: 'network' });
    expect(room.refused(host, { kind: 'session.check_item', itemId: 'network' })).toMatchObject({
      code: 'conflict',
      message: '"Network" is already checked by Tariq.',
    });
    const event = room.one(ops, { kind: 'session.check_item', itemId: 'network', checked: false });
    expect(event).toMatchObject({ item: { checked: false, checkedBy: null, checkedAt: null } });
    expect(room.refused(ops, { kind: 'session.check_item', itemId: 'network', checked: false }).code).toBe('conflict');
  });

  it('names a missing item', () => {
    const room = new Room();
    expect(room.refused(tech, { kind: 'session.check_item', itemId: 'lights' })).toMatchObject({
      code: 'not_found',
      message: expect.stringContaining("'lights'"),
    });
  });

  it('takes extra items, once each', () => {
    const room = new Room();
    room.ok(ops, { kind: 'session.add_checklist_item', itemId: 'lights', label: 'Key light on' });
    expect(room.state.checklist.at(-1)).toEqual({
      id: 'lights',
      label: 'Key light on',
      checked: false,
      checkedBy: null,
      checkedAt: null,
    });
    expect(room.refused(ops, { kind: 'session.add_checklist_item', itemId: 'lights', label: 'Again' }).code).toBe(
      'conflict',
    );
  });
});

describe('going live with unchecked items', () => {
  const preflightWithTwoLeft = () => {
    const room = new Room();
    room.ok(ops, { kind: 'session.start_preflight' });
    for (const id of ['camera', 'audio', 'lineup']) room.ok(tech, { kind: 'session.check_item', itemId: id });
    return room;
  };

  it('is refused without an override, naming the unchecked items', () => {
    const room = preflightWithTwoLeft();
    const error = room.refused(ops, { kind: 'session.go_live' });
    expect(error.code).toBe('conflict');
    expect(error.message).toContain('2 checklist items are not checked');
    expect(error.message).toContain('"Network"');
    expect(error.message).toContain('"Crew present"');
    expect(room.state.status).toBe('preflight');
  });

  it('is refused with an override but no reason (blank counts as none)', () => {
    const room = preflightWithTwoLeft();
    expect(room.refused(ops, { kind: 'session.go_live', override: true }).message).toMatch(/override needs a reason/);
    expect(room.refused(ops, { kind: 'session.go_live', override: true, reason: '   ' }).code).toBe('conflict');
  });

  it('is accepted with an override and a reason, which the event records for the audit', () => {
    const room = preflightWithTwoLeft();
    const event = room.one(ops, { kind: 'session.go_live', override: true, reason: 'Backup crew on the way' });
    expect(event).toMatchObject({
      kind: 'session.status_changed',
      from: 'preflight',
      to: 'live',
      override: true,
      uncheckedItems: ['network', 'crew'],
      reason: 'Backup crew on the way',
    });
    expect(room.state.status).toBe('live');
  });

  it('records no override when everything was checked', () => {
    const room = new Room().goLive();
    expect(room.events.at(-1)).toMatchObject({ to: 'live', override: false, uncheckedItems: [] });
  });
});

describe('target bitrate', () => {
  it('is kept with the health section', () => {
    const room = new Room();
    room.one(tech, { kind: 'session.set_target_bitrate', targetBitrateKbps: 4500 });
    expect(room.state.health.targetBitrateKbps).toBe(4500);
  });
});

describe('stamp, evolve and fold', () => {
  it('stamps consecutive seqs after the given one with one envelope', () => {
    const bodies = [
      { kind: 'session.target_bitrate_set', targetBitrateKbps: 1 },
      { kind: 'session.target_bitrate_set', targetBitrateKbps: 2 },
    ] as const;
    const events = stamp([...bodies], 41, { now: 5, commandId: 'c-1' }, ops);
    expect(events).toEqual([
      { ...bodies[0], seq: 42, at: 5, commandId: 'c-1', actor: ops },
      { ...bodies[1], seq: 43, at: 5, commandId: 'c-1', actor: ops },
    ]);
  });

  it('evolve advances seq to the event, and foldEvents continues from a given state', () => {
    const room = new Room().goLive().lineup();
    const half = Math.floor(room.events.length / 2);
    const partial = foldEvents(room.events.slice(0, half));
    expect(partial.seq).toBe(half);
    expect(foldEvents(room.events.slice(half), partial)).toEqual(room.state);
  });

  it('folding never changes the events it reads (a memory store keeps them and replays them later)', () => {
    const room = new Room();
    room.ok(ops, { kind: 'session.add_checklist_item', itemId: 'lights', label: 'Key light' });
    room.ok(tech, { kind: 'session.check_item', itemId: 'camera' });
    room.lineup().goLive();
    room.ok(ops, { kind: 'product.set_price', productId: 'p1', price: 100 });
    room.ok(cohost, { kind: 'product.switch', productId: 'p2' });
    const frozen = room.events.map((event) => deepFreeze(structuredClone(event)));
    expect(foldEvents(frozen)).toEqual(room.state);
  });

  it('initialState is empty and scheduled', () => {
    expect(initialState('s-1')).toMatchObject({ id: 's-1', status: 'scheduled', seq: 0, createdAt: 0 });
  });

  it('evolve rejects an event kind it does not know instead of silently skipping it', () => {
    const bogus = { kind: 'session.renamed', seq: 1, at: 0, commandId: 'x', actor: ops } as unknown as SessionEvent;
    expect(() => evolve(initialState('s'), bogus)).toThrow(/session.renamed/);
  });
});

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object') {
    for (const inner of Object.values(value)) deepFreeze(inner);
    Object.freeze(value);
  }
  return value;
}

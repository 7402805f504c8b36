import { describe, expect, it } from 'vitest';
import { Room, expectReplayMatches, ops, system } from './domain-harness.js';

describe('presence', () => {
  const open = (consoleId: string) =>
    ({ kind: 'presence.open', personId: 'u-tech', name: 'Tariq', role: 'tech', consoleId }) as const;
  const close = (consoleId: string) => ({ kind: 'presence.close', personId: 'u-tech', consoleId }) as const;

  it('is one entry per person, whatever the number of consoles', () => {
    const room = new Room();
    const joined = room.one(system, open('c1'));
    expect(joined).toMatchObject({ kind: 'presence.joined', entry: { consoles: ['c1'], since: room.now } });
    const since = room.now;

    expect(room.one(system, open('c2'))).toMatchObject({ kind: 'presence.changed', entry: { consoles: ['c1', 'c2'] } });
    expect(Object.keys(room.state.presence)).toEqual(['u-tech']);

    expect(room.one(system, close('c1'))).toMatchObject({
      kind: 'presence.changed',
      entry: { consoles: ['c2'], since },
    });
    expect(room.state.presence['u-tech']?.consoles).toEqual(['c2']);

    expect(room.one(system, close('c2'))).toMatchObject({
      kind: 'presence.left',
      entry: { personId: 'u-tech', consoles: [], since },
    });
    expect(room.state.presence).toEqual({});
    expectReplayMatches(room);
  });

  it('keeps people apart', () => {
    const room = new Room();
    room.ok(system, open('c1'));
    room.ok(system, { kind: 'presence.open', personId: 'u-host', name: 'Hana', role: 'host', consoleId: 'c9' });
    room.ok(system, close('c1'));
    expect(Object.keys(room.state.presence)).toEqual(['u-host']);
  });

  it('refuses closing a console that is not open, and opening one twice', () => {
    const room = new Room();
    expect(room.refused(system, close('c1')).code).toBe('conflict');
    room.ok(system, open('c1'));
    expect(room.refused(system, open('c1')).code).toBe('conflict');
    expect(room.refused(system, close('c2')).code).toBe('conflict');
  });

  it('works in every session status', () => {
    const room = new Room();
    room.ok(system, open('c1'));
    room.goLive();
    room.ok(ops, { kind: 'session.end' });
    room.ok(system, open('c2'));
    room.ok(system, close('c1'));
    room.ok(system, close('c2'));
    expect(room.state.presence).toEqual({});
  });
});

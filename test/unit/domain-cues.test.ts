import { describe, expect, it } from 'vitest';
import { Room, cohost, expectReplayMatches, host, ingest, ops, tech } from './domain-harness.js';

describe('cues', () => {
  const liveRoom = () => new Room().goLive();

  it('are sent by a crew member to roles, each role acknowledging once by name', () => {
    const room = liveRoom();
    const sent = room.one(
      ops,
      { kind: 'cue.send', to: ['host', 'tech', 'host'], text: 'Wrap up in 2 min' },
      'cmd-cue-1',
    );
    expect(sent).toMatchObject({
      kind: 'cue.sent',
      cue: { id: 'cmd-cue-1', to: ['host', 'tech'], from: 'Olga', fromRole: 'ops', acknowledgedAt: null },
    });

    const byHost = room.one(host, { kind: 'cue.acknowledge', cueId: 'cmd-cue-1' });
    expect(byHost).toMatchObject({ by: 'Hana', cue: { acknowledgedBy: { host: 'Hana' }, acknowledgedAt: null } });

    room.ok(tech, { kind: 'cue.acknowledge', cueId: 'cmd-cue-1' });
    expect(room.state.cues['cmd-cue-1']).toMatchObject({
      acknowledgedBy: { host: 'Hana', tech: 'Tariq' },
      acknowledgedAt: room.now,
    });
    expectReplayMatches(room);
  });

  it('refuses an acknowledgement from a role it is not addressed to', () => {
    const room = liveRoom();
    room.ok(cohost, { kind: 'cue.send', cueId: 'cue-1', to: ['host'], text: 'Switch to the teapot' });
    expect(room.refused(ops, { kind: 'cue.acknowledge', cueId: 'cue-1' })).toMatchObject({
      code: 'forbidden',
      message: 'This cue is addressed to host; only they can acknowledge it.',
    });
  });

  it('refuses a second acknowledgement for the same role', () => {
    const room = liveRoom();
    room.ok(cohost, { kind: 'cue.send', cueId: 'cue-1', to: ['host', 'tech'], text: 'Two minutes' });
    room.ok(host, { kind: 'cue.acknowledge', cueId: 'cue-1' });
    expect(room.refused(host, { kind: 'cue.acknowledge', cueId: 'cue-1' })).toMatchObject({
      code: 'conflict',
      message: 'This cue was already acknowledged for host by Hana.',
    });
  });

  it('refuses a reused cue id, a missing cue, and a sender outside the crew', () => {
    const room = liveRoom();
    room.ok(ops, { kind: 'cue.send', cueId: 'cue-1', to: ['host'], text: 'Smile' });
    expect(room.refused(ops, { kind: 'cue.send', cueId: 'cue-1', to: ['host'], text: 'Again' }).code).toBe('conflict');
    expect(room.refused(host, { kind: 'cue.acknowledge', cueId: 'cue-9' }).code).toBe('not_found');
    expect(room.refused(ingest, { kind: 'cue.send', to: ['host'], text: 'hi' }).code).toBe('forbidden');
  });

  it('can already be used in preflight', () => {
    const room = new Room();
    room.ok(ops, { kind: 'session.start_preflight' });
    room.ok(ops, { kind: 'cue.send', cueId: 'cue-1', to: ['tech'], text: 'Sound check' });
    expect(room.state.cues['cue-1']?.text).toBe('Sound check');
  });
});

import { describe, expect, it } from 'vitest';
import type { CommandInput } from '../../shared/commands.js';
import type { SessionEventOf } from '../../shared/events.js';
import { Room, cohost, expectReplayMatches, host, ingest, ops, tech } from './domain-harness.js';

type Raise = Extract<CommandInput, { kind: 'incident.raise' }>;
const raise = (fields: Partial<Raise> = {}): Raise => ({
  kind: 'incident.raise',
  severity: 'sev2',
  category: 'audio',
  title: 'Hum on the host mic',
  ...fields,
});

const livingRoom = () => new Room().goLive();

describe('raising incidents', () => {
  it('opens an incident named after the command id, raised by the actor', () => {
    const room = livingRoom();
    const event = room.one(cohost, raise(), 'cmd-raise-1');
    expect(event).toMatchObject({ kind: 'incident.raised', wasVisibleToHost: false });
    expect(room.state.incidents['cmd-raise-1']).toEqual({
      id: 'cmd-raise-1',
      severity: 'sev2',
      category: 'audio',
      title: 'Hum on the host mic',
      detail: '',
      status: 'open',
      raisedBy: 'Cody',
      assignee: null,
      dedupeKey: null,
      occurrences: 1,
      pushedToHost: false,
      raisedAt: room.now,
      acknowledgedAt: null,
      resolvedAt: null,
      reopenedAt: null,
      notes: [],
    });
  });

  it('uses an explicit id, and refuses it a second time', () => {
    const room = livingRoom();
    room.ok(tech, raise({ incidentId: 'inc-1' }));
    expect(Object.keys(room.state.incidents)).toEqual(['inc-1']);
    expect(room.refused(tech, raise({ incidentId: 'inc-1', title: 'Another' }))).toMatchObject({
      code: 'conflict',
      message: expect.stringContaining("'inc-1'"),
    });
  });

  it('is possible in preflight already', () => {
    const room = new Room();
    room.ok(ops, { kind: 'session.start_preflight' });
    room.ok(tech, raise({ incidentId: 'inc-1' }));
    expect(room.state.incidents['inc-1']?.status).toBe('open');
  });
});

describe('dedupe of automatic incidents', () => {
  const bitrateLow = (severity: Raise['severity']) =>
    raise({ severity, category: 'network', title: 'Bitrate under 50% of target', dedupeKey: 'bitrate-low' });

  it('counts a repeat on the unresolved incident instead of opening another', () => {
    const room = livingRoom();
    room.ok(ingest, bitrateLow('sev3'), 'auto-1');
    const event = room.one(ingest, bitrateLow('sev3'), 'auto-2');
    expect(event).toMatchObject({ kind: 'incident.recurred', incident: { id: 'auto-1', occurrences: 2 } });
    expect(Object.keys(room.state.incidents)).toEqual(['auto-1']);
  });

  it('raises the severity to the higher of the two, never lowers it', () => {
    const room = livingRoom();
    room.ok(ingest, bitrateLow('sev3'), 'auto-1');
    room.ok(ingest, bitrateLow('sev1'), 'auto-2');
    expect(room.state.incidents['auto-1']).toMatchObject({ severity: 'sev1', occurrences: 2 });
    room.ok(ingest, bitrateLow('sev3'), 'auto-3');
    expect(room.state.incidents['auto-1']).toMatchObject({ severity: 'sev1', occurrences: 3 });
  });

  it('still dedupes an acknowledged incident', () => {
    const room = livingRoom();
    room.ok(ingest, bitrateLow('sev2'), 'auto-1');
    room.ok(tech, { kind: 'incident.acknowledge', incidentId: 'auto-1' });
    expect(room.one(ingest, bitrateLow('sev2'), 'auto-2').kind).toBe('incident.recurred');
    expect(room.state.incidents['auto-1']?.status).toBe('acknowledged');
  });

  it('opens a new incident once the previous one with that key is resolved', () => {
    const room = livingRoom();
    room.ok(ingest, bitrateLow('sev2'), 'auto-1');
    room.ok(tech, { kind: 'incident.resolve', incidentId: 'auto-1' });
    expect(room.one(ingest, bitrateLow('sev2'), 'auto-2').kind).toBe('incident.raised');
    expect(Object.keys(room.state.incidents).sort()).toEqual(['auto-1', 'auto-2']);
  });
});

describe('incident lifecycle', () => {
  const withIncident = () => {
    const room = livingRoom();
    room.ok(tech, raise({ incidentId: 'inc-1' }));
    return room;
  };

  it('acknowledges an open incident once', () => {
    const room = withIncident();
    const event = room.one(tech, { kind: 'incident.acknowledge', incidentId: 'inc-1' });
    expect(event).toMatchObject({
      kind: 'incident.acknowledged',
      incident: { status: 'acknowledged', acknowledgedAt: room.now },
    });
    expect(room.refused(ops, { kind: 'incident.acknowledge', incidentId: 'inc-1' })).toMatchObject({
      code: 'conflict',
      message: "Incident 'inc-1' is already acknowledged.",
    });
  });

  it('never lets a late acknowledge undo a resolve', () => {
    const room = withIncident();
    room.ok(ops, { kind: 'incident.resolve', incidentId: 'inc-1' });
    const error = room.refused(tech, { kind: 'incident.acknowledge', incidentId: 'inc-1' });
    expect(error.code).toBe('conflict');
    expect(error.message).toMatch(/already resolved/);
    expect(room.state.incidents['inc-1']).toMatchObject({ status: 'resolved', acknowledgedAt: null });
  });

  it('resolves from open or acknowledged, not twice, and keeps the resolution as a note', () => {
    const room = withIncident();
    room.ok(tech, raise({ incidentId: 'inc-2' }));
    room.ok(tech, { kind: 'incident.acknowledge', incidentId: 'inc-2' });
    room.ok(tech, { kind: 'incident.resolve', incidentId: 'inc-1' });
    room.ok(tech, { kind: 'incident.resolve', incidentId: 'inc-2', resolution: 'Swapped the XLR cable' });
    expect(room.state.incidents['inc-1']).toMatchObject({ status: 'resolved', resolvedAt: room.now - 1000, notes: [] });
    expect(room.state.incidents['inc-2']).toMatchObject({
      status: 'resolved',
      notes: [{ by: 'Tariq', text: 'Swapped the XLR cable', at: room.now }],
    });
    expect(room.refused(ops, { kind: 'incident.resolve', incidentId: 'inc-1' }).message).toBe(
      "Incident 'inc-1' is already resolved.",
    );
  });

  it('reopens only a resolved incident', () => {
    const room = withIncident();
    expect(room.refused(ops, { kind: 'incident.reopen', incidentId: 'inc-1' }).code).toBe('conflict');
    room.ok(tech, { kind: 'incident.acknowledge', incidentId: 'inc-1' });
    room.ok(tech, { kind: 'incident.resolve', incidentId: 'inc-1' });
    const event = room.one(ops, { kind: 'incident.reopen', incidentId: 'inc-1' });
    expect(event).toMatchObject({
      kind: 'incident.reopened',
      incident: { status: 'open', reopenedAt: room.now, resolvedAt: null, acknowledgedAt: null },
    });
    // Back in the loop: it can be acknowledged and resolved again.
    room.ok(tech, { kind: 'incident.acknowledge', incidentId: 'inc-1' });
    room.ok(tech, { kind: 'incident.resolve', incidentId: 'inc-1' });
    expectReplayMatches(room);
  });

  it('assigns and unassigns, refusing a no-op', () => {
    const room = withIncident();
    room.ok(ops, { kind: 'incident.assign', incidentId: 'inc-1', assignee: 'Tariq' });
    expect(room.state.incidents['inc-1']?.assignee).toBe('Tariq');
    expect(room.refused(ops, { kind: 'incident.assign', incidentId: 'inc-1', assignee: 'Tariq' }).message).toBe(
      "Incident 'inc-1' is already assigned to Tariq.",
    );
    room.ok(ops, { kind: 'incident.assign', incidentId: 'inc-1', assignee: null });
    expect(room.state.incidents['inc-1']?.assignee).toBeNull();
  });

  it('adds notes in order with author and time', () => {
    const room = withIncident();
    room.ok(tech, { kind: 'incident.add_note', incidentId: 'inc-1', text: 'Checking the mixer' });
    room.ok(ops, { kind: 'incident.add_note', incidentId: 'inc-1', text: 'Host informed' });
    expect(room.state.incidents['inc-1']?.notes.map((n) => `${n.by}: ${n.text}`)).toEqual([
      'Tariq: Checking the mixer',
      'Olga: Host informed',
    ]);
  });

  it('changes severity, refusing the same one', () => {
    const room = withIncident();
    expect(room.refused(ops, { kind: 'incident.set_severity', incidentId: 'inc-1', severity: 'sev2' })).toMatchObject({
      code: 'conflict',
      message: "Incident 'inc-1' is already sev2.",
    });
    room.ok(ops, { kind: 'incident.set_severity', incidentId: 'inc-1', severity: 'sev1' });
    expect(room.state.incidents['inc-1']?.severity).toBe('sev1');
  });

  it('names a missing incident', () => {
    const room = livingRoom();
    for (const command of [
      { kind: 'incident.acknowledge', incidentId: 'nope' },
      { kind: 'incident.resolve', incidentId: 'nope' },
      { kind: 'incident.add_note', incidentId: 'nope', text: 'x' },
    ] as const) {
      expect(room.refused(tech, command)).toMatchObject({
        code: 'not_found',
        message: "No incident 'nope' in this session.",
      });
    }
  });
});

describe('what the host could see before a change', () => {
  it('is false for a new incident, true for a sev1 being de-escalated', () => {
    const room = livingRoom();
    const raised = room.one(tech, raise({ incidentId: 'inc-1', severity: 'sev1' }));
    expect(raised).toMatchObject({ wasVisibleToHost: false });
    const deescalated = room.one(ops, { kind: 'incident.set_severity', incidentId: 'inc-1', severity: 'sev2' });
    expect(deescalated).toMatchObject({ wasVisibleToHost: true, incident: { severity: 'sev2' } });
    const escalated = room.one(ops, { kind: 'incident.set_severity', incidentId: 'inc-1', severity: 'sev1' });
    expect(escalated).toMatchObject({ wasVisibleToHost: false, incident: { severity: 'sev1' } });
  });

  it('follows pushing to the host and taking it back', () => {
    const room = livingRoom();
    room.ok(tech, raise({ incidentId: 'inc-1', severity: 'sev3' }));
    const pushed = room.one(ops, {
      kind: 'incident.push_to_host',
      incidentId: 'inc-1',
    }) as SessionEventOf<'incident.pushed_to_host'>;
    expect(pushed.wasVisibleToHost).toBe(false);
    expect(pushed.incident.pushedToHost).toBe(true);
    expect(room.refused(ops, { kind: 'incident.push_to_host', incidentId: 'inc-1' }).code).toBe('conflict');
    const pulled = room.one(ops, { kind: 'incident.push_to_host', incidentId: 'inc-1', pushed: false });
    expect(pulled).toMatchObject({ wasVisibleToHost: true, incident: { pushedToHost: false } });
  });

  it('is carried by a recurrence too', () => {
    const room = livingRoom();
    room.ok(ingest, raise({ severity: 'sev1', dedupeKey: 'no-signal' }), 'auto-1');
    expect(room.one(ingest, raise({ severity: 'sev1', dedupeKey: 'no-signal' }), 'auto-2')).toMatchObject({
      kind: 'incident.recurred',
      wasVisibleToHost: true,
    });
  });

  it('a raise may go straight to the host', () => {
    const room = livingRoom();
    room.ok(host, raise({ incidentId: 'inc-1', severity: 'sev3', pushToHost: true }));
    expect(room.state.incidents['inc-1']).toMatchObject({ pushedToHost: true, raisedBy: 'Hana' });
  });
});

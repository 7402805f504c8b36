import { describe, expect, it } from 'vitest';
import { commandSchema, type SystemCommand } from '../../shared/commands.js';
import { DEFAULT_HEALTH_RULES } from '../../shared/health.js';
import { Room, expectReplayMatches, ops, system, tech } from './domain-harness.js';

const breach = (severity: 'sev1' | 'sev2' = 'sev2'): SystemCommand => ({
  kind: 'signal.breach',
  dedupeKey: 'health:bitrate',
  severity,
  category: 'network',
  title: 'Bitrate low',
  detail: '1200 kbps',
  signal: {
    rule: 'bitrate',
    breaching: true,
    since: 1,
    clearedAt: null,
    sample: { ts: 1, bitrateKbps: 1200, fps: 30, droppedFrames: 0, viewers: 900 },
    context: { productId: 'p1', productName: 'Kettle', viewers: 900, techOnDuty: ['Tariq'] },
  },
});
const clear: SystemCommand = { kind: 'signal.clear', dedupeKey: 'health:bitrate', rule: 'bitrate' };
const resolve: SystemCommand = {
  kind: 'signal.resolve',
  dedupeKey: 'health:bitrate',
  rule: 'bitrate',
  resolution: 'Healthy for 20 s.',
};

describe('health signals', () => {
  it('a breach raises one incident with its context; flapping counts occurrences on the same incident', () => {
    const room = new Room().goLive();
    const raised = room.one(system, breach(), 'sig-1');
    expect(raised).toMatchObject({
      kind: 'incident.raised',
      actor: { role: 'system' },
      incident: {
        id: 'sig-1',
        dedupeKey: 'health:bitrate',
        raisedBy: 'Cueroom',
        signal: { breaching: true, context: { productName: 'Kettle' } },
      },
    });
    expect(room.refused(system, breach()).code).toBe('conflict');
    expect(room.one(system, clear)).toMatchObject({
      kind: 'incident.signal_changed',
      incident: { signal: { breaching: false } },
    });
    expect(room.one(system, breach('sev1'))).toMatchObject({
      kind: 'incident.recurred',
      incident: { id: 'sig-1', occurrences: 2, severity: 'sev1', signal: { breaching: true } },
    });
    expect(Object.keys(room.state.incidents)).toEqual(['sig-1']);
    room.one(system, clear);
    expect(room.one(system, resolve)).toMatchObject({ kind: 'incident.resolved', incident: { status: 'resolved' } });
    expect(room.state.incidents['sig-1']!.notes.at(-1)).toMatchObject({ by: 'Cueroom', text: 'Healthy for 20 s.' });
    expectReplayMatches(room);
  });

  it('cannot be resolved by hand while breaching unless forced, and the force is noted', () => {
    const room = new Room().goLive();
    room.one(system, breach(), 'sig-1');
    const refused = room.refused(tech, { kind: 'incident.resolve', incidentId: 'sig-1' });
    expect(refused.code).toBe('conflict');
    expect(refused.message).toMatch(/still breaches/);
    const forced = room.one(tech, {
      kind: 'incident.resolve',
      incidentId: 'sig-1',
      force: true,
      resolution: 'Switched encoder',
    });
    expect(forced).toMatchObject({ kind: 'incident.resolved', actor: { role: 'tech' } });
    expect(room.state.incidents['sig-1']!.notes.map((n) => n.text)).toEqual([
      'Switched encoder',
      'Resolved by force while the bitrate rule still breached.',
    ]);
    // Once the signal is good again, a hand resolve needs no force.
    room.one(system, breach(), 'sig-2');
    room.one(system, clear);
    expect(room.one(tech, { kind: 'incident.resolve', incidentId: 'sig-2' })).toMatchObject({
      kind: 'incident.resolved',
    });
    expect(room.refused(system, resolve).code).toBe('conflict');
  });

  it('no token can send a signal: it is not a command of the wire schema', () => {
    for (const command of [breach(), clear, resolve]) expect(commandSchema.safeParse(command).success).toBe(false);
  });

  it('signals act in preflight and live only', () => {
    const room = new Room();
    expect(room.refused(system, breach()).code).toBe('session_not_live');
  });

  it('rules are changed rule by rule by tech and ops, defaults otherwise', () => {
    const room = new Room();
    expect(room.state.health.rules ?? DEFAULT_HEALTH_RULES).toEqual(DEFAULT_HEALTH_RULES);
    const set = room.one(tech, { kind: 'health.set_rules', rules: { fps: { floor: 25 }, recoverSeconds: 5 } });
    expect(set).toMatchObject({
      kind: 'health.rules_set',
      rules: { fps: { floor: 25, forSeconds: DEFAULT_HEALTH_RULES.fps.forSeconds }, recoverSeconds: 5 },
    });
    room.one(ops, { kind: 'health.set_rules', rules: { watchdog: { noSampleSeconds: 5 } } });
    expect(room.state.health.rules).toMatchObject({
      fps: { floor: 25 },
      watchdog: { noSampleSeconds: 5, enabled: true },
      recoverSeconds: 5,
    });
    expectReplayMatches(room);
  });
});

import { describe, expect, it } from 'vitest';
import { HEALTH_WINDOW, type HealthSample } from '../../shared/model.js';
import { Room, T0, expectReplayMatches, ingest, tech } from './domain-harness.js';

describe('stream health', () => {
  const sample = (i: number): HealthSample => ({ ts: T0 + i * 1000, bitrateKbps: 4000 + i, fps: 30, droppedFrames: 0 });

  it('keeps the latest sample and a rolling window of the most recent ones', () => {
    const room = new Room().goLive();
    const total = HEALTH_WINDOW + 5;
    for (let i = 1; i <= total; i++) room.one(tech, { kind: 'health.sample', sample: sample(i) });
    expect(room.state.health.latest).toEqual(sample(total));
    expect(room.state.health.window).toHaveLength(HEALTH_WINDOW);
    expect(room.state.health.window[0]).toEqual(sample(6));
    expect(room.state.health.window.at(-1)).toEqual(sample(total));
    expectReplayMatches(room);
  });

  it('keeps optional fields the encoder sends', () => {
    const room = new Room().goLive();
    const rich = { ...sample(1), rttMs: 40, viewers: 1200, encoderCpu: 63.5 };
    expect(room.one(ingest, { kind: 'health.sample', sample: rich })).toMatchObject({
      kind: 'health.sampled',
      sample: rich,
    });
  });

  it('is not accepted before preflight', () => {
    const room = new Room();
    expect(room.refused(ingest, { kind: 'health.sample', sample: sample(1) }).code).toBe('session_not_live');
  });
});

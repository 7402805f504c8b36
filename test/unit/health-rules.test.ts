import { describe, expect, it } from 'vitest';
import {
  DEFAULT_HEALTH_RULES,
  mergeRules,
  normalizeStatus,
  sampleStatus,
  worstStatus,
  type HealthRules,
} from '../../shared/health.js';
import type { HealthSample } from '../../shared/model.js';
import fc from 'fast-check';
import { HealthRuleEngine, WindowMax, droppedRatio, type HealthAction } from '../../server/health/rule-engine.js';

const S = 's-1';
const rules: HealthRules = mergeRules(DEFAULT_HEALTH_RULES, {
  bitrate: { minShareOfTarget: 0.5, forSeconds: 5 },
  fps: { floor: 20, forSeconds: 3 },
  droppedFrames: { maxRatio: 0.1, forSeconds: 2 },
  viewers: { maxDropShare: 0.5, windowSeconds: 30, minViewers: 100 },
  watchdog: { noSampleSeconds: 10 },
  recoverSeconds: 8,
});

/** An engine on a fake clock, fed one sample a second. */
function rig(context = { rules, targetBitrateKbps: 4000 }) {
  let now = 1_000_000;
  const engine = new HealthRuleEngine(() => now);
  const good: HealthSample = { ts: 0, bitrateKbps: 4000, fps: 30, droppedFrames: 0, viewers: 500 };
  return {
    engine,
    advance(ms: number) {
      now += ms;
    },
    get now() {
      return now;
    },
    /** Feeds `sample` (over the good one) once per second for `seconds`, collecting actions. */
    feed(seconds: number, sample: Partial<HealthSample> = {}): HealthAction[] {
      const out: HealthAction[] = [];
      for (let i = 0; i < seconds; i++) {
        now += 1000;
        out.push(...engine.observe(S, { ...good, ts: now, ...sample }, context));
      }
      return out;
    },
  };
}

const kinds = (actions: HealthAction[]) => actions.map((a) => `${a.type}:${a.rule}`);

describe('vendor statuses', () => {
  it('normalize YouTube, IVS and OBS words, and unknown words are no_data', () => {
    expect(['good', 'ok', 'bad', 'noData'].map(normalizeStatus)).toEqual([
      'healthy',
      'degraded',
      'critical',
      'no_data',
    ]);
    expect(['HEALTHY', 'STARVING', 'UNKNOWN'].map(normalizeStatus)).toEqual(['healthy', 'degraded', 'no_data']);
    expect(['reconnecting', 'reconnected'].map(normalizeStatus)).toEqual(['critical', 'healthy']);
    expect(normalizeStatus('whatever')).toBe('no_data');
    expect(normalizeStatus(undefined)).toBe('no_data');
  });

  it('the worst destination wins, and nothing at all is no_data, never healthy', () => {
    expect(worstStatus(['healthy', 'degraded', 'healthy'])).toBe('degraded');
    expect(worstStatus(['healthy', 'no_data'])).toBe('no_data');
    expect(worstStatus(['critical', 'offline'])).toBe('offline');
    expect(worstStatus([])).toBe('no_data');
  });

  it('a console shows no_data without a recent sample, else the worst destination', () => {
    expect(sampleStatus(null, 1000)).toBe('no_data');
    expect(sampleStatus({ ts: 0 }, 16_000)).toBe('no_data');
    expect(sampleStatus({ ts: 0 }, 5_000)).toBe('healthy');
    expect(sampleStatus({ ts: 0, destinations: [{ status: 'good' }, { status: 'STARVING' }] }, 5_000)).toBe('degraded');
  });
});

describe('health rule engine', () => {
  it('good samples raise nothing; no sample yet is no_data', () => {
    const r = rig();
    expect(r.engine.status(S)).toBe('no_data');
    expect(r.feed(30)).toEqual([]);
    expect(r.engine.status(S)).toBe('healthy');
  });

  it('bitrate under the share of target breaches only after holding for N s', () => {
    const r = rig();
    r.feed(3);
    expect(r.feed(5, { bitrateKbps: 1500 })).toEqual([]);
    const actions = r.feed(1, { bitrateKbps: 1500 });
    expect(kinds(actions)).toEqual(['breach:bitrate']);
    expect(actions[0]).toMatchObject({ severity: 'sev2', dedupeKey: 'health:bitrate', sample: { bitrateKbps: 1500 } });
    expect(r.engine.status(S)).toBe('degraded');
    // One dip shorter than the hold time is noise.
    const other = rig();
    expect(other.feed(4, { bitrateKbps: 100 })).toEqual([]);
    expect(other.feed(3)).toEqual([]);
  });

  it('uses the rules default target while the session has none', () => {
    const r = rig({ rules, targetBitrateKbps: null as unknown as number });
    expect(kinds(r.feed(6, { bitrateKbps: 2000 }))).toEqual(['breach:bitrate']); // < 0.5 × 4500
  });

  it('resolves after the hysteresis time of good health, and a flapping signal stays one incident', () => {
    const r = rig();
    expect(kinds(r.feed(4, { fps: 10 }))).toEqual(['breach:fps']);
    expect(kinds(r.feed(1))).toEqual(['clear:fps']);
    expect(r.feed(3)).toEqual([]);
    // Flaps back inside the hysteresis window: the same incident breaches again at once.
    expect(kinds(r.feed(1, { fps: 10 }))).toEqual(['breach:fps']);
    expect(kinds(r.feed(1))).toEqual(['clear:fps']);
    expect(r.feed(7)).toEqual([]);
    expect(kinds(r.feed(1))).toEqual(['resolve:fps']);
    expect(r.engine.openRules(S)).toEqual({});
  });

  it('dropped-frame ratio over the ceiling', () => {
    expect(
      droppedRatio(
        { ts: 2000, bitrateKbps: 1, fps: 30, droppedFrames: 30 },
        { ts: 1000, bitrateKbps: 1, fps: 30, droppedFrames: 0 },
      ),
    ).toBe(0.5);
    const r = rig();
    expect(kinds(r.feed(3, { droppedFrames: 10 }))).toEqual(['breach:droppedFrames']);
  });

  it('viewers falling by a share within the window, at once, ignoring small rooms', () => {
    const r = rig();
    r.feed(5, { viewers: 1000 });
    expect(kinds(r.feed(1, { viewers: 400 }))).toEqual(['breach:viewers']);
    const small = rig();
    small.feed(5, { viewers: 80 });
    expect(small.feed(1, { viewers: 10 })).toEqual([]);
  });

  it('a destination critical or offline breaches; its severity follows the worst', () => {
    const r = rig();
    const actions = r.feed(1, {
      destinations: [
        { id: 'yt', status: 'good' },
        { id: 'ivs', status: 'STARVING' },
      ],
    });
    expect(actions).toEqual([]);
    expect(r.engine.status(S)).toBe('degraded');
    const down = r.feed(1, {
      destinations: [
        { id: 'yt', status: 'revoked' },
        { id: 'ivs', status: 'HEALTHY' },
      ],
    });
    expect(down[0]).toMatchObject({ type: 'breach', rule: 'destinations', severity: 'sev1', detail: 'yt: revoked' });
  });

  it('the watchdog breaches sev1 when no sample came for T s, and its deadline says when to look', () => {
    const r = rig();
    r.feed(1);
    const last = r.now;
    expect(r.engine.nextDeadline(S)).toBe(last + 10_000);
    r.advance(9_999);
    expect(r.engine.tick(S)).toEqual([]);
    r.advance(1);
    const actions = r.engine.tick(S);
    expect(actions).toMatchObject([
      { type: 'breach', rule: 'watchdog', severity: 'sev1', sample: null, title: 'Stream down' },
    ]);
    expect(r.engine.status(S)).toBe('no_data');
    expect(r.engine.tick(S)).toEqual([]);
    // The stream is back: cleared at once, resolved after the hysteresis time by the tick.
    expect(kinds(r.feed(1))).toEqual(['clear:watchdog']);
    const clearedAt = r.now;
    expect(r.engine.nextDeadline(S)).toBe(clearedAt + 8_000);
    r.advance(8_000);
    // The next sample would be due; with none, the watchdog deadline came first.
    expect(kinds(r.engine.tick(S))).toEqual(['resolve:watchdog']);
  });

  it('nothing resolves while the stream is silent', () => {
    const r = rig();
    expect(kinds(r.feed(4, { fps: 5 }))).toEqual(['breach:fps']);
    expect(kinds(r.feed(1))).toEqual(['clear:fps']);
    r.advance(10_000);
    expect(kinds(r.engine.tick(S))).toEqual(['breach:watchdog']);
    r.advance(20_000);
    expect(r.engine.tick(S)).toEqual([]);
  });

  it('seeded open incidents (after a restart) are resolved when health is good', () => {
    const r = rig();
    r.engine.seed(S, { rules, targetBitrateKbps: 4000 }, [{ rule: 'bitrate', breaching: true }]);
    expect(kinds(r.feed(1))).toEqual(['clear:bitrate']);
    expect(kinds(r.feed(8))).toEqual(['resolve:bitrate']);
  });

  it('the viewers window peak matches a naive scan', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.integer({ min: 0, max: 3000 }), fc.integer({ min: 0, max: 5000 })), { maxLength: 300 }),
        (steps) => {
          const window = new WindowMax();
          const seen: { at: number; v: number }[] = [];
          let at = 0;
          for (const [dt, v] of steps) {
            at += dt;
            seen.push({ at, v });
            const from = at - 10_000;
            const naive = Math.max(...seen.filter((p) => p.at >= from).map((p) => p.v));
            expect(window.push(at, v, from)).toBe(naive);
          }
        },
      ),
    );
  });

  // Speed is the benchmark's business (docs/benchmarks.md); here, a long healthy run stays quiet.
  it('stays quiet over 10k healthy samples', () => {
    const r = rig();
    expect(kinds(r.feed(10_000, { bitrateKbps: 3900 }))).toEqual([]);
  });
});

import { describe, expect, it } from 'vitest';
import type { CommandInput, SystemCommand } from '../../shared/commands.js';
import type { Actor } from '../../shared/roles.js';
import type { SessionEvent } from '../../shared/events.js';
import { buildReview, csvCell, reviewToCsv, SERIES_POINTS, stats } from '../../server/review/review.js';
import { cohost, host, ingest, ops, Room, system, T0, tech } from './domain-harness.js';

const s = (seconds: number) => T0 + seconds * 1000;

/**
 * A 290-second show, scripted to the second so that every figure of its review can be
 * worked out by hand (the workings are next to each expectation).
 */
function scriptedShow(): Room {
  const room = new Room({ checklist: [] });
  const at = (seconds: number, actor: Actor, command: CommandInput | SystemCommand) => {
    room.now = s(seconds) - 1000; // Room.run adds a second before each command
    room.ok(actor, command);
  };
  const open = (personId: string, name: string, role: 'tech' | 'host', consoleId: string) =>
    ({ kind: 'presence.open', personId, name, role, consoleId }) as const;

  at(10, ops, { kind: 'session.start_preflight' });
  at(20, ops, { kind: 'session.go_live' });
  at(30, ops, {
    kind: 'lineup.set',
    products: [
      { id: 'p1', name: 'Kettle', price: 4900, stock: 10 },
      { id: 'p2', name: 'Teapot', price: 2900, stock: 3 },
      { id: 'p3', name: 'Mug set', price: 1500, stock: 5 },
    ],
  });
  at(40, system, open('u-tech', 'Tariq', 'tech', 'k1'));
  at(45, system, open('u-host', 'Hana', 'host', 'k2'));
  at(50, ops, { kind: 'product.switch', productId: 'p1' });
  at(60, tech, { kind: 'incident.raise', incidentId: 'i1', severity: 'sev2', category: 'video', title: 'Freeze' });
  at(70, ingest, { kind: 'question.submit', questionId: 'q1', text: 'Does it ship abroad?', author: 'ann' });
  at(75, ingest, { kind: 'question.submit', questionId: 'q2', text: 'Which colours?', author: 'bob' });
  at(80, ingest, { kind: 'question.submit', questionId: 'q3', text: 'Warranty?', author: 'cy' });
  at(90, tech, { kind: 'incident.acknowledge', incidentId: 'i1' });
  at(100, cohost, { kind: 'question.flag', questionId: 'q1' });
  at(110, cohost, { kind: 'question.flag', questionId: 'q2' });
  at(120, host, { kind: 'question.answer', questionId: 'q1' });
  at(130, ops, {
    kind: 'incident.raise',
    incidentId: 'i2',
    severity: 'sev1',
    category: 'network',
    title: 'Uplink down',
  });
  at(140, ops, { kind: 'incident.acknowledge', incidentId: 'i2' });
  at(150, tech, { kind: 'incident.resolve', incidentId: 'i1' });
  at(160, ops, { kind: 'product.set_price', productId: 'p1', price: 4500 });
  at(170, ops, { kind: 'product.switch', productId: 'p2' });
  at(180, ops, { kind: 'product.set_stock', productId: 'p2', stock: 0 });
  at(190, ops, { kind: 'incident.resolve', incidentId: 'i2' });
  at(200, ops, { kind: 'incident.raise', incidentId: 'i3', severity: 'sev2', category: 'audio', title: 'Hiss' });
  at(210, cohost, { kind: 'question.dismiss', questionId: 'q3' });
  at(220, host, { kind: 'question.answer', questionId: 'q2' });
  at(230, ops, { kind: 'cue.send', cueId: 'c1', to: ['host'], text: 'Wrap up' });
  at(240, host, { kind: 'cue.acknowledge', cueId: 'c1' });
  at(250, ops, { kind: 'cue.send', cueId: 'c2', to: ['host', 'tech'], text: 'Stand by' });
  at(260, host, { kind: 'cue.acknowledge', cueId: 'c2' });
  at(270, tech, { kind: 'cue.acknowledge', cueId: 'c2' });
  at(275, system, { kind: 'presence.close', personId: 'u-tech', consoleId: 'k1' });
  at(280, tech, { kind: 'incident.acknowledge', incidentId: 'i3' });
  at(285, ingest, { kind: 'question.submit', questionId: 'q4', text: '=1+1 price?', author: 'dee' });
  at(287, cohost, { kind: 'question.flag', questionId: 'q4' });
  // Ten samples (ts in seconds, kbps, fps, dropped), posted in one go near the end.
  const samples: [number, number, number, number][] = [
    [100, 4000, 30, 0],
    [101, 3800, 30, 2],
    [102, 0, 0, 10],
    [103, 0, 0, 5],
    [104, 4200, 29, 1],
    [120, 4100, 30, 0],
    [125, 3900, 25, 3],
    [130, 4000, 30, 0],
    [131, 2000, 20, 8],
    [132, 4000, 30, 0],
  ];
  samples.forEach(([ts, bitrateKbps, fps, droppedFrames], i) =>
    at(288 + i / 10, tech, { kind: 'health.sample', sample: { ts: s(ts), bitrateKbps, fps, droppedFrames } }),
  );
  at(290, ops, { kind: 'session.end' });
  return room;
}

describe('review of a scripted session', () => {
  const room = scriptedShow();
  const review = buildReview(room.events);

  it('sums up the session', () => {
    expect(review.session).toEqual({
      id: 's-test',
      title: 'Spring launch',
      status: 'ended',
      createdAt: T0,
      liveAt: s(20),
      endedAt: s(290),
      liveMs: 270_000, // 20 s → 290 s
      lastSeq: room.state.seq,
      events: room.events.length,
    });
  });

  it('lists incidents with time to acknowledge and resolve per severity, and who handled them', () => {
    const { bySeverity, items, handledBy, total } = review.incidents;
    expect(total).toBe(3);
    // sev1: i2 raised 130, acknowledged 140 (10 s), resolved 190 (60 s).
    expect(bySeverity.sev1).toEqual({
      count: 1,
      timeToAcknowledge: { count: 1, median: 10_000, p90: 10_000, max: 10_000 },
      timeToResolve: { count: 1, median: 60_000, p90: 60_000, max: 60_000 },
    });
    // sev2: i1 acknowledged after 30 s (60 → 90), resolved after 90 s (60 → 150); i3
    // acknowledged after 80 s (200 → 280), never resolved. Nearest rank of [30, 80] s:
    // median = rank ceil(1) = 30 s, p90 = rank ceil(1.8) = 80 s.
    expect(bySeverity.sev2).toEqual({
      count: 2,
      timeToAcknowledge: { count: 2, median: 30_000, p90: 80_000, max: 80_000 },
      timeToResolve: { count: 1, median: 90_000, p90: 90_000, max: 90_000 },
    });
    expect(bySeverity.sev3).toEqual({
      count: 0,
      timeToAcknowledge: { count: 0, median: null, p90: null, max: null },
      timeToResolve: { count: 0, median: null, p90: null, max: null },
    });
    expect(items.find((i) => i.id === 'i3')).toMatchObject({
      status: 'acknowledged',
      raisedBy: 'Olga',
      acknowledgedBy: 'Tariq',
      resolvedAt: null,
      timeToResolveMs: null,
    });
    expect(handledBy).toEqual([
      { name: 'Olga', acknowledged: 1, resolved: 1 },
      { name: 'Tariq', acknowledged: 2, resolved: 1 },
    ]);
  });

  it('counts questions and times their answers', () => {
    expect(review.questions).toEqual({
      received: 4,
      flagged: 3, // q1, q2, q4
      answered: 2, // q1, q2
      dismissed: 1, // q3
      // q1 70 → 120 = 50 s, q2 75 → 220 = 145 s.
      timeToAnswer: { count: 2, median: 50_000, p90: 145_000, max: 145_000 },
      unansweredFlagged: [{ id: 'q4', text: '=1+1 price?', author: 'dee', submittedAt: s(285) }],
    });
  });

  it('times each product on screen and lists its price and stock changes', () => {
    const [p1, p2, p3] = review.products;
    expect(p1).toEqual({
      id: 'p1',
      name: 'Kettle',
      onScreenMs: 120_000, // 50 → 170
      onScreen: [{ from: s(50), to: s(170), durationMs: 120_000 }],
      priceChanges: [{ at: s(160), from: 4900, to: 4500, by: 'Olga' }],
      stockChanges: [],
      soldOutAt: [],
    });
    expect(p2).toMatchObject({
      onScreenMs: 120_000, // 170 → the end at 290
      stockChanges: [{ at: s(180), from: 3, to: 0, by: 'Olga' }],
      soldOutAt: [s(180)],
    });
    expect(p3).toMatchObject({ id: 'p3', onScreenMs: 0, onScreen: [] });
  });

  it('gives health percentiles and outages', () => {
    const { health } = review;
    expect(health.samples).toBe(10);
    // Sorted kbps: 0 0 2000 3800 3900 4000 4000 4000 4100 4200 → p10 rank 1, median rank 5, p90 rank 9.
    expect(health.bitrateKbps).toEqual({ count: 10, min: 0, p10: 0, median: 3900, p90: 4100, max: 4200 });
    // Sorted fps: 0 0 20 25 29 30 30 30 30 30.
    expect(health.fps).toEqual({ count: 10, min: 0, p10: 0, median: 29, p90: 30, max: 30 });
    // Sorted dropped: 0 0 0 0 1 2 3 5 8 10.
    expect(health.droppedFrames).toEqual({ count: 10, min: 0, p10: 0, median: 1, p90: 8, max: 10 });
    expect(health.outages).toEqual([
      { from: s(102), to: s(104), durationMs: 2_000, cause: 'zero_bitrate' },
      { from: s(104), to: s(120), durationMs: 16_000, cause: 'no_samples' },
    ]);
    expect(health.outageMs).toBe(18_000);
    // Ten samples: the chart series is every one of them, in time order.
    expect(health.series).toHaveLength(10);
    expect(health.series.map((p) => p.ts)).toEqual([...health.series.map((p) => p.ts)].sort((a, b) => a - b));
  });

  it('keeps the chart series to SERIES_POINTS, the lowest of each run', () => {
    const many = Array.from({ length: SERIES_POINTS * 3 }, (_, i) => ({
      ts: i * 1000,
      bitrateKbps: i === 901 ? 0 : 4000,
      fps: 30,
      droppedFrames: 0,
    }));
    const events = many.map(
      (sample, i) =>
        ({
          seq: i + 1,
          at: sample.ts,
          commandId: `c${i}`,
          actor: tech,
          kind: 'health.sampled',
          sample,
        }) as unknown as SessionEvent,
    );
    const { series } = buildReview(events).health;
    expect(series).toHaveLength(SERIES_POINTS);
    expect(series.filter((p) => p.bitrateKbps === 0)).toEqual([{ ts: 900_000, bitrateKbps: 0, fps: 30 }]);
  });

  it('times cue acknowledgements (every addressed role) and crew presence', () => {
    expect(review.cues).toMatchObject({
      sent: 2,
      acknowledged: 2,
      // c1 230 → 240; c2 250 → 270 (tech acknowledged last).
      timeToAcknowledge: { count: 2, median: 10_000, p90: 20_000, max: 20_000 },
    });
    expect(review.presence).toEqual([
      {
        personId: 'u-tech',
        name: 'Tariq',
        role: 'tech',
        intervals: [{ from: s(40), to: s(275), durationMs: 235_000 }],
        totalMs: 235_000,
      },
      // Still open at the end: closed by the session's end at 290.
      {
        personId: 'u-host',
        name: 'Hana',
        role: 'host',
        intervals: [{ from: s(45), to: s(290), durationMs: 245_000 }],
        totalMs: 245_000,
      },
    ]);
  });

  it('keeps a timeline of everything but the health samples', () => {
    expect(review.timeline).toHaveLength(room.events.length - 10);
    expect(review.timeline[0]).toMatchObject({
      seq: 1,
      kind: 'session.created',
      summary: 'Session "Spring launch" created',
    });
    expect(review.timeline.find((t) => t.kind === 'incident.raised')).toMatchObject({
      at: s(60),
      actor: 'Tariq',
      role: 'tech',
      summary: 'sev2 incident "Freeze" raised',
    });
    expect(review.timeline.at(-1)).toMatchObject({ kind: 'session.status_changed', summary: 'Session live → ended' });
  });

  it('exports one figure per CSV row, with untrusted text defused', () => {
    const lines = reviewToCsv(review).split('\r\n');
    expect(lines[0]).toBe('section,key,field,value');
    expect(lines).toContain('incidents,sev2,acknowledge_p90_ms,80000');
    expect(lines).toContain('product,p1,on_screen_ms,120000');
    expect(lines).toContain("questions,q4,unanswered_flagged,'=1+1 price?");
    expect(lines).toContain('health,bitrateKbps,median,3900');
    expect(csvCell('a "b", c')).toBe('"a ""b"", c"');
  });

  it('uses nearest-rank percentiles', () => {
    expect(stats([5, 1, 4, 2, 3])).toEqual({ count: 5, median: 3, p90: 5, max: 5 });
    expect(stats([])).toEqual({ count: 0, median: null, p90: null, max: null });
  });
});

describe('review of an incident raised by the health rules', () => {
  it('tells the signal clearing in the timeline and follows the incident to its automatic resolve', () => {
    const room = new Room().goLive();
    const signal = {
      rule: 'bitrate' as const,
      breaching: true,
      since: 1,
      clearedAt: null,
      sample: { ts: 1, bitrateKbps: 900, fps: 30, droppedFrames: 0 },
      context: { productId: null, productName: null, viewers: null, techOnDuty: [] },
    };
    room.one(
      system,
      {
        kind: 'signal.breach',
        dedupeKey: 'health:bitrate',
        severity: 'sev2',
        category: 'network',
        title: 'Bitrate low',
        detail: '900 kbps',
        signal,
      },
      'sig-1',
    );
    room.one(system, { kind: 'signal.clear', dedupeKey: 'health:bitrate', rule: 'bitrate' });
    room.one(system, {
      kind: 'signal.resolve',
      dedupeKey: 'health:bitrate',
      rule: 'bitrate',
      resolution: 'Healthy for 20 s.',
    });

    const review = buildReview(room.events);
    expect(review.timeline.find((t) => t.kind === 'incident.signal_changed')?.summary).toBe(
      'sev2 incident "Bitrate low": signal back to normal',
    );
    expect(review.incidents.items).toEqual([
      expect.objectContaining({ id: 'sig-1', status: 'resolved', resolvedBy: 'Cueroom' }),
    ]);
  });
});

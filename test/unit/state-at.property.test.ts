import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { CommandInput, SystemCommand } from '../../shared/commands.js';
import type { SessionState } from '../../shared/model.js';
import type { Actor } from '../../shared/roles.js';
import { cloneState, foldEvents } from '../../server/domain/index.js';
import { parsePointInTime, stateAt } from '../../server/review/state-at.js';
import { cohost, host, ingest, observer, ops, Room, tech } from './domain-harness.js';

const actors: Actor[] = [ops, tech, host, cohost, observer, ingest];
const incidentId = fc.constantFrom('i1', 'i2', 'i3');
const questionId = fc.constantFrom('q1', 'q2', 'q3', 'q4');
const productId = fc.constantFrom('p1', 'p2', 'p3', 'p9');
const cueId = fc.constantFrom('c1', 'c2');
const crewRole = fc.constantFrom('host', 'cohost', 'tech', 'ops', 'observer') as fc.Arbitrary<
  'host' | 'cohost' | 'tech' | 'ops' | 'observer'
>;

/** Commands over a few ids, so that they hit each other often; many are refused, which is part of the point. */
const command: fc.Arbitrary<CommandInput | SystemCommand> = fc.oneof(
  fc.constant({ kind: 'session.start_preflight' as const }),
  fc.constant({ kind: 'session.go_live' as const, override: true, reason: 'property' }),
  fc.constant({ kind: 'session.end' as const }),
  fc.record({
    kind: fc.constant('session.add_checklist_item' as const),
    itemId: fc.constantFrom('x1', 'x2'),
    label: fc.constant('Extra'),
  }),
  fc.record({
    kind: fc.constant('session.check_item' as const),
    itemId: fc.constantFrom('x1', 'x2'),
    checked: fc.boolean(),
  }),
  fc.record({
    kind: fc.constant('session.set_target_bitrate' as const),
    targetBitrateKbps: fc.integer({ min: 500, max: 8000 }),
  }),
  fc.constant<CommandInput>({
    kind: 'lineup.set',
    products: [
      { id: 'p1', name: 'Kettle', price: 4900, stock: 10 },
      { id: 'p2', name: 'Teapot', price: 2900, stock: 3 },
      { id: 'p3', name: 'Mug set', price: 1500, stock: 0 },
    ],
  }),
  fc.record({ kind: fc.constant('product.switch' as const), productId }),
  fc.record({ kind: fc.constant('product.set_price' as const), productId, price: fc.integer({ min: 0, max: 9999 }) }),
  fc.record({ kind: fc.constant('product.set_stock' as const), productId, stock: fc.integer({ min: 0, max: 5 }) }),
  fc.record({
    kind: fc.constant('incident.raise' as const),
    incidentId,
    severity: fc.constantFrom('sev1', 'sev2', 'sev3'),
    category: fc.constantFrom('video', 'network'),
    title: fc.constant('Something broke'),
    dedupeKey: fc.option(fc.constantFrom('k1', 'k2'), { nil: undefined }),
    pushToHost: fc.boolean(),
  }),
  fc.record({ kind: fc.constant('incident.acknowledge' as const), incidentId }),
  fc.record({
    kind: fc.constant('incident.assign' as const),
    incidentId,
    assignee: fc.option(fc.constant('Tariq'), { nil: null }),
  }),
  fc.record({ kind: fc.constant('incident.add_note' as const), incidentId, text: fc.constant('Looking') }),
  fc.record({
    kind: fc.constant('incident.set_severity' as const),
    incidentId,
    severity: fc.constantFrom('sev1', 'sev2', 'sev3'),
  }),
  fc.record({ kind: fc.constant('incident.push_to_host' as const), incidentId, pushed: fc.boolean() }),
  fc.record({ kind: fc.constant('incident.resolve' as const), incidentId }),
  fc.record({ kind: fc.constant('incident.reopen' as const), incidentId }),
  fc.record({
    kind: fc.constant('question.submit' as const),
    questionId,
    text: fc.constant('Does it ship abroad?'),
    author: fc.constant('viewer'),
  }),
  fc.record({ kind: fc.constant('question.upvote' as const), questionId, voter: fc.constantFrom('v1', 'v2') }),
  fc.record({ kind: fc.constant('question.flag' as const), questionId }),
  fc.record({ kind: fc.constant('question.pin' as const), questionId, pinned: fc.boolean() }),
  fc.record({
    kind: fc.constant('question.set_priority' as const),
    questionId,
    priority: fc.integer({ min: 0, max: 3 }),
  }),
  fc.record({ kind: fc.constant('question.answer' as const), questionId }),
  fc.record({ kind: fc.constant('question.dismiss' as const), questionId }),
  fc.record({ kind: fc.constant('question.restore' as const), questionId }),
  fc.record({
    kind: fc.constant('cue.send' as const),
    cueId,
    to: fc.uniqueArray(crewRole, { minLength: 1, maxLength: 3 }),
    text: fc.constant('Wrap up'),
  }),
  fc.record({ kind: fc.constant('cue.acknowledge' as const), cueId }),
  fc.record({
    kind: fc.constant('health.sample' as const),
    sample: fc.record({
      ts: fc.integer({ min: 0, max: 1e12 }),
      bitrateKbps: fc.integer({ min: 0, max: 8000 }),
      fps: fc.integer({ min: 0, max: 60 }),
      droppedFrames: fc.integer({ min: 0, max: 100 }),
    }),
  }),
  fc.record({
    kind: fc.constant('presence.open' as const),
    personId: fc.constantFrom('u-tech', 'u-host'),
    name: fc.constant('Someone'),
    role: fc.constantFrom('tech', 'host') as fc.Arbitrary<'tech' | 'host'>,
    consoleId: fc.constantFrom('k1', 'k2'),
  }),
  fc.record({
    kind: fc.constant('presence.close' as const),
    personId: fc.constantFrom('u-tech', 'u-host'),
    consoleId: fc.constantFrom('k1', 'k2'),
  }),
);

const step = fc.tuple(fc.constantFrom(...actors), command);

/** Runs the steps through decide → stamp → evolve; returns the room and the state after each seq (index = seq). */
function play(steps: [Actor, CommandInput | SystemCommand][]): { room: Room; after: SessionState[] } {
  const room = new Room({ checklist: [{ id: 'mic', label: 'Mic check' }] });
  const after: SessionState[] = [];
  // Live from the start: most commands need it (and going live is itself in the mix).
  room.goLive();
  after[room.state.seq] = cloneState(room.state);
  for (const [actor, input] of steps) {
    const decision = room.run(actor, input);
    if (decision.ok) after[room.state.seq] = cloneState(room.state);
  }
  return { room, after };
}

describe('state as of any point', () => {
  it('folding the whole log gives the live state, and folding up to a seq or a time gives the state then', async () => {
    const kinds = new Set<string>();
    await fc.assert(
      fc.asyncProperty(fc.array(step, { minLength: 1, maxLength: 80 }), fc.nat(), async (steps, pick) => {
        const { room, after } = play(steps);
        for (const event of room.events) kinds.add(event.kind);
        expect(foldEvents(room.events)).toEqual(room.state);
        expect(await stateAt(room.events, { seq: room.state.seq }, 's-test')).toEqual(room.state);

        // A seq that ended a command (the live state was only ever seen between commands).
        const seqs = Object.keys(after).map(Number);
        const seq = seqs[pick % seqs.length]!;
        expect(await stateAt(room.events, { seq }, 's-test')).toEqual(after[seq]);
        expect(foldEvents(room.events.slice(0, seq))).toEqual(after[seq]);

        // The same point named by the time of its last event (each command has its own time).
        const at = room.events[seq - 1]!.at;
        expect(await stateAt(room.events, { at }, 's-test')).toEqual(after[seq]);
        expect(await stateAt(room.events, { at: room.events[0]!.at - 1 }, 's-test')).toBeNull();
      }),
      // A fixed seed: the coverage check below is then reproducible run to run (a random
      // seed left it short of 21 kinds now and then). FC_SEED overrides it to explore.
      { numRuns: 500, seed: Number(process.env.FC_SEED ?? 20261123) },
    );
    // Not vacuous: the runs went live and reached most of the event kinds.
    expect(kinds).toContain('session.status_changed');
    expect(kinds.size).toBeGreaterThan(20);
  });

  it('reads `at` as seq:N, epoch milliseconds or an ISO time, and nothing else', () => {
    expect(parsePointInTime('seq:42')).toEqual({ seq: 42 });
    expect(parsePointInTime('1700000000000')).toEqual({ at: 1_700_000_000_000 });
    expect(parsePointInTime('2026-11-23T18:00:00Z')).toEqual({ at: Date.UTC(2026, 10, 23, 18) });
    expect(parsePointInTime('2026-11-23T19:00:00.500+01:00')).toEqual({ at: Date.UTC(2026, 10, 23, 18, 0, 0, 500) });
    for (const bad of ['', 'yesterday', 'seq:', 'seq:-1', 'Tue, 01 Jan 2030', '1e12'])
      expect(parsePointInTime(bad)).toBeNull();
  });
});

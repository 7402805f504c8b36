import { afterEach, beforeEach, expect, it, vi } from 'vitest';
import type { EventBody, SessionEvent } from '../../shared/events.js';
import type { ChecklistItem } from '../../shared/model.js';
import type { Actor } from '../../shared/roles.js';
import { createSessionEvent, stamp } from '../../server/domain/index.js';
import type { ApplyOutcome, CommandRecord, EventFeed, SessionStore } from '../../server/store/session-store.js';

/** What a backend under test hands the contract. */
export interface StoreFixture {
  store: SessionStore;
  /**
   * Makes sure events with seq ≤ `seq` are no longer retained and every later one is,
   * the way the backend's own retention would (memory: made with `retainEvents` 10 and
   * 30 events written; Redis: the audit floor recorded, a snapshot, a trim).
   */
  retire(sessionId: string, seq: number): Promise<void>;
  dispose(): Promise<void>;
}

/** Made fresh for each test; `retainEvents` is asked for by the retention tests (backends without such a knob ignore it). */
export type FixtureOptions = { retainEvents?: number };

export interface FeedFixture extends StoreFixture {
  feed: EventFeed;
  /** The store writers use; another instance's, when the backend is shared (Redis). Default `store`. */
  writer?: SessionStore;
}

export const actor: Actor = { id: 'person-ops', name: 'Olga Ops', role: 'ops' };
const T0 = Date.UTC(2026, 10, 23, 18, 0, 0);

export function commandRecord(sessionId: string, commandId: string, at = T0): CommandRecord {
  return {
    sessionId,
    commandId,
    at,
    actor,
    command: { kind: 'session.add_checklist_item', itemId: commandId, label: commandId },
  };
}

export function item(id: string): ChecklistItem {
  return { id, label: `Item ${id}`, checked: false, checkedBy: null, checkedAt: null };
}

export function itemAdded(id: string): EventBody {
  return { kind: 'session.checklist_item_added', item: item(id) };
}

export async function createSession(
  store: SessionStore,
  sessionId: string,
  at = T0,
  title = `Show ${sessionId}`,
): Promise<ApplyOutcome> {
  const commandId = `create:${sessionId}`;
  const events = stamp(
    [createSessionEvent({ sessionId, title, scheduledFor: null, checklist: [] })],
    0,
    { now: at, commandId },
    actor,
  );
  return store.apply({ record: commandRecord(sessionId, commandId, at), expectedSeq: 0, events });
}

/**
 * The command path in small: load, decide (here: `bodies`), apply; decide again on a
 * conflict. What CommandService does, without the domain's rules.
 */
export async function run(
  store: SessionStore,
  sessionId: string,
  commandId: string,
  bodies: EventBody[],
  maxAttempts = 1000,
): Promise<Exclude<ApplyOutcome, { status: 'conflict' }> & { attempts: number }> {
  for (let attempts = 1; attempts <= maxAttempts; attempts++) {
    const state = await store.load(sessionId);
    if (!state) throw new Error(`no session ${sessionId}`);
    const seq = state.seq; // read before the next await: the state is the store's, live
    const events = stamp(bodies, seq, { now: T0 + seq, commandId }, actor);
    // A decide that takes a moment, as over the network: concurrent loops race for the seq.
    await Promise.resolve();
    const outcome = await store.apply({ record: commandRecord(sessionId, commandId), expectedSeq: seq, events });
    if (outcome.status !== 'conflict') return { ...outcome, attempts };
  }
  throw new Error(`${commandId}: still conflicting after ${maxAttempts} attempts`);
}

function seqs(events: readonly SessionEvent[] | null): number[] | null {
  return events && events.map((event) => event.seq);
}

const range = (from: number, to: number) => Array.from({ length: Math.max(0, to - from + 1) }, (_, i) => from + i);

/**
 * The SessionStore contract, run unchanged against every implementation. `factory` makes
 * an empty store (its own key prefix, for Redis) for each test.
 */
export function sessionStoreContract(factory: (options?: FixtureOptions) => Promise<StoreFixture>): void {
  let fixture: StoreFixture;
  let store: SessionStore;

  beforeEach(async () => {
    fixture = await factory();
    store = fixture.store;
  });
  afterEach(async () => {
    await fixture.dispose();
  });

  it('starts empty: no state, no result, nothing listed', async () => {
    expect(await store.load('s-none')).toBeNull();
    expect(await store.result('s-none', 'c-1')).toBeNull();
    expect(await store.list()).toEqual([]);
  });

  it('creates a session with expectedSeq 0 and session.created, once', async () => {
    const created = await createSession(store, 's-new');
    expect(created).toEqual({ status: 'applied', result: { ok: true, seq: 1, lastSeq: 1 } });
    const state = await store.load('s-new');
    expect(state).toMatchObject({ id: 's-new', title: 'Show s-new', status: 'scheduled', seq: 1, createdAt: T0 });

    const events = stamp(
      [createSessionEvent({ sessionId: 's-new', title: 'Again', scheduledFor: null })],
      0,
      { now: T0, commandId: 'create-again' },
      actor,
    );
    const again = await store.apply({ record: commandRecord('s-new', 'create-again'), expectedSeq: 0, events });
    expect(again).toEqual({ status: 'conflict', currentSeq: 1 });
    expect((await store.load('s-new'))?.title).toBe('Show s-new');
  });

  it('refuses malformed applies before writing anything', async () => {
    await createSession(store, 's-bad');
    const events = stamp([itemAdded('a')], 5, { now: T0, commandId: 'c-bad' }, actor);
    await expect(store.apply({ record: commandRecord('s-bad', 'c-bad'), expectedSeq: 1, events })).rejects.toThrow(
      TypeError,
    );
    await expect(
      store.apply({ record: commandRecord('s-bad', 'c-empty'), expectedSeq: 1, events: [] }),
    ).rejects.toThrow(TypeError);
    expect((await store.load('s-bad'))?.seq).toBe(1);
    expect(await store.result('s-bad', 'c-bad')).toBeNull();
  });

  it('numbers events contiguously across commands of one or several events', async () => {
    await createSession(store, 's-seq');
    const a = await run(store, 's-seq', 'c-a', [itemAdded('a')]);
    const b = await run(store, 's-seq', 'c-b', [itemAdded('b'), itemAdded('c'), itemAdded('d')]);
    const c = await run(store, 's-seq', 'c-c', [itemAdded('e'), itemAdded('f')]);
    expect([a.result, b.result, c.result]).toEqual([
      { ok: true, seq: 2, lastSeq: 2 },
      { ok: true, seq: 3, lastSeq: 5 },
      { ok: true, seq: 6, lastSeq: 7 },
    ]);
    expect(seqs(await store.readSince('s-seq', 0))).toEqual(range(1, 7));
    const state = await store.load('s-seq');
    expect(state?.seq).toBe(7);
    expect(state?.checklist.map((i) => i.id)).toEqual(['a', 'b', 'c', 'd', 'e', 'f']);
    expect(await store.result('s-seq', 'c-b')).toEqual({ ok: true, seq: 3, lastSeq: 5 });
  });

  it('answers a command id seen before with its first result and writes nothing', async () => {
    await createSession(store, 's-dup');
    const first = await run(store, 's-dup', 'c-once', [itemAdded('x')]);
    expect(first.status).toBe('applied');

    // Same id, decided again on the new state: still the first result.
    const again = await run(store, 's-dup', 'c-once', [itemAdded('y')]);
    expect(again).toMatchObject({ status: 'duplicate', result: { ok: true, seq: 2, lastSeq: 2 } });
    // Same id with a stale expectedSeq: the id is checked before the seq.
    const stale = stamp([itemAdded('z')], 1, { now: T0, commandId: 'c-once' }, actor);
    expect(await store.apply({ record: commandRecord('s-dup', 'c-once'), expectedSeq: 1, events: stale })).toEqual({
      status: 'duplicate',
      result: { ok: true, seq: 2, lastSeq: 2 },
    });

    expect((await store.load('s-dup'))?.seq).toBe(2);
    expect((await store.load('s-dup'))?.checklist.map((i) => i.id)).toEqual(['x']);
    expect(seqs(await store.readSince('s-dup', 0))).toEqual([1, 2]);
  });

  it('is a conflict on a stale expectedSeq, with the current seq, and writes nothing', async () => {
    await createSession(store, 's-stale');
    await run(store, 's-stale', 'c-1', [itemAdded('one')]);
    await run(store, 's-stale', 'c-2', [itemAdded('two')]);
    const events = stamp([itemAdded('late')], 1, { now: T0, commandId: 'c-late' }, actor);
    expect(await store.apply({ record: commandRecord('s-stale', 'c-late'), expectedSeq: 1, events })).toEqual({
      status: 'conflict',
      currentSeq: 3,
    });
    expect(await store.result('s-stale', 'c-late')).toBeNull();
    expect(seqs(await store.readSince('s-stale', 0))).toEqual([1, 2, 3]);
    // Not remembered: decided again, it applies.
    expect((await run(store, 's-stale', 'c-late', [itemAdded('late')])).result).toEqual({
      ok: true,
      seq: 4,
      lastSeq: 4,
    });
  });

  it('lets exactly one of two applies on one seq win', async () => {
    await createSession(store, 's-race2');
    const [a, b] = await Promise.all(
      ['c-left', 'c-right'].map((id) =>
        store.apply({
          record: commandRecord('s-race2', id),
          expectedSeq: 1,
          events: stamp([itemAdded(id)], 1, { now: T0, commandId: id }, actor),
        }),
      ),
    );
    expect([a!.status, b!.status].sort()).toEqual(['applied', 'conflict']);
    expect((await store.load('s-race2'))?.seq).toBe(2);
  });

  it('keeps every update of 50 concurrent decide-retry loops: seqs 1..51, nothing lost', async () => {
    await createSession(store, 's-race');
    const outcomes = await Promise.all(
      range(1, 50).map((n) =>
        run(
          store,
          's-race',
          `c-${n}`,
          n % 7 === 0 ? [itemAdded(`i-${n}`), itemAdded(`j-${n}`)] : [itemAdded(`i-${n}`)],
        ),
      ),
    );
    expect(outcomes.every((o) => o.status === 'applied')).toBe(true);
    const total = 1 + outcomes.reduce((sum, o) => sum + (o.result.ok ? o.result.lastSeq - o.result.seq + 1 : 0), 0);
    const claimed = outcomes
      .flatMap((o) => (o.result.ok ? range(o.result.seq, o.result.lastSeq) : []))
      .sort((x, y) => x - y);
    expect(claimed).toEqual(range(2, total));
    expect(outcomes.some((o) => o.attempts > 1)).toBe(true);

    const state = await store.load('s-race');
    expect(state?.seq).toBe(total);
    expect(new Set(state?.checklist.map((i) => i.id))).toEqual(
      new Set(range(1, 50).flatMap((n) => (n % 7 === 0 ? [`i-${n}`, `j-${n}`] : [`i-${n}`]))),
    );
    const events = await store.readSince('s-race', 0);
    expect(seqs(events)).toEqual(range(1, total));
    // Each event belongs to the command whose result claims its seq.
    outcomes.forEach((outcome, index) => {
      if (!outcome.result.ok) return;
      for (const seq of range(outcome.result.seq, outcome.result.lastSeq))
        expect(events![seq - 1]!.commandId).toBe(`c-${index + 1}`);
    });
  });

  it('hands out the current state without copying it per load', async () => {
    await createSession(store, 's-copy');
    const before = await store.load('s-copy');
    expect(await store.load('s-copy')).toBe(before);
    await run(store, 's-copy', 'c-1', [itemAdded('a')]);
    expect((await store.load('s-copy'))?.checklist.map((i) => i.id)).toEqual(['a']);
  });

  it('stores a refusal, answers a retry with it, and never applies that id later', async () => {
    await createSession(store, 's-ref');
    const error = { code: 'forbidden', message: 'host may not do that' } as const;
    expect(await store.refuse(commandRecord('s-ref', 'c-no'), error)).toEqual({ ok: false, error });
    expect(await store.refuse(commandRecord('s-ref', 'c-no'), { code: 'conflict', message: 'other' })).toEqual({
      ok: false,
      error,
    });
    expect(await store.result('s-ref', 'c-no')).toEqual({ ok: false, error });

    const events = stamp([itemAdded('no')], 1, { now: T0, commandId: 'c-no' }, actor);
    expect(await store.apply({ record: commandRecord('s-ref', 'c-no'), expectedSeq: 1, events })).toEqual({
      status: 'duplicate',
      result: { ok: false, error },
    });
    expect((await store.load('s-ref'))?.seq).toBe(1);
    expect(seqs(await store.readSince('s-ref', 0))).toEqual([1]);

    // A refusal after an apply of the same id returns the apply's result.
    await run(store, 's-ref', 'c-yes', [itemAdded('yes')]);
    expect(await store.refuse(commandRecord('s-ref', 'c-yes'), error)).toEqual({ ok: true, seq: 2, lastSeq: 2 });
    // Refusals interleaved with applies leave the seqs alone.
    await store.refuse(commandRecord('s-ref', 'c-no-2'), error);
    expect((await run(store, 's-ref', 'c-after', [itemAdded('after')])).result).toEqual({
      ok: true,
      seq: 3,
      lastSeq: 3,
    });
    expect(seqs(await store.readSince('s-ref', 0))).toEqual([1, 2, 3]);
  });

  it('reads events since a seq exactly, and says null once they are not retained', async () => {
    await fixture.dispose();
    fixture = await factory({ retainEvents: 10 });
    store = fixture.store;
    await createSession(store, 's-read');
    for (let n = 2; n <= 30; n++) await run(store, 's-read', `c-${n}`, [itemAdded(`i-${n}`)]);
    expect(seqs(await store.readSince('s-read', 25))).toEqual(range(26, 30));
    await fixture.retire('s-read', 20);

    expect(seqs(await store.readSince('s-read', 20))).toEqual(range(21, 30));
    expect(seqs(await store.readSince('s-read', 25))).toEqual(range(26, 30));
    expect(await store.readSince('s-read', 30)).toEqual([]);
    expect(await store.readSince('s-read', 19)).toBeNull();
    expect(await store.readSince('s-read', 0)).toBeNull();
    const events = await store.readSince('s-read', 27);
    expect(events?.map((e) => e.kind === 'session.checklist_item_added' && e.item.id)).toEqual([
      'i-28',
      'i-29',
      'i-30',
    ]);

    // Retention never changes the state, and the session goes on.
    const state = await store.load('s-read');
    expect(state?.seq).toBe(30);
    expect(state?.checklist).toHaveLength(29);
    expect((await run(store, 's-read', 'c-31', [itemAdded('i-31')])).result).toEqual({
      ok: true,
      seq: 31,
      lastSeq: 31,
    });
    expect(seqs(await store.readSince('s-read', 21))).toEqual(range(22, 31));
  });

  it('lists sessions newest first with their title, status and seq', async () => {
    await createSession(store, 's-old', T0, 'Old show');
    await createSession(store, 's-young', T0 + 60_000, 'Young show');
    await createSession(store, 's-mid', T0 + 30_000, 'Mid show');
    await run(store, 's-mid', 'c-pre', [
      {
        kind: 'session.status_changed',
        from: 'scheduled',
        to: 'preflight',
        override: false,
        uncheckedItems: [],
        reason: null,
      },
    ]);
    expect(await store.list()).toEqual([
      { id: 's-young', title: 'Young show', status: 'scheduled', createdAt: T0 + 60_000, seq: 1 },
      { id: 's-mid', title: 'Mid show', status: 'preflight', createdAt: T0 + 30_000, seq: 2 },
      { id: 's-old', title: 'Old show', status: 'scheduled', createdAt: T0, seq: 1 },
    ]);
  });
}

/**
 * The EventFeed contract: from any seq, every later event exactly once, in order, whatever
 * the writers do meanwhile.
 */
export function eventFeedContract(factory: (options?: FixtureOptions) => Promise<FeedFixture>): void {
  let fixture: FeedFixture;

  beforeEach(async () => {
    fixture = await factory();
  });
  afterEach(async () => {
    await fixture.feed.close();
    await fixture.dispose();
  });

  /** A subscriber that records what it gets and checks order on every batch. */
  function collector(sessionId: string, afterSeq: number, onLost?: () => void) {
    const got: number[] = [];
    const problems: string[] = [];
    let batches = 0;
    let expected = afterSeq + 1;
    const stop = fixture.feed.subscribe(
      sessionId,
      afterSeq,
      (events) => {
        batches++;
        if (events.length === 0) problems.push('empty batch');
        for (const event of events) {
          if (event.seq !== expected) problems.push(`got ${event.seq}, expected ${expected}`);
          expected = event.seq + 1;
          got.push(event.seq);
        }
      },
      onLost ? { onLost } : {},
    );
    return { got, problems, stop, batches: () => batches };
  }

  const writer = () => fixture.writer ?? fixture.store;

  it('delivers from any seq exactly the later events, in order, across concurrent writers', async () => {
    const store = writer();
    await createSession(store, 's-feed');
    for (let n = 1; n <= 10; n++) await run(store, 's-feed', `pre-${n}`, [itemAdded(`pre-${n}`)]);

    const fromZero = collector('s-feed', 0);
    const fromSeven = collector('s-feed', 7);
    const fromNow = collector('s-feed', 11);

    let late: ReturnType<typeof collector> | undefined;
    const writers = range(1, 5).map(async (w) => {
      for (let n = 1; n <= 12; n++) {
        const bodies = n % 4 === 0 ? [itemAdded(`w${w}-${n}`), itemAdded(`w${w}-${n}b`)] : [itemAdded(`w${w}-${n}`)];
        await run(store, 's-feed', `w${w}-${n}`, bodies);
        if (w === 3 && n === 6) late = collector('s-feed', 5);
      }
    });
    await Promise.all(writers);
    const final = (await store.load('s-feed'))!.seq;
    expect(final).toBe(11 + 5 * 12 + 5 * 3);

    const all = [fromZero, fromSeven, fromNow, late!];
    await vi.waitFor(() => {
      for (const c of all) expect(c.got.at(-1)).toBe(final);
    });
    expect(fromZero.got).toEqual(range(1, final));
    expect(fromSeven.got).toEqual(range(8, final));
    expect(fromNow.got).toEqual(range(12, final));
    expect(late!.got).toEqual(range(6, final));
    for (const c of all) expect(c.problems).toEqual([]);
    for (const c of all) c.stop();
  });

  it('delivers a session created after the subscription from its first event', async () => {
    const early = collector('s-later', 0);
    await createSession(writer(), 's-later');
    await run(writer(), 's-later', 'c-1', [itemAdded('a'), itemAdded('b')]);
    await vi.waitFor(() => expect(early.got).toEqual([1, 2, 3]));
    expect(early.problems).toEqual([]);
    early.stop();
  });

  it('stops delivering once unsubscribed, without disturbing other subscribers', async () => {
    await createSession(writer(), 's-stop');
    const stays = collector('s-stop', 1);
    const leaves = collector('s-stop', 1);
    await run(writer(), 's-stop', 'c-1', [itemAdded('a')]);
    await vi.waitFor(() => expect(leaves.got).toEqual([2]));
    leaves.stop();
    await run(writer(), 's-stop', 'c-2', [itemAdded('b')]);
    await run(writer(), 's-stop', 'c-3', [itemAdded('c')]);
    await vi.waitFor(() => expect(stays.got).toEqual([2, 3, 4]));
    expect(leaves.got).toEqual([2]);
    stays.stop();
  });

  it('tells a subscriber whose resume point is no longer retained, and delivers nothing to it', async () => {
    await fixture.feed.close();
    await fixture.dispose();
    fixture = await factory({ retainEvents: 10 });
    await createSession(writer(), 's-lost');
    for (let n = 2; n <= 30; n++) await run(writer(), 's-lost', `c-${n}`, [itemAdded(`i-${n}`)]);
    await fixture.retire('s-lost', 20);
    let lost = 0;
    const gone = collector('s-lost', 3, () => lost++);
    const fine = collector('s-lost', 20);
    await vi.waitFor(() => expect(fine.got).toEqual(range(21, 30)));
    await vi.waitFor(() => expect(lost).toBe(1));
    expect(gone.got).toEqual([]);
    fine.stop();
  });
}

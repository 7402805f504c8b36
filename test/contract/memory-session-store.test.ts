import { describe, expect, it, vi } from 'vitest';
import { MemorySessionStore } from '../../server/store/memory-session-store.js';
import type { AuditRecord } from '../../server/store/session-store.js';
import {
  commandRecord,
  createSession,
  eventFeedContract,
  itemAdded,
  run,
  sessionStoreContract,
  type FeedFixture,
  type FixtureOptions,
  type StoreFixture,
} from './session-store.contract.js';

/*
 * Retention in memory is `retainEvents`: with 10 kept, the 30 events the retention tests
 * write leave 21..30, which is what `retire(…, 20)` asks for. The onCommit variant runs
 * the same contract with commits that resolve later and out of order.
 */
function fixture(store: MemorySessionStore): StoreFixture & FeedFixture {
  return {
    store,
    feed: store.feed,
    async retire(sessionId, seq) {
      const state = await store.load(sessionId);
      if (!state || state.seq - seq !== 10)
        throw new Error(`memory retention keeps 10: retire(${seq}) needs seq ${seq + 10}`);
    },
    dispose: () => store.close(),
  };
}

const variants: Record<string, (options: FixtureOptions) => MemorySessionStore> = {
  MemorySessionStore: (options) => new MemorySessionStore(options),
  'MemorySessionStore with a slow onCommit': (options) =>
    new MemorySessionStore({
      ...options,
      onCommit: () => new Promise((resolve) => setTimeout(resolve, Math.floor(Math.random() * 3))),
    }),
};

for (const [name, make] of Object.entries(variants)) {
  describe(`${name}: SessionStore contract`, () =>
    sessionStoreContract(async (options = {}) => fixture(make(options))));
  describe(`${name}: EventFeed contract`, () => eventFeedContract(async (options = {}) => fixture(make(options))));
}

describe('MemorySessionStore: durability through onCommit', () => {
  function deferred() {
    let resolve!: () => void;
    let reject!: (error: unknown) => void;
    const promise = new Promise<void>((res, rej) => ((resolve = res), (reject = rej)));
    return { promise, resolve, reject };
  }

  it('answers and publishes a command only once its records are committed, in seq order', async () => {
    const commits: { records: AuditRecord[]; done: ReturnType<typeof deferred> }[] = [];
    const store = new MemorySessionStore({
      onCommit: (records) => {
        const done = deferred();
        commits.push({ records, done });
        return done.promise;
      },
    });
    const seen: number[] = [];
    store.feed.subscribe('s-durable', 0, (events) => seen.push(...events.map((e) => e.seq)));

    const created = createSession(store, 's-durable');
    await vi.waitFor(() => expect(commits).toHaveLength(1));
    expect(commits[0]!.records.map((r) => r.type)).toEqual(['command', 'event']);
    commits[0]!.done.resolve();
    expect((await created).status).toBe('applied');

    let answered = 0;
    const first = run(store, 's-durable', 'c-1', [itemAdded('a'), itemAdded('b')]).then((o) => (answered++, o));
    const second = run(store, 's-durable', 'c-2', [itemAdded('c')]).then((o) => (answered++, o));
    await vi.waitFor(() => expect(commits).toHaveLength(3));
    // The later command commits first: neither is answered or published before the earlier one.
    commits[2]!.done.resolve();
    await new Promise((resolve) => setImmediate(resolve));
    expect(answered).toBe(0);
    expect(await store.readSince('s-durable', 1)).toEqual([]);
    expect(await store.result('s-durable', 'c-2')).toBeNull();
    // decide sees the reserved state meanwhile, so concurrent commands chain without conflict.
    expect((await store.load('s-durable'))?.seq).toBe(4);

    commits[1]!.done.resolve();
    expect((await first).result).toEqual({ ok: true, seq: 2, lastSeq: 3 });
    expect((await second).result).toEqual({ ok: true, seq: 4, lastSeq: 4 });
    await vi.waitFor(() => expect(seen).toEqual([1, 2, 3, 4]));
    expect((await store.readSince('s-durable', 0))?.map((e) => e.seq)).toEqual([1, 2, 3, 4]);
    await store.close();
  });

  it('answers unavailable while a commit fails, retries it, then answers the retry with the result', async () => {
    let failing = true;
    const attempts: string[] = [];
    const store = new MemorySessionStore({
      commitRetryMinMs: 1,
      commitRetryMaxMs: 5,
      onCommit: async (records) => {
        const command = records[0]!;
        attempts.push(command.type === 'event' ? 'event' : command.commandId);
        if (failing && command.type === 'command' && command.commandId === 'c-fails') throw new Error('disk full');
      },
    });
    const seen: number[] = [];
    store.feed.subscribe('s-fail', 0, (events) => seen.push(...events.map((e) => e.seq)));
    await createSession(store, 's-fail');

    await expect(run(store, 's-fail', 'c-fails', [itemAdded('a')])).rejects.toMatchObject({ code: 'unavailable' });
    // A later command waits behind it: its own commit lands, but it is not answered as applied.
    await expect(run(store, 's-fail', 'c-next', [itemAdded('b')])).rejects.toMatchObject({ code: 'unavailable' });
    await expect(run(store, 's-fail', 'c-fails', [itemAdded('a')])).rejects.toMatchObject({ code: 'unavailable' });
    expect(seen).toEqual([1]);
    expect(await store.readSince('s-fail', 1)).toEqual([]);

    failing = false;
    await vi.waitFor(() => expect(seen).toEqual([1, 2, 3]));
    expect(await run(store, 's-fail', 'c-fails', [itemAdded('a')])).toMatchObject({
      status: 'duplicate',
      result: { ok: true, seq: 2, lastSeq: 2 },
    });
    expect(await run(store, 's-fail', 'c-next', [itemAdded('b')])).toMatchObject({
      status: 'duplicate',
      result: { ok: true, seq: 3, lastSeq: 3 },
    });
    expect(attempts.filter((a) => a === 'c-next')).toHaveLength(1);
    await store.close();
  });

  it('forgets a refusal whose commit failed, so the retry refuses again', async () => {
    let fail = true;
    const store = new MemorySessionStore({
      onCommit: async () => {
        if (fail) throw new Error('disk full');
      },
    });
    const error = { code: 'forbidden', message: 'no' } as const;
    await expect(store.refuse(commandRecord('s-x', 'c-r'), error)).rejects.toMatchObject({ code: 'unavailable' });
    expect(await store.result('s-x', 'c-r')).toBeNull();
    fail = false;
    expect(await store.refuse(commandRecord('s-x', 'c-r'), error)).toEqual({ ok: false, error });
    expect(await store.result('s-x', 'c-r')).toEqual({ ok: false, error });
  });
});

describe('MemorySessionStore: restore and result expiry', () => {
  it('restores a session from its fold, recent events and command results', async () => {
    const source = new MemorySessionStore();
    await createSession(source, 's-back');
    for (let n = 2; n <= 8; n++) await run(source, 's-back', `c-${n}`, [itemAdded(`i-${n}`)]);
    const state = (await source.load('s-back'))!;
    const events = (await source.readSince('s-back', 0))!;

    let now = Date.UTC(2026, 10, 23, 20, 0, 0);
    const store = new MemorySessionStore({ retainEvents: 5, now: () => now });
    store.restore(state, events, [
      { commandId: 'c-8', result: { ok: true, seq: 8, lastSeq: 8 }, at: now - 1000 },
      { commandId: 'c-old', result: { ok: true, seq: 2, lastSeq: 2 }, at: now - 2 * 86_400_000 },
    ]);
    expect(await store.load('s-back')).toEqual(state);
    expect((await store.readSince('s-back', 3))?.map((e) => e.seq)).toEqual([4, 5, 6, 7, 8]);
    expect(await store.readSince('s-back', 2)).toBeNull();
    expect(await store.result('s-back', 'c-8')).toEqual({ ok: true, seq: 8, lastSeq: 8 });
    expect(await store.result('s-back', 'c-old')).toBeNull();
    expect((await run(store, 's-back', 'c-8', [itemAdded('again')])).status).toBe('duplicate');
    expect((await run(store, 's-back', 'c-9', [itemAdded('i-9')])).result).toEqual({ ok: true, seq: 9, lastSeq: 9 });

    now += 86_400_000;
    expect(await store.result('s-back', 'c-8')).toBeNull();
    expect(() => store.restore(state, events.slice(0, 3))).toThrow(RangeError);
  });
});

import { Redis } from 'ioredis';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { RedisEventFeed } from '../../server/store/redis-event-feed.js';
import { AUDIT_FLOOR } from '../../server/store/redis-scripts.js';
import { RedisSessionStore, type RedisSessionStoreOptions } from '../../server/store/redis-session-store.js';
import { serviceAvailable, TEST_REDIS_URL, uniqueName } from '../support/services.js';
import { stamp } from '../../server/domain/index.js';
import type { SessionEvent } from '../../shared/events.js';
import {
  actor,
  commandRecord,
  createSession,
  eventFeedContract,
  itemAdded,
  run,
  sessionStoreContract,
  type FeedFixture,
} from './session-store.contract.js';

const redisUp = await serviceAvailable('redis');

/** A command connection as production makes it: fail fast, no stale replays (NOTES). */
function commandClient(): Redis {
  const redis = new Redis(TEST_REDIS_URL, { maxRetriesPerRequest: 1, enableOfflineQueue: true, commandTimeout: 5000 });
  redis.on('error', () => {});
  return redis;
}

function blockingClient(): Redis {
  const redis = new Redis(TEST_REDIS_URL, { maxRetriesPerRequest: null, connectionName: uniqueName('feed') });
  redis.on('error', () => {});
  return redis;
}

/** The `CLIENT LIST` line of a named connection (`cmd=xread` once its read reached Redis). */
async function clientLine(redis: Redis, connection: Redis): Promise<string | undefined> {
  const name = connection.options.connectionName!;
  return String(await redis.call('CLIENT', 'LIST', 'TYPE', 'normal'))
    .split('\n')
    .find((line) => line.includes(` name=${name} `));
}

async function deletePrefix(redis: Redis, prefix: string): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 500);
    cursor = next;
    if (keys.length) await redis.unlink(...keys);
  } while (cursor !== '0');
}

interface RedisFixture extends FeedFixture {
  prefix: string;
  redis: Redis;
  stores: RedisSessionStore[];
  feeds: RedisEventFeed[];
  /** Another instance on the same prefix: its own connections and cache. */
  instance(options?: RedisSessionStoreOptions): RedisSessionStore;
  feedOf(store: RedisSessionStore, options?: { blockMs?: number }): { feed: RedisEventFeed; blocking: Redis };
}

/**
 * Two instances by default: writers use one store, the feed and the reads the other, each
 * with its own connections, as two app instances sharing one Redis would.
 */
async function redisFixture(options: RedisSessionStoreOptions = {}): Promise<RedisFixture> {
  const prefix = uniqueName('cueroom_test');
  const clients: Redis[] = [];
  const stores: RedisSessionStore[] = [];
  const feeds: RedisEventFeed[] = [];
  const client = (make: () => Redis) => {
    const made = make();
    clients.push(made);
    return made;
  };
  const instance = (more: RedisSessionStoreOptions = {}) => {
    const store = new RedisSessionStore(client(commandClient), prefix, { snapshotEvery: 10, ...options, ...more });
    stores.push(store);
    return store;
  };
  const feedOf = (store: RedisSessionStore, more: { blockMs?: number } = {}) => {
    const blocking = client(blockingClient);
    const feed = new RedisEventFeed({
      blocking,
      command: client(commandClient),
      store,
      prefix,
      blockMs: 2000,
      ...more,
    });
    feeds.push(feed);
    return { feed, blocking };
  };
  const redis = client(commandClient);
  const reader = instance();
  const writer = instance();
  const { feed } = feedOf(reader);
  return {
    prefix,
    redis,
    stores,
    feeds,
    instance,
    feedOf,
    store: reader,
    writer,
    feed,
    async retire(sessionId, seq) {
      // What production does: the shipper records the audit floor, a snapshot exists past
      // it, and the retention task trims.
      await AUDIT_FLOOR.run(redis, [reader.keys.meta(sessionId)], [`${seq}-0`]);
      await reader.snapshot(sessionId);
      expect(await reader.trim(sessionId, seq, 0)).toBeGreaterThan(0);
    },
    async dispose() {
      for (const one of feeds) await one.close();
      for (const one of stores) await one.close();
      await deletePrefix(redis, prefix);
      await Promise.all(clients.map((one) => one.quit().catch(() => one.disconnect())));
    },
  };
}

describe.skipIf(!redisUp)('RedisSessionStore', () => {
  describe('SessionStore contract', () => sessionStoreContract(() => redisFixture()));
  describe('SessionStore contract, one instance', () =>
    sessionStoreContract(async () => {
      const fixture = await redisFixture();
      return { ...fixture, store: fixture.writer! };
    }));
  describe('EventFeed contract (writers on another instance)', () => eventFeedContract(() => redisFixture()));

  describe('Redis specifics', () => {
    let fixture: RedisFixture;
    afterEach(async () => {
      await fixture?.dispose();
    });

    it('keeps one stream entry per command: `<lastSeq>-0` for applies, `<seq>-<n>` for refusals', async () => {
      fixture = await redisFixture();
      const store = fixture.writer as RedisSessionStore;
      await createSession(store, 's-ids');
      await run(store, 's-ids', 'c-1', [itemAdded('a'), itemAdded('b')]);
      const error = { code: 'forbidden', message: 'no' } as const;
      await store.refuse(commandRecord('s-ids', 'r-1'), error);
      await store.refuse(commandRecord('s-ids', 'r-2'), error);
      await run(store, 's-ids', 'c-2', [itemAdded('c')]);
      await store.refuse(commandRecord('s-ids', 'r-3'), error);
      await store.refuse(commandRecord('s-ids', 'r-1'), error); // a retry: nothing written

      const entries = await fixture.redis.xrange(store.keys.events('s-ids'), '-', '+');
      expect(entries.map(([id]) => id)).toEqual(['1-0', '3-0', '3-1', '3-2', '4-0', '4-1']);
      const records = entries.map(([, fields]) => JSON.parse(fields[fields.indexOf('records') + 1]!));
      expect(records[1].map((r: { type: string }) => r.type)).toEqual(['command', 'event', 'event']);
      expect(records[2]).toMatchObject([{ type: 'refused', commandId: 'r-1', result: { ok: false, error } }]);
      expect(await fixture.redis.ttl(store.keys.command('s-ids', 'c-1'))).toBeGreaterThan(86_000);
      expect(await fixture.redis.sismember(store.keys.auditActive(), 's-ids')).toBe(1);
    });

    it('folds from a snapshot every snapshotEvery events, and a cold instance loads the same state', async () => {
      fixture = await redisFixture({ snapshotEvery: 5 });
      const store = fixture.writer as RedisSessionStore;
      await createSession(store, 's-snap');
      for (let n = 2; n <= 23; n++) await run(store, 's-snap', `c-${n}`, [itemAdded(`i-${n}`)]);
      await store.close(); // waits for the background snapshot writes
      const snapSeq = Number(await fixture.redis.hget(store.keys.snapshot('s-snap'), 'seq'));
      expect(snapSeq).toBeGreaterThanOrEqual(20);
      const cold = fixture.instance();
      const warm = await store.load('s-snap');
      expect(await cold.load('s-snap')).toEqual(warm);
      expect(warm?.seq).toBe(23);
      expect(warm?.checklist).toHaveLength(22);
    });

    it('sees what another instance wrote although it caches states', async () => {
      fixture = await redisFixture();
      const [a, b] = [fixture.store as RedisSessionStore, fixture.writer as RedisSessionStore];
      await createSession(a, 's-two');
      expect((await b.load('s-two'))?.seq).toBe(1);
      await run(a, 's-two', 'c-a', [itemAdded('a')]);
      expect((await b.load('s-two'))?.checklist.map((i) => i.id)).toEqual(['a']);
      await run(b, 's-two', 'c-b', [itemAdded('b')]);
      await run(a, 's-two', 'c-c', [itemAdded('c')]);
      expect(await a.load('s-two')).toEqual(await b.load('s-two'));
      // The same command id through the other instance: a duplicate.
      expect((await run(b, 's-two', 'c-a', [itemAdded('z')])).status).toBe('duplicate');
      // 40 racers spread over both instances.
      const outcomes = await Promise.all(
        Array.from({ length: 40 }, (_, n) => run(n % 2 ? a : b, 's-two', `r-${n}`, [itemAdded(`r-${n}`)])),
      );
      expect(outcomes.every((o) => o.status === 'applied')).toBe(true);
      expect((await a.load('s-two'))?.seq).toBe(44);
      expect((await b.readSince('s-two', 0))?.map((e) => e.seq)).toEqual(Array.from({ length: 44 }, (_, i) => i + 1));
    });

    it('recovers when Redis lost writes its cache still holds (a restart without AOF)', async () => {
      fixture = await redisFixture();
      const [a, b] = [fixture.store as RedisSessionStore, fixture.writer as RedisSessionStore];
      await createSession(a, 's-lost');
      for (let n = 1; n <= 3; n++) await run(a, 's-lost', `c-${n}`, [itemAdded(`i-${n}`)]);
      await deletePrefix(fixture.redis, `${fixture.prefix}:${a.keys.tag('s-lost')}`);
      await createSession(b, 's-lost');
      await run(b, 's-lost', 'c-b', [itemAdded('b')]);
      const outcome = await run(a, 's-lost', 'c-after', [itemAdded('after')]);
      expect(outcome.result).toEqual({ ok: true, seq: 3, lastSeq: 3 });
      expect((await a.load('s-lost'))?.checklist.map((i) => i.id)).toEqual(['b', 'after']);
    });

    it('trims never past the audit floor, the given floor or the snapshot, nor younger entries', async () => {
      let now = 1_000_000;
      fixture = await redisFixture({ snapshotEvery: 1000, now: () => now });
      const store = fixture.writer as RedisSessionStore;
      await createSession(store, 's-trim');
      for (let n = 2; n <= 30; n++) {
        now += 1000;
        await run(store, 's-trim', `c-${n}`, [itemAdded(`i-${n}`)]);
      }
      const meta = store.keys.meta('s-trim');
      expect(await store.trim('s-trim', 30, 0)).toBe(0); // no audit floor recorded yet
      await AUDIT_FLOOR.run(fixture.redis, [meta], ['25-0']);
      expect(await store.trim('s-trim', 30, 0)).toBe(0); // no snapshot yet
      await store.snapshot('s-trim');
      expect(await store.trim('s-trim', 10, 0)).toBe(10); // the caller's floor
      expect(await store.readSince('s-trim', 9)).toBeNull();
      expect((await store.readSince('s-trim', 10))?.[0]?.seq).toBe(11);
      expect(await store.trim('s-trim', 30, 10_500)).toBe(9); // entries of the last 10.5 s stay
      expect(await store.trim('s-trim', 30, 0)).toBe(6); // up to the audit floor 25
      expect(await store.readSince('s-trim', 24)).toBeNull();
      expect((await store.readSince('s-trim', 25))?.map((e) => e.seq)).toEqual([26, 27, 28, 29, 30]);
      await AUDIT_FLOOR.run(fixture.redis, [meta], ['20-0']); // never lowered
      expect(await fixture.redis.hget(meta, 'auditFloor')).toBe('25-0');
      // Load still works from the snapshot, on a cold instance too.
      expect((await fixture.instance().load('s-trim'))?.checklist).toHaveLength(29);
    });

    it('expires an ended session’s keys', async () => {
      fixture = await redisFixture();
      const store = fixture.writer as RedisSessionStore;
      await createSession(store, 's-exp');
      await store.snapshot('s-exp');
      await store.expire('s-exp', 3600);
      for (const key of [store.keys.meta('s-exp'), store.keys.events('s-exp'), store.keys.snapshot('s-exp')]) {
        expect(await fixture.redis.ttl(key)).toBeGreaterThan(3500);
      }
    });

    it('answers unavailable when Redis is away', async () => {
      fixture = await redisFixture();
      const redis = new Redis(TEST_REDIS_URL, {
        maxRetriesPerRequest: 1,
        enableOfflineQueue: false,
        lazyConnect: true,
      });
      redis.on('error', () => {});
      const offline = new RedisSessionStore(redis, fixture.prefix);
      await expect(offline.load('s-any')).rejects.toMatchObject({ code: 'unavailable' });
      redis.disconnect();
    });

    it('wakes a blocked read for a new session at once (CLIENT UNBLOCK), and survives a reconnect', async () => {
      fixture = await redisFixture();
      const writer = fixture.writer!;
      const { feed, blocking } = fixture.feedOf(fixture.store as RedisSessionStore, { blockMs: 60_000 });
      await createSession(writer, 's-a');
      await createSession(writer, 's-b');
      const a: number[] = [];
      const b: number[] = [];
      feed.subscribe('s-a', 1, (events) => a.push(...events.map((e) => e.seq)));
      const blockingLine = () => clientLine(fixture.redis, blocking);
      await vi.waitFor(async () => expect(await blockingLine()).toMatch(/cmd=xread/));
      feed.subscribe('s-b', 1, (events) => b.push(...events.map((e) => e.seq)));
      await run(writer, 's-b', 'b-1', [itemAdded('b1')]);
      // With a 60 s block, only an unblock delivers within vi.waitFor's second.
      await vi.waitFor(() => expect(b).toEqual([2]));

      const killed = new Promise((resolve) => blocking.once('close', resolve));
      const id = /\bid=(\d+)/.exec((await blockingLine()) ?? '')![1]!;
      await fixture.redis.client('KILL', 'ID', id);
      await killed;
      for (let n = 2; n <= 6; n++) {
        await run(writer, 's-a', `a-${n}`, [itemAdded(`a${n}`)]);
        await run(writer, 's-b', `b-${n}`, [itemAdded(`b${n}`)]);
      }
      await vi.waitFor(() => expect(a).toEqual([2, 3, 4, 5, 6]), { timeout: 5000 });
      await vi.waitFor(() => expect(b).toEqual([2, 3, 4, 5, 6, 7]), { timeout: 5000 });
    });

    it('wakes a blocked read for a new session at once when reading began before the connection was ready', async () => {
      // ioredis sends CLIENT ID between 'connect' and 'ready' (before its ready check has
      // answered) and its reply can come first: the feed must not forget that id on 'ready'.
      fixture = await redisFixture();
      const writer = fixture.writer!;
      await createSession(writer, 's-early');
      await createSession(writer, 's-late');
      const blocking = new Redis(TEST_REDIS_URL, { maxRetriesPerRequest: null, lazyConnect: true });
      blocking.on('error', () => {});
      const feed = new RedisEventFeed({
        blocking,
        command: fixture.redis,
        store: fixture.store,
        prefix: fixture.prefix,
        blockMs: 60_000,
      });
      try {
        const connected = new Promise((resolve) => blocking.once('connect', resolve));
        const ready = new Promise((resolve) => blocking.once('ready', resolve));
        void blocking.connect();
        await connected;
        feed.subscribe('s-early', 1, () => {});
        await ready;
        const late: number[] = [];
        feed.subscribe('s-late', 1, (events) => late.push(...events.map((e) => e.seq)));
        await run(writer, 's-late', 'late-2', [itemAdded('l2')]);
        // With a 60 s block, only an unblock delivers within vi.waitFor's second.
        await vi.waitFor(() => expect(late).toEqual([2]));
      } finally {
        await feed.close();
        blocking.disconnect();
      }
    });

    it('serves sessions joining one after another at once, and closes at once, whatever read is in flight', async () => {
      // Every join ends the read in flight; a join right after another, or close() right
      // after a join, lands while an earlier kick is still under way. With a 60 s block,
      // a missed kick shows as a late event or a close() that outlasts the test.
      fixture = await redisFixture();
      const writer = fixture.writer!;
      for (let round = 0; round < 8; round++) {
        const { feed } = fixture.feedOf(fixture.store as RedisSessionStore, { blockMs: 60_000 });
        const got = new Map<string, number[]>();
        for (let n = 0; n < 4; n++) {
          const sessionId = `s-join-${round}-${n}`;
          await createSession(writer, sessionId);
          got.set(sessionId, []);
          feed.subscribe(sessionId, 1, (events) => got.get(sessionId)!.push(...events.map((e) => e.seq)));
          await run(writer, sessionId, `join-${round}-${n}`, [itemAdded(`j${n}`)]);
          await vi.waitFor(() => expect(got.get(sessionId)).toEqual([2]));
        }
        await feed.close();
      }
    });

    it('closes at once while the kick of an earlier read still waits for its answer', async () => {
      fixture = await redisFixture();
      const writer = fixture.writer!;
      await createSession(writer, 's-one');
      await createSession(writer, 's-two');
      // CLIENT UNBLOCK runs in Redis at once; its answer reaches the feed 300 ms later.
      const command = {
        client: async (sub: string, id: number) => {
          const answer = await fixture.redis.call('CLIENT', sub, id);
          await new Promise((resolve) => setTimeout(resolve, 300));
          return answer;
        },
      } as unknown as Redis;
      const blocking = blockingClient();
      const feed = new RedisEventFeed({ blocking, command, store: fixture.store, prefix: fixture.prefix, blockMs: 60_000 });
      try {
        feed.subscribe('s-one', 1, () => {});
        await vi.waitFor(async () => expect(await clientLine(fixture.redis, blocking)).toMatch(/cmd=xread/));
        const two: number[] = [];
        feed.subscribe('s-two', 1, (events) => two.push(...events.map((e) => e.seq))); // kicks the read of s-one
        await run(writer, 's-two', 'two-2', [itemAdded('t2')]);
        await vi.waitFor(() => expect(two).toEqual([2])); // a read of both is blocked now
        // The kick's answer is still on its way; close() must end the read in flight itself.
        const closed = feed.close().then(() => 'closed');
        const blocked = new Promise((resolve) => setTimeout(resolve, 10_000, 'still blocked'));
        expect(await Promise.race([closed, blocked])).toBe('closed');
      } finally {
        blocking.disconnect();
      }
    });

    it('delivers what this instance applied at once (publish), each event once, gaps filled from the store', async () => {
      fixture = await redisFixture();
      const writer = fixture.writer!;
      const reader = fixture.store as RedisSessionStore;
      // Applies on this instance and publishes, as the command service does.
      const applyHere = async (feed: RedisEventFeed, sessionId: string, commandId: string) => {
        const state = (await reader.load(sessionId))!;
        const events = stamp([itemAdded(commandId)], state.seq, { now: Date.now(), commandId }, actor);
        const outcome = await reader.apply({ record: commandRecord(sessionId, commandId), expectedSeq: state.seq, events });
        expect(outcome.status).toBe('applied');
        feed.publish(sessionId, events);
      };
      const seqs = (list: number[]) => (events: SessionEvent[]) => list.push(...events.map((e) => e.seq));

      // A feed whose stream reads never reach Redis: whatever it delivers came by publish
      // or from the store's fill.
      const deaf = new Redis({ port: 1, lazyConnect: true, enableOfflineQueue: false, retryStrategy: () => 50 });
      deaf.on('error', () => {});
      const stuck = new RedisEventFeed({ blocking: deaf, command: fixture.redis, store: reader, prefix: fixture.prefix });
      await createSession(writer, 's-pub');
      const alone: number[] = [];
      stuck.subscribe('s-pub', 1, seqs(alone));
      await run(writer, 's-pub', 'elsewhere-2', [itemAdded('e2')]); // another instance: only a read or a fill brings it
      await applyHere(stuck, 's-pub', 'here-3'); // 3 before 2 was read: a fill brings 2 and 3
      await vi.waitFor(() => expect(alone).toEqual([2, 3]));
      await applyHere(stuck, 's-pub', 'here-4');
      await vi.waitFor(() => expect(alone).toEqual([2, 3, 4]));
      await stuck.close(); // while its reads are failing and backing off
      deaf.disconnect();

      // With reads working too, each event still arrives once and in order.
      const feed = fixture.feed as RedisEventFeed;
      const both: number[] = [];
      feed.subscribe('s-pub', 4, seqs(both));
      for (let n = 5; n <= 8; n++) await applyHere(feed, 's-pub', `here-${n}`);
      await run(writer, 's-pub', 'elsewhere-9', [itemAdded('e9')]); // read after 5-8: they were read again by then
      await vi.waitFor(() => expect(both.at(-1)).toBe(9));
      expect(both).toEqual([5, 6, 7, 8, 9]);
    });

    it('shares one stream read between the subscribers of a session', async () => {
      fixture = await redisFixture();
      const writer = fixture.writer!;
      await createSession(writer, 's-shared');
      const feed = fixture.feed as RedisEventFeed;
      const got: number[][] = [[], [], []];
      const stops = got.map((list) =>
        feed.subscribe('s-shared', 1, (events) => list.push(...events.map((e) => e.seq))),
      );
      expect(feed.stats()).toEqual({ sessions: 1, subscribers: 3 });
      await run(writer, 's-shared', 'c-1', [itemAdded('x')]);
      await vi.waitFor(() => expect(got).toEqual([[2], [2], [2]]));
      stops.forEach((stop) => stop());
      expect(feed.stats()).toEqual({ sessions: 0, subscribers: 0 });
    });
  });
});

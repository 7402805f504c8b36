import { Redis, type RedisOptions } from 'ioredis';
import pg from 'pg';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import type { AuditLog } from '../../server/audit/audit-log.js';
import { createPgAuditLog, createPgliteAuditLog } from '../../server/audit/drizzle-audit-log.js';
import { RedisAuditShipper, type RedisAuditShipperOptions } from '../../server/audit/redis-audit-shipper.js';
import { RedisSessionStore } from '../../server/store/redis-session-store.js';
import type { AuditRecord } from '../../server/store/session-store.js';
import { commandRecord, createSession, itemAdded, run } from '../contract/session-store.contract.js';
import { serviceAvailable, TEST_DATABASE_URL, TEST_REDIS_URL, uniqueName } from '../support/services.js';
import { TcpProxy } from '../support/tcp-proxy.js';

const redisUp = await serviceAvailable('redis');
const postgresUp = redisUp && (await serviceAvailable('postgres'));

/** The real audit log, counting what reaches it; `down` makes appends fail as an outage would. */
class ObservedLog implements AuditLog {
  batches: number[] = [];
  appended = 0;
  down = false;
  failures = 0;
  gate: Promise<void> | null = null;

  constructor(readonly inner: AuditLog) {}

  async append(records: readonly AuditRecord[]): Promise<void> {
    if (this.down) {
      this.failures++;
      throw new Error('connection refused (test outage)');
    }
    await this.gate;
    await this.inner.append(records);
    this.batches.push(records.length);
    this.appended += records.length;
  }
  read: AuditLog['read'] = (sessionId, query) => this.inner.read(sessionId, query);
  highestSeq: AuditLog['highestSeq'] = (sessionId) => this.inner.highestSeq(sessionId);
  sessionIds: AuditLog['sessionIds'] = () => this.inner.sessionIds();
  eventPages: AuditLog['eventPages'] = (sessionId) => this.inner.eventPages(sessionId);
  ping: AuditLog['ping'] = () => this.inner.ping();
  close: AuditLog['close'] = () => this.inner.close();
}

interface Setup {
  prefix: string;
  redis: Redis;
  store: RedisSessionStore;
  log: ObservedLog;
  shipper(options?: Partial<RedisAuditShipperOptions>): RedisAuditShipper;
  dispose(): Promise<void>;
}

/** One PGlite for the file (it takes seconds to start); every test uses its own session ids. */
let pglite: Promise<AuditLog> | undefined;
afterAll(async () => {
  await (await pglite)?.close();
});

async function setup(audit?: AuditLog): Promise<Setup> {
  const prefix = uniqueName('cueroom_ship');
  const clients: Redis[] = [];
  const client = (options: RedisOptions = {}) => {
    const redis = new Redis(TEST_REDIS_URL, { maxRetriesPerRequest: 1, ...options });
    redis.on('error', () => {});
    clients.push(redis);
    return redis;
  };
  const redis = client();
  const store = new RedisSessionStore(client(), prefix);
  const log = new ObservedLog(audit ?? (await (pglite ??= createPgliteAuditLog(undefined))));
  const shippers: RedisAuditShipper[] = [];
  return {
    prefix,
    redis,
    store,
    log,
    shipper(options = {}) {
      const shipper = new RedisAuditShipper({
        blocking: client({ maxRetriesPerRequest: null }),
        command: client(),
        audit: log,
        prefix,
        blockMs: 200,
        refreshMs: 20,
        retryMinMs: 5,
        retryMaxMs: 50,
        ...options,
      });
      shippers.push(shipper);
      return shipper;
    },
    async dispose() {
      for (const shipper of shippers) await shipper.stop();
      await store.close();
      let cursor = '0';
      do {
        const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 500);
        cursor = next;
        if (keys.length) await redis.unlink(...keys);
      } while (cursor !== '0');
      await Promise.all(clients.map((one) => one.quit().catch(() => one.disconnect())));
      if (audit) await log.close();
    },
  };
}

async function auditRows(log: AuditLog, sessionId: string) {
  const rows = await log.read(sessionId, { limit: 1000 });
  return {
    events: rows.filter((r) => r.entryType === 'event').map((r) => r.seq),
    commands: rows.filter((r) => r.entryType === 'command').map((r) => r.commandId),
    refused: rows.filter((r) => r.entryType === 'refused').map((r) => r.commandId),
  };
}

const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);
const refusal = { code: 'forbidden', message: 'not for this role' } as const;

describe.skipIf(!redisUp)('RedisAuditShipper (real Redis, real audit log on PGlite)', () => {
  let s: Setup;
  afterEach(async () => {
    await s?.dispose();
  });

  it('ships every command, event and refusal of every session once, then records the audit floor', async () => {
    s = await setup();
    const floors: [string, number][] = [];
    const shipper = s.shipper({ onFloor: (sessionId, seq) => void floors.push([sessionId, seq]) });
    shipper.start();
    for (const id of ['s-1', 's-2', 's-3']) {
      await createSession(s.store, id);
      for (let n = 1; n <= 5; n++) await run(s.store, id, `${id}-c${n}`, [itemAdded(`a${n}`), itemAdded(`b${n}`)]);
      await s.store.refuse(commandRecord(id, `${id}-no`), refusal);
    }
    await vi.waitFor(async () => expect(await shipper.backlog()).toBe(0), { timeout: 5000 });
    for (const id of ['s-1', 's-2', 's-3']) {
      const rows = await auditRows(s.log, id);
      expect(rows.events).toEqual(range(1, 11));
      expect(rows.commands.sort()).toEqual([`create:${id}`, ...range(1, 5).map((n) => `${id}-c${n}`)].sort());
      expect(rows.refused).toEqual([`${id}-no`]);
      // Floors are raised by a pass every floorEveryMs (1 s by default), not per batch.
      await expect.poll(() => s.redis.hget(s.store.keys.meta(id), 'auditFloor')).toBe('11-1');
      expect(floors.filter(([sid]) => sid === id).at(-1)).toEqual([id, 11]);
    }
    expect(shipper.stats()).toMatchObject({
      shippedEntries: 21,
      shippedRecords: 3 * (1 + 1 + 5 * 3 + 1),
      retrying: false,
    });
    expect(shipper.stats().lagMs).not.toBeNull();
  });

  it('appends in batches of at most batchRecords records', async () => {
    s = await setup();
    await createSession(s.store, 's-big');
    // 150 commands of 4 events: 750 records, in entries of 5.
    for (let n = 1; n <= 150; n++) {
      await run(s.store, 's-big', `c-${n}`, [
        itemAdded(`${n}a`),
        itemAdded(`${n}b`),
        itemAdded(`${n}c`),
        itemAdded(`${n}d`),
      ]);
    }
    const shipper = s.shipper({ batchRecords: 500 });
    shipper.start();
    await vi.waitFor(async () => expect(await s.log.highestSeq('s-big')).toBe(601), { timeout: 10_000 });
    expect(Math.max(...s.log.batches)).toBeLessThanOrEqual(500);
    expect(s.log.appended).toBe(2 + 150 * 5);
  });

  it('keeps retrying while the audit log fails, acks nothing meanwhile, and loses nothing', async () => {
    s = await setup();
    s.log.down = true;
    const errors: string[] = [];
    const shipper = s.shipper({ onError: (_error, { what }) => void errors.push(what) });
    shipper.start();
    await createSession(s.store, 's-out');
    for (let n = 1; n <= 20; n++) await run(s.store, 's-out', `c-${n}`, [itemAdded(`i-${n}`)]);
    await vi.waitFor(() => expect(s.log.failures).toBeGreaterThan(3));
    expect(shipper.stats().retrying).toBe(true);
    expect(await shipper.backlog()).toBeGreaterThan(0);
    expect(await s.redis.hget(s.store.keys.meta('s-out'), 'auditFloor')).toBeNull();
    expect(await s.store.trim('s-out', 21, 0)).toBe(0); // nothing is trimmed before it is in the log

    s.log.down = false;
    await vi.waitFor(async () => expect(await shipper.backlog()).toBe(0), { timeout: 5000 });
    expect((await auditRows(s.log, 's-out')).events).toEqual(range(1, 21));
    expect(errors.every((what) => what === 'append')).toBe(true);
  });

  it('takes over the entries a dead consumer left pending', async () => {
    s = await setup();
    await createSession(s.store, 's-dead');
    for (let n = 1; n <= 9; n++) await run(s.store, 's-dead', `c-${n}`, [itemAdded(`i-${n}`)]);
    const key = s.store.keys.events('s-dead');
    // A consumer that read everything, then died before acking.
    await s.redis.sadd(s.store.keys.auditActive(), 's-dead');
    await s.redis.xgroup('CREATE', key, 'audit', '0', 'MKSTREAM');
    const taken = (await s.redis.xreadgroup('GROUP', 'audit', 'dead-one', 'COUNT', 100, 'STREAMS', key, '>')) as [
      string,
      unknown[],
    ][];
    expect(taken[0]![1]).toHaveLength(10);

    const shipper = s.shipper({ claimIdleMs: 30 });
    shipper.start();
    await vi.waitFor(async () => expect(await s.log.highestSeq('s-dead')).toBe(10), { timeout: 5000 });
    await vi.waitFor(async () => expect((await s.redis.xpending(key, 'audit'))[0]).toBe(0));
    await expect.poll(() => s.redis.hget(s.store.keys.meta('s-dead'), 'auditFloor')).toBe('10-0');
  });

  it('finishes the batch in flight on stop, and a later shipper goes on from there', async () => {
    s = await setup();
    let release!: () => void;
    s.log.gate = new Promise((resolve) => (release = resolve));
    await createSession(s.store, 's-stop');
    await run(s.store, 's-stop', 'c-1', [itemAdded('a')]);
    const first = s.shipper();
    first.start();
    await vi.waitFor(() => expect(first.stats().streams).toBe(1));
    await vi.waitFor(async () => expect((await s.redis.xpending(s.store.keys.events('s-stop'), 'audit'))[0]).toBe(2));
    const stopped = first.stop();
    release();
    await stopped;
    expect(await s.log.highestSeq('s-stop')).toBe(2);
    expect((await s.redis.xpending(s.store.keys.events('s-stop'), 'audit'))[0]).toBe(0);
    // Its floor too, without waiting for a floor pass.
    expect(await s.redis.hget(s.store.keys.meta('s-stop'), 'auditFloor')).toBe('2-0');

    s.log.gate = null;
    await run(s.store, 's-stop', 'c-2', [itemAdded('b')]);
    const second = s.shipper();
    second.start();
    await vi.waitFor(async () => expect(await s.log.highestSeq('s-stop')).toBe(3), { timeout: 5000 });
    expect(s.log.appended).toBe(2 + 2 + 2);
  });

  it('lets the store trim what the log holds, through onFloor', async () => {
    s = await setup();
    const store = new RedisSessionStore(s.redis, s.prefix, { snapshotEvery: 5 });
    const shipper = s.shipper({ onFloor: (sessionId, seq) => store.trim(sessionId, seq, 0).then(() => undefined) });
    shipper.start();
    await createSession(store, 's-trim');
    for (let n = 2; n <= 12; n++) await run(store, 's-trim', `c-${n}`, [itemAdded(`i-${n}`)]);
    const snapshotSeq = async () => Number(await s.redis.hget(store.keys.snapshot('s-trim'), 'seq'));
    await vi.waitFor(async () => expect(await snapshotSeq()).toBe(10));
    await run(store, 's-trim', 'c-13', [itemAdded('i-13')]);
    // Up to the snapshot (10), though the log holds 13: load folds from the snapshot.
    await vi.waitFor(async () => expect(await store.readSince('s-trim', 9)).toBeNull(), { timeout: 5000 });
    expect((await store.readSince('s-trim', 10))?.map((e) => e.seq)).toEqual([11, 12, 13]);
    expect((await new RedisSessionStore(s.redis, s.prefix).load('s-trim'))?.seq).toBe(13);
    await vi.waitFor(async () => expect((await auditRows(s.log, 's-trim')).events).toEqual(range(1, 13)));
    await store.close();
  });
});

describe.skipIf(!postgresUp)('RedisAuditShipper through a Postgres outage (TCP proxy)', () => {
  it('ships everything once Postgres is back, exactly once', async () => {
    const schema = uniqueName('audit_ship');
    const target = new URL(TEST_DATABASE_URL);
    const proxy = new TcpProxy({ host: target.hostname, port: Number(target.port || 5432) });
    await proxy.start();
    const pool = new pg.Pool({
      host: '127.0.0.1',
      port: proxy.port,
      user: decodeURIComponent(target.username) || 'postgres',
      database: target.pathname.slice(1),
      max: 2,
      connectionTimeoutMillis: 500,
      query_timeout: 2000,
    });
    pool.on('error', () => {});
    const s = await setup(await createPgAuditLog(pool, { schema }));
    try {
      const shipper = s.shipper();
      shipper.start();
      await createSession(s.store, 's-pg');
      await vi.waitFor(async () => expect(await s.log.highestSeq('s-pg')).toBe(1), { timeout: 5000 });

      await proxy.stop();
      for (let n = 1; n <= 30; n++) await run(s.store, 's-pg', `c-${n}`, [itemAdded(`i-${n}`), itemAdded(`j-${n}`)]);
      await vi.waitFor(() => expect(shipper.stats().failures).toBeGreaterThan(0), { timeout: 5000 });
      expect(await shipper.backlog()).toBeGreaterThan(0);

      await proxy.start();
      await vi.waitFor(async () => expect(await shipper.backlog()).toBe(0), { timeout: 15_000 });
      const rows = await auditRows(s.log, 's-pg');
      expect(rows.events).toEqual(range(1, 61));
      expect(rows.commands).toHaveLength(31);
    } finally {
      await s.dispose();
      await proxy.stop();
      await pool.end();
      const direct = new pg.Pool({ connectionString: TEST_DATABASE_URL, max: 1 });
      await direct.query(`drop schema if exists "${schema}" cascade`);
      await direct.end();
    }
  });
});

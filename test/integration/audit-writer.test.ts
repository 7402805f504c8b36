import { setImmediate as nextTick } from 'node:timers/promises';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import {
  InvalidAuditRecordError,
  type AuditLog,
  type AuditQuery,
  type AuditRow,
} from '../../server/audit/audit-log.js';
import { AuditWriter } from '../../server/audit/audit-writer.js';
import { createPgAuditLog, createPgliteAuditLog } from '../../server/audit/drizzle-audit-log.js';
import type { AuditRecord } from '../../server/store/session-store.js';
import { commandWithEvents } from '../support/audit-records.js';
import { serviceAvailable, TEST_DATABASE_URL, uniqueName } from '../support/services.js';
import { TcpProxy } from '../support/tcp-proxy.js';

const postgresUp = await serviceAvailable('postgres');

/** Delegates to a real log, counting appends; `hold()` makes appends wait until released. */
class CountingLog implements AuditLog {
  readonly appends: number[] = [];
  #gate: Promise<void> | undefined;

  constructor(readonly inner: AuditLog) {}

  hold(): () => void {
    let release!: () => void;
    this.#gate = new Promise((resolve) => (release = resolve));
    return () => {
      this.#gate = undefined;
      release();
    };
  }

  async append(records: readonly AuditRecord[]): Promise<void> {
    this.appends.push(records.length);
    await this.#gate;
    return this.inner.append(records);
  }
  read(sessionId: string, query: AuditQuery): Promise<AuditRow[]> {
    return this.inner.read(sessionId, query);
  }
  highestSeq(sessionId: string): Promise<number> {
    return this.inner.highestSeq(sessionId);
  }
  sessionIds(): Promise<string[]> {
    return this.inner.sessionIds();
  }
  eventPages(sessionId: string) {
    return this.inner.eventPages(sessionId);
  }
  ping(): Promise<void> {
    return this.inner.ping();
  }
  close(): Promise<void> {
    return this.inner.close();
  }
}

async function allRows(log: AuditLog, sessionId: string): Promise<AuditRow[]> {
  const rows: AuditRow[] = [];
  for (;;) {
    const page = await log.read(sessionId, { limit: 1000, ...(rows.length ? { afterId: rows.at(-1)!.id } : {}) });
    rows.push(...page);
    if (page.length < 1000) return rows;
  }
}

/** What the rows must be after writing `writes` in order: each record once, in write order. */
function expectRowsInWriteOrder(rows: AuditRow[], writes: AuditRecord[][]): void {
  const expected = writes
    .flat()
    .map((record) => (record.type === 'event' ? `event:${record.event.seq}` : `${record.type}:${record.commandId}`));
  const actual = rows.map((row) =>
    row.entryType === 'event' ? `event:${row.seq}` : `${row.entryType}:${row.commandId}`,
  );
  expect(actual).toEqual(expected);
}

function tracked(promise: Promise<void>) {
  const state = { settled: false, promise };
  promise.then(
    () => (state.settled = true),
    () => (state.settled = true),
  );
  return state;
}

function newPool(config: pg.PoolConfig): pg.Pool {
  const pool = new pg.Pool({ max: 4, connectionTimeoutMillis: 2000, ...config });
  // Idle clients die with the connection in the outage tests: without this, the process would.
  pool.on('error', () => {});
  return pool;
}

const backends: Array<{
  name: string;
  available: boolean;
  make: () => Promise<{ log: AuditLog; dispose: () => Promise<void> }>;
}> = [
  {
    name: 'PGlite',
    available: true,
    make: async () => {
      const log = await createPgliteAuditLog(undefined);
      return { log, dispose: () => log.close() };
    },
  },
  {
    name: 'Postgres',
    available: postgresUp,
    make: async () => {
      const schema = uniqueName('audit_writer');
      const pool = newPool({ connectionString: TEST_DATABASE_URL });
      const log = await createPgAuditLog(pool, { schema });
      return {
        log,
        dispose: async () => {
          await log.close();
          await pool.query(`drop schema if exists "${schema}" cascade`);
          await pool.end();
        },
      };
    },
  },
];

for (const backend of backends) {
  describe.skipIf(!backend.available)(`AuditWriter group commit on ${backend.name}`, () => {
    let real: { log: AuditLog; dispose: () => Promise<void> };
    beforeAll(async () => {
      real = await backend.make();
    });
    afterAll(async () => {
      await real?.dispose();
    });

    it('sends the writes of one tick as one append', async () => {
      const log = new CountingLog(real.log);
      const writer = new AuditWriter(log);
      const session = uniqueName('s');
      const writes = Array.from({ length: 100 }, (_, i) => commandWithEvents(session, 2 * i + 1, 2));
      await Promise.all(writes.map((records) => writer.write(records)));
      expect(log.appends).toEqual([300]);
      expect(writer.pending()).toBe(0);
      expectRowsInWriteOrder(await allRows(real.log, session), writes);
      await writer.close();
    });

    it('gathers the writes made while a batch is in flight into the next batch', async () => {
      const log = new CountingLog(real.log);
      const writer = new AuditWriter(log);
      const session = uniqueName('s');
      const release = log.hold();
      const first = commandWithEvents(session, 1, 2);
      const firstWrite = tracked(writer.write(first));
      await vi.waitFor(() => expect(log.appends).toEqual([3]));

      const later: AuditRecord[][] = [];
      const laterWrites = [];
      for (let i = 0; i < 30; i++) {
        const records = commandWithEvents(session, 3 + 2 * i, 2);
        later.push(records);
        laterWrites.push(tracked(writer.write(records)));
        await nextTick(); // across many ticks, all while the first batch is out
      }
      expect(writer.pending()).toBe(3 + 90);
      expect(firstWrite.settled).toBe(false);
      expect(await real.log.highestSeq(session)).toBe(0);

      const flushed = tracked(writer.flush());
      release();
      await Promise.all([firstWrite.promise, ...laterWrites.map((write) => write.promise)]);
      await flushed.promise;
      expect(log.appends).toEqual([3, 90]);
      expect(writer.pending()).toBe(0);
      expectRowsInWriteOrder(await allRows(real.log, session), [first, ...later]);
      await writer.close();
    });

    it('rejects only the write carrying a record no database takes', async () => {
      const log = new CountingLog(real.log);
      const writer = new AuditWriter(log);
      const session = uniqueName('s');
      const before = commandWithEvents(session, 1, 2);
      const bad = commandWithEvents(session, 3, 1).map((record) =>
        record.type === 'event' ? { ...record, event: { ...record.event, at: Number.NaN } } : record,
      );
      const after = commandWithEvents(session, 4, 2);
      const results = await Promise.allSettled([writer.write(before), writer.write(bad), writer.write(after)]);
      expect(results.map((result) => result.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
      expect((results[1] as PromiseRejectedResult).reason).toBeInstanceOf(InvalidAuditRecordError);
      expectRowsInWriteOrder(await allRows(real.log, session), [before, after]);
      expect(writer.pending()).toBe(0);
      await writer.close();
    });

    it('refuses writes once closed', async () => {
      const writer = new AuditWriter(real.log);
      const session = uniqueName('s');
      const landed = writer.write(commandWithEvents(session, 1, 1));
      await writer.close();
      await landed;
      expect(await real.log.highestSeq(session)).toBe(1);
      await expect(writer.write(commandWithEvents(session, 2, 1))).rejects.toMatchObject({ code: 'unavailable' });
    });
  });
}

describe.skipIf(!postgresUp)('AuditWriter through a Postgres outage', () => {
  const schema = uniqueName('audit_outage');
  const target = new URL(TEST_DATABASE_URL);
  const proxy = new TcpProxy({ host: target.hostname, port: Number(target.port || 5432) });
  let viaProxy: pg.Pool;
  let direct: pg.Pool;
  let log: CountingLog;
  let observer: AuditLog;
  const failures: unknown[] = [];
  let writer: AuditWriter;

  beforeAll(async () => {
    await proxy.start();
    viaProxy = newPool({
      host: '127.0.0.1',
      port: proxy.port,
      user: decodeURIComponent(target.username) || 'postgres',
      password: decodeURIComponent(target.password) || undefined,
      database: target.pathname.slice(1),
    });
    direct = newPool({ connectionString: TEST_DATABASE_URL });
    log = new CountingLog(await createPgAuditLog(viaProxy, { schema }));
    observer = await createPgAuditLog(direct, { schema, migrate: false });
    writer = new AuditWriter(log, { retryBaseMs: 10, retryMaxMs: 100, onError: (error) => failures.push(error) });
  });

  afterAll(async () => {
    await writer?.close({ timeoutMs: 1000 });
    await proxy.stop();
    await viaProxy?.end();
    await direct?.query(`drop schema if exists "${schema}" cascade`);
    await direct?.end();
  });

  it('holds writes while the database is away and lands every one, once, when it is back', async () => {
    const session = uniqueName('s');
    const writes: AuditRecord[][] = [commandWithEvents(session, 1, 3)];
    await writer.write(writes[0]!);

    await proxy.stop();
    failures.length = 0;
    const pending = [];
    for (let i = 0; i < 20; i++) {
      const records = commandWithEvents(session, 4 + 2 * i, 2);
      writes.push(records);
      pending.push(tracked(writer.write(records)));
      await nextTick();
    }
    // Several failed attempts, each a real error of the driver, and nothing resolved.
    await vi.waitFor(() => expect(failures.length).toBeGreaterThanOrEqual(3), { timeout: 10_000 });
    expect(
      failures.some((error) =>
        /ECONNREFUSED|terminated|closed/i.test(`${(error as { code?: string }).code} ${String(error)}`),
      ),
    ).toBe(true);
    expect(pending.some((write) => write.settled)).toBe(false);
    expect(writer.pending()).toBe(60);
    expect(await observer.highestSeq(session)).toBe(3);

    await proxy.start();
    await Promise.all(pending.map((write) => write.promise));
    expect(writer.pending()).toBe(0);
    expect(await observer.highestSeq(session)).toBe(43);
    expectRowsInWriteOrder(await allRows(observer, session), writes);
  });

  it('resends a batch whose commit was never answered, and stores it once', async () => {
    const session = uniqueName('s');
    const records = commandWithEvents(session, 1, 40);
    await viaProxy.query('select 1'); // an open connection, so the INSERT gets through
    proxy.dropReplies = true;
    failures.length = 0;
    const write = tracked(writer.write(records));
    // Committed by Postgres, but the writer never heard back.
    await vi.waitFor(async () => expect(await observer.highestSeq(session)).toBe(40), { timeout: 10_000 });
    expect(write.settled).toBe(false);

    await proxy.stop();
    await vi.waitFor(() => expect(failures.length).toBeGreaterThanOrEqual(2), { timeout: 10_000 });
    proxy.dropReplies = false;
    await proxy.start();
    await write.promise;
    expect(log.appends.length).toBeGreaterThanOrEqual(3);
    expectRowsInWriteOrder(await allRows(observer, session), [records]);
  });

  it('gives up at close after its timeout, rejecting what never landed', async () => {
    const session = uniqueName('s');
    const closing = new AuditWriter(log, { retryBaseMs: 10, retryMaxMs: 50 });
    await proxy.stop();
    const write = closing.write(commandWithEvents(session, 1, 2));
    const outcome = write.then(
      () => 'landed',
      (error: unknown) => error,
    );
    await expect(closing.close({ timeoutMs: 300 })).resolves.toBe(3);
    expect(await outcome).toMatchObject({ code: 'unavailable' });
    expect(closing.pending()).toBe(0);
    await proxy.start();
  });
});

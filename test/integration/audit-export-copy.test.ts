import { Readable } from 'node:stream';
import { PGlite } from '@electric-sql/pglite';
import { drizzle as drizzlePg } from 'drizzle-orm/node-postgres';
import { drizzle as drizzlePglite } from 'drizzle-orm/pglite';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuditExportFormat, AuditFilter } from '../../server/audit/audit-log.js';
import { DrizzleAuditLog } from '../../server/audit/drizzle-audit-log.js';
import { migrateAuditDb } from '../../server/audit/migrate.js';
import type { AuditRecord } from '../../server/store/session-store.js';
import { commandWithEvents, eventRecords, opsActor, sampleEvents } from '../support/audit-records.js';
import { serviceAvailable, TEST_DATABASE_URL, uniqueName } from '../support/services.js';

/**
 * On Postgres the export is one binary COPY whose bytes are passed on undecoded; PGlite
 * keeps the paged path. The same rows must come out byte for byte the same from both.
 */
const postgresUp = await serviceAvailable('postgres');

const SESSION = 's-copy';
const OTHER = 's-copy-other';

/** Text every cell escaping has to get right: non-ASCII, quotes, commas, line breaks, backslashes. */
const awkward: AuditRecord[] = [
  {
    type: 'refused',
    sessionId: SESSION,
    commandId: '-cmd,"quoted",\\back\\\\slash',
    at: Date.UTC(2026, 10, 23, 18, 0, 1, 5),
    actor: { id: '=HYPERLINK("x")', name: 'Ann, "Ops"\nsecond line\r\nthird \\n not a break', role: 'ops' },
    command: { kind: 'question.flag', note: 'C:\\temp\\"x",\n' },
    result: { ok: false, error: { code: 'forbidden', message: 'no, "really" \\ ünïcödé' } },
  },
  {
    type: 'refused',
    sessionId: SESSION,
    commandId: '@cmd\tTab',
    at: Date.UTC(2026, 10, 23, 18, 0, 2, 999),
    actor: { ...opsActor, id: 'u-ødegaard', name: '+Ødegaard 🎥 日本語 \u0001 ctrl' },
    command: { kind: 'incident.acknowledge', incidentId: 'i-x' },
    result: { ok: false, error: { code: 'not_found', message: 'No incident' } },
  },
];

function records(sessionId: string): AuditRecord[] {
  return [
    ...commandWithEvents(sessionId, 1, 6),
    ...awkward.map((record) => ({ ...record, sessionId })),
    ...commandWithEvents(sessionId, 7, 6),
  ];
}

async function exported(log: DrizzleAuditLog, filter: AuditFilter, format: AuditExportFormat): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of log.exportText(filter, format)) {
    chunks.push(typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk);
  }
  return Buffer.concat(chunks);
}

describe.skipIf(!postgresUp)('the audit export over binary COPY (Postgres) against the paged one (PGlite)', () => {
  const schema = uniqueName('audit_copy');
  let pool: pg.Pool;
  let onPg: DrizzleAuditLog;
  let lite: PGlite;
  let onLite: DrizzleAuditLog;

  beforeAll(async () => {
    pool = new pg.Pool({ connectionString: TEST_DATABASE_URL, max: 2 });
    pool.on('error', () => {});
    const db = drizzlePg(pool);
    await migrateAuditDb(db, 'pg', { schema });
    onPg = new DrizzleAuditLog(db, { schema });
    lite = await PGlite.create();
    const liteDb = drizzlePglite(lite);
    await migrateAuditDb(liteDb, 'pglite');
    onLite = new DrizzleAuditLog(liteDb);
    // The same rows in the same order on both (so the same ids and hashes), another
    // session's rows between them.
    for (const log of [onPg, onLite]) {
      await log.append(records(SESSION).slice(0, 10));
      await log.append(records(OTHER));
      await log.append(records(SESSION).slice(10));
    }
  });
  afterAll(async () => {
    await pool?.query(`drop schema if exists "${schema}" cascade`).catch(() => {});
    await pool?.end();
    await lite?.close();
  });

  it('yields the same bytes as the paged path, awkward text included, in both formats', async () => {
    for (const format of ['csv', 'ndjson'] as const) {
      const fromPg = await exported(onPg, { sessionId: SESSION }, format);
      const fromLite = await exported(onLite, { sessionId: SESSION }, format);
      expect(fromPg.length).toBeGreaterThan(0);
      expect(fromPg.toString('utf8')).toBe(fromLite.toString('utf8'));
      expect(fromPg.equals(fromLite)).toBe(true);
      const text = fromPg.toString('utf8');
      expect(text).toContain('Ødegaard 🎥 日本語');
      expect(text).not.toContain(OTHER);
    }
    const ndjson = (await exported(onPg, { sessionId: SESSION }, 'ndjson')).toString('utf8').trim().split('\n');
    expect(ndjson).toHaveLength(records(SESSION).length);
    const refused = ndjson.map((line) => JSON.parse(line)).filter((row) => row.entryType === 'refused');
    expect(refused.map((row) => [row.commandId, row.actorName])).toEqual(
      awkward.map((record) => [
        record.type !== 'event' && record.commandId,
        record.type !== 'event' && record.actor.name,
      ]),
    );
  });

  it('applies every filter as the paged path does (values written into the COPY as literals)', async () => {
    const all = (await exported(onPg, { sessionId: SESSION }, 'ndjson')).toString('utf8').trim().split('\n');
    const rows = all.map((line) => JSON.parse(line) as { at: string; kind: string });
    const middle = rows[Math.floor(rows.length / 2)]!.at;
    const filters: AuditFilter[] = [
      { sessionId: SESSION, entryType: 'refused' },
      { sessionId: SESSION, entryType: 'event', kind: rows.find((row) => row.kind !== 'unknown')!.kind },
      { sessionId: SESSION, actorId: 'u-ødegaard' },
      { sessionId: SESSION, actorId: "x' or '1'='1" },
      { sessionId: SESSION, actorRole: 'ops' },
      { sessionId: SESSION, from: new Date(middle) },
      { sessionId: SESSION, to: new Date(middle) },
      {
        sessionId: SESSION,
        from: new Date(Date.UTC(2026, 10, 23, 18, 0, 2)),
        to: new Date(Date.UTC(2026, 10, 23, 18, 0, 3)),
      },
      { sessionId: SESSION, severity: 'sev1' },
      { sessionId: "s-copy' or true --" },
      { sessionId: 's-nothing-here' },
      // No session: every session's rows in id order.
      {},
      { entryType: 'refused' },
    ];
    for (const filter of filters) {
      for (const format of ['csv', 'ndjson'] as const) {
        const fromPg = await exported(onPg, filter, format);
        const fromLite = await exported(onLite, filter, format);
        expect(fromPg.equals(fromLite), `${format} ${JSON.stringify(filter)}`).toBe(true);
      }
    }
    expect(
      (await exported(onPg, { sessionId: SESSION, entryType: 'refused' }, 'ndjson')).toString().trim().split('\n'),
    ).toHaveLength(2);
    expect((await exported(onPg, { sessionId: SESSION, actorId: 'u-ødegaard' }, 'csv')).toString()).toContain(
      'Ødegaard',
    );
    expect((await exported(onPg, { sessionId: "s-copy' or true --" }, 'csv')).length).toBe(0);
    expect((await exported(onPg, {}, 'ndjson')).toString()).toContain(OTHER);
  });

  it('ends the COPY when the reader goes away mid-export, and the pool stays usable', async () => {
    // A session big enough that its COPY is far from done after the first chunk (a few MB).
    const big = uniqueName('s-big');
    for (let seq = 1; seq <= 6000; seq += 600) await onPg.append(commandWithEvents(big, seq, 600));
    const whole = await exported(onPg, { sessionId: big }, 'ndjson');
    expect(whole.toString('utf8').trim().split('\n')).toHaveLength(6010);

    for (let round = 0; round < 3; round++) {
      // As the route does: the response's Readable over the chunks, destroyed by a hang-up.
      const readable = Readable.from(onPg.exportText({ sessionId: big }, 'ndjson'));
      const first = await new Promise<Buffer>((resolve, reject) => {
        readable.once('data', resolve);
        readable.once('error', reject);
      });
      expect(first.length).toBeGreaterThan(0);
      expect(first.length).toBeLessThan(whole.length);
      readable.destroy();
      await new Promise((resolve) => readable.once('close', resolve));
    }
    // The connections that were mid-COPY are gone; the pool answers, with fresh ones.
    await expect
      .poll(async () => {
        const { rows } = await pool.query<{ n: number }>(
          "select count(*)::int as n from pg_stat_activity where query like 'copy (select%' and pid <> pg_backend_pid()",
        );
        return rows[0]!.n;
      })
      .toBe(0);
    expect((await pool.query<{ one: number }>('select 1 as one')).rows).toEqual([{ one: 1 }]);
    expect((await exported(onPg, { sessionId: big }, 'ndjson')).equals(whole)).toBe(true);
    expect(pool.totalCount).toBeLessThanOrEqual(2);
    expect(pool.waitingCount).toBe(0);
  });
  it('reads the events of a session through the COPY as the paged path does, and stops cleanly early', async () => {
    const id = uniqueName('s-events');
    // Enough events for the COPY to come in many chunks; most of them hold non-ASCII text,
    // some a literal backslash-u that is not an escape, some a tab (which Postgres escapes).
    const events = sampleEvents(id, 1, 3000).map((event) =>
      event.kind === 'question.submitted'
        ? {
            ...event,
            question: {
              ...event.question,
              text: [
                `Is it café-safe? — “${event.seq}” 🎥`,
                `C:\\u00e9\\path ${event.seq}`,
                `tab\tand \u00e9 ${event.seq}`,
              ][event.seq % 3]!,
            },
          }
        : event,
    );
    for (let i = 0; i < events.length; i += 500) {
      for (const log of [onPg, onLite]) await log.append(eventRecords(id, events.slice(i, i + 500)));
    }
    let pagesOnPg = 0;
    const read = async (log: DrizzleAuditLog) => {
      const back = [];
      for await (const page of log.eventPages(id)) {
        expect(page.length).toBeGreaterThan(0);
        if (log === onPg) pagesOnPg++;
        back.push(...page);
      }
      return back;
    };
    const fromPg = await read(onPg);
    // Many COPY chunks, each its own page.
    expect(pagesOnPg).toBeGreaterThan(3);
    expect(fromPg).toStrictEqual(events);
    expect(fromPg).toStrictEqual(await read(onLite));

    for (let round = 0; round < 3; round++) {
      let seen = 0;
      for await (const page of onPg.eventPages(id)) {
        expect(page[0]!.seq).toBe(1);
        seen++;
        break;
      }
      expect(seen).toBe(1);
    }
    // The connections left mid-COPY are closed; the pool answers, and a new read is whole.
    expect((await pool.query<{ one: number }>('select 1 as one')).rows).toEqual([{ one: 1 }]);
    expect(await read(onPg)).toStrictEqual(events);
    expect(pool.totalCount).toBeLessThanOrEqual(2);
  });

  it("is not cut by the pool's query_timeout however long it takes to read, and nothing fires after it ends", async () => {
    const timed = new pg.Pool({ connectionString: TEST_DATABASE_URL, max: 1, query_timeout: 500 });
    timed.on('error', () => {});
    try {
      const log = new DrizzleAuditLog(drizzlePg(timed), { schema });
      // Large enough that the COPY is still running when the reader pauses (a few MB).
      const long = uniqueName('s-long');
      for (let seq = 1; seq <= 4000; seq += 1000) await onPg.append(commandWithEvents(long, seq, 1000));
      const expected = await exported(onPg, { sessionId: long }, 'csv');
      // A reader that takes longer than query_timeout over the export.
      const chunks: Buffer[] = [];
      for await (const chunk of log.exportText({ sessionId: long }, 'csv')) {
        chunks.push(chunk as Buffer);
        if (chunks.length <= 2) await new Promise((resolve) => setTimeout(resolve, 700));
      }
      expect(chunks.length).toBeGreaterThan(2);
      expect(Buffer.concat(chunks).equals(expected)).toBe(true);
      // After it ended: no timer fails the stream or the connection (an unhandled error would fail the run).
      await new Promise((resolve) => setTimeout(resolve, 800));
      expect((await timed.query<{ one: number }>('select 1 as one')).rows).toEqual([{ one: 1 }]);
      expect((await exported(log, { sessionId: long }, 'csv')).equals(expected)).toBe(true);
    } finally {
      await timed.end();
    }
  });
});

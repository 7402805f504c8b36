import { PGlite } from '@electric-sql/pglite';
import { drizzle as drizzlePg } from 'drizzle-orm/node-postgres';
import { drizzle as drizzlePglite } from 'drizzle-orm/pglite';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CHAIN_VERSION, verifyChain, type ChainRow } from '../../server/audit/audit-chain.js';
import { AUDIT_CSV_COLUMNS, type AuditRow } from '../../server/audit/audit-log.js';
import { DrizzleAuditLog, type DrizzleAuditLogOptions } from '../../server/audit/drizzle-audit-log.js';
import { migrateAuditDb } from '../../server/audit/migrate.js';
import { csvCell } from '../../server/review/review.js';
import type { AuditRecord } from '../../server/store/session-store.js';
import { commandWithEvents, opsActor } from '../support/audit-records.js';
import { serviceAvailable, TEST_DATABASE_URL, uniqueName } from '../support/services.js';

/**
 * The verify query and the export text are rendered by the database: checked here on
 * Postgres and on PGlite against the reference in Node (`verifyChain` over each row's
 * canonical text, `csvCell` and JSON.stringify over `scan`'s rows).
 */
interface Db {
  name: string;
  log: DrizzleAuditLog;
  /** Another log on the same database, with these options. */
  make(options: DrizzleAuditLogOptions): DrizzleAuditLog;
  /** Runs SQL as the owner with the append-only triggers out of the way (an attacker with owner rights). */
  tamper(statements: string[]): Promise<void>;
  query<T>(text: string, params?: unknown[]): Promise<T[]>;
  close(): Promise<void>;
}

async function onPglite(): Promise<Db> {
  const client = await PGlite.create();
  const db = drizzlePglite(client);
  await migrateAuditDb(db, 'pglite');
  return {
    name: 'PGlite',
    log: new DrizzleAuditLog(db),
    make: (options) => new DrizzleAuditLog(db, options),
    async tamper(statements) {
      await client.exec(['begin', 'set local session_replication_role = replica', ...statements, 'commit'].join(';\n'));
    },
    async query<T>(text: string, params: unknown[] = []) {
      return (await client.query<T>(text, params)).rows;
    },
    close: () => client.close(),
  };
}

async function onPostgres(): Promise<Db> {
  const schema = uniqueName('audit_verify');
  const pool = new pg.Pool({ connectionString: TEST_DATABASE_URL, max: 4 });
  pool.on('error', () => {});
  const db = drizzlePg(pool);
  await migrateAuditDb(db, 'pg', { schema });
  return {
    name: 'Postgres',
    log: new DrizzleAuditLog(db, { schema }),
    make: (options) => new DrizzleAuditLog(db, { ...options, schema }),
    async tamper(statements) {
      const client = await pool.connect();
      try {
        await client.query(`set search_path to "${schema}"`);
        await client.query(
          ['begin', 'set local session_replication_role = replica', ...statements, 'commit'].join(';\n'),
        );
      } finally {
        await client.query('reset search_path').catch(() => {});
        client.release();
      }
    },
    async query<T>(text: string, params: unknown[] = []) {
      const client = await pool.connect();
      try {
        await client.query(`set search_path to "${schema}"`);
        return (await client.query(text, params)).rows as T[];
      } finally {
        await client.query('reset search_path').catch(() => {});
        client.release();
      }
    },
    async close() {
      await pool.query(`drop schema if exists "${schema}" cascade`);
      await pool.end();
    },
  };
}

const backends: Array<[string, () => Promise<Db>]> = [['PGlite', onPglite]];
if (await serviceAvailable('postgres')) backends.push(['Postgres', onPostgres]);

/** Actor and command fields a spreadsheet or a naive parser would trip on. */
const awkward: AuditRecord[] = [
  {
    type: 'refused',
    sessionId: 's-awkward',
    commandId: '-cmd,"quoted"',
    at: Date.UTC(2026, 10, 23, 18, 0, 1, 5),
    actor: { id: '=HYPERLINK("x")', name: 'Ann, "Ops"\nsecond line', role: 'ops' },
    command: { kind: 'question.flag' },
    result: { ok: false, error: { code: 'forbidden', message: 'no, "really"' } },
  },
  {
    type: 'refused',
    sessionId: 's-awkward',
    commandId: '@cmd\tTab',
    at: Date.UTC(2026, 10, 23, 18, 0, 2, 999),
    actor: { ...opsActor, name: '+Ødegaard 🎥 \u0001 ctrl' },
    command: { kind: 'incident.acknowledge', incidentId: 'i-x' },
    result: { ok: false, error: { code: 'not_found', message: 'No incident' } },
  },
];

for (const [name, open] of backends) {
  describe(`audit verify and export in the database, on ${name}`, () => {
    let db: Db;
    beforeAll(async () => {
      db = await open();
    });
    afterAll(async () => {
      await db?.close();
    });

    /** A session of commands, events and refusals; its rows' ids in order. */
    async function session(): Promise<{ id: string; rows: { id: number; seq: number | null }[] }> {
      const id = uniqueName('s');
      await db.log.append(commandWithEvents(id, 1, 6));
      await db.log.append(awkward.map((record) => ({ ...record, sessionId: id })));
      await db.log.append(commandWithEvents(id, 7, 6));
      const rows = await db.query<{ id: number; seq: number | null }>(
        'select id::int as id, seq::int as seq from audit_log where session_id = $1 order by id',
        [id],
      );
      return { id, rows };
    }

    /** What the Node reference makes of the session's rows as they are now. */
    async function reference(sessionId: string) {
      const rows = await db.query<{
        id: number;
        seq: number | null;
        content: string;
        prev_hash: string | null;
        hash: string | null;
      }>(
        `select id::int as id, seq::int as seq, prev_hash, hash,
           jsonb_build_array($2::text, session_id, seq, entry_type, kind, round(extract(epoch from at) * 1000)::bigint,
             actor_id, actor_name, actor_role, command_id, payload)::text as content
         from audit_log where session_id = $1 order by id`,
        [sessionId, CHAIN_VERSION],
      );
      async function* iterate(): AsyncIterable<ChainRow> {
        for (const row of rows)
          yield { id: row.id, seq: row.seq, content: row.content, prevHash: row.prev_hash, hash: row.hash };
      }
      const { eventRows: _, ...result } = await verifyChain(iterate());
      return result;
    }

    /** Verify in one page and in pages of 4 rows (the break, the counts and the head across pages) agree with the reference. */
    async function verified(sessionId: string) {
      const expected = await reference(sessionId);
      expect(await db.make({ verifyPageRows: 4 }).verify(sessionId)).toEqual(expected);
      const result = await db.log.verify(sessionId);
      expect(result).toEqual(expected);
      return result;
    }

    it('reports an intact session as the Node reference does: rows, last seq, head hash', async () => {
      const { id, rows } = await session();
      const result = await verified(id);
      expect(result).toMatchObject({ intact: true, rows: rows.length, lastSeq: 12 });
      expect(await db.log.verify('s-nothing-here')).toEqual({ intact: true, rows: 0, lastSeq: 0, headHash: null });
    });

    it('names the first broken row as the Node reference does: altered, deleted, swapped, unhashed', async () => {
      const altered = await session();
      await db.tamper([`update audit_log set actor_name = 'Mallory' where id = ${altered.rows[5]!.id}`]);
      expect(await verified(altered.id)).toMatchObject({
        intact: false,
        reason: 'content_altered',
        firstBrokenId: altered.rows[5]!.id,
        firstBrokenSeq: altered.rows[5]!.seq,
        rows: 5,
      });

      const deleted = await session();
      await db.tamper([`delete from audit_log where id = ${deleted.rows[3]!.id}`]);
      expect(await verified(deleted.id)).toMatchObject({
        reason: 'chain_broken',
        firstBrokenId: deleted.rows[4]!.id,
        rows: 3,
      });

      // The first row moved to the end keeps its own hash: the row after it is the first to break.
      const swapped = await session();
      const first = swapped.rows[0]!;
      await db.tamper([`update audit_log set id = id + 1000000 where id = ${first.id}`]);
      expect(await verified(swapped.id)).toMatchObject({
        reason: 'chain_broken',
        firstBrokenId: swapped.rows[1]!.id,
        rows: 0,
      });

      const unhashed = await session();
      const last = unhashed.rows.at(-1)!;
      await db.tamper([`update audit_log set hash = null where id = ${last.id}`]);
      expect(await verified(unhashed.id)).toMatchObject({
        reason: 'missing_hash',
        firstBrokenId: last.id,
        firstBrokenSeq: last.seq,
        rows: unhashed.rows.length - 1,
      });
    });

    it('exports CSV and NDJSON lines that hold exactly what scan reads, awkward text included', async () => {
      const { id, rows } = await session();
      const scanned: Array<AuditRow & { hash: string | null }> = [];
      for await (const row of db.log.scan({ sessionId: id })) scanned.push(row);
      expect(scanned).toHaveLength(rows.length);

      // Pages of 4 rows: the keyset and the page fetched ahead are exercised too.
      let ndjson = '';
      for await (const chunk of db.log.exportText({ sessionId: id }, 'ndjson', 4)) ndjson += chunk;
      const lines = ndjson.split('\n');
      expect(lines.pop()).toBe('');
      expect(lines.map((line) => JSON.parse(line))).toEqual(
        scanned.map((row) => ({ ...row, at: row.at.toISOString() })),
      );
      // Same keys in the same order as JSON.stringify of a scanned row.
      expect(Object.keys(JSON.parse(lines[0]!))).toEqual(Object.keys({ ...scanned[0], at: '' }));

      let csv = '';
      for await (const chunk of db.log.exportText({ sessionId: id }, 'csv', 4)) csv += chunk;
      const records = parseCsv(csv);
      expect(records).toHaveLength(rows.length);
      records.forEach((cells, i) => {
        const row = scanned[i]!;
        expect(cells).toHaveLength(AUDIT_CSV_COLUMNS.length);
        const plain = [row.id, row.sessionId, row.seq, row.entryType, row.kind, row.at.toISOString(), row.actorId]
          .concat([row.actorName, row.actorRole, row.commandId])
          .map((value) => csvCell(value));
        // Every cell but the payload is byte for byte what csvCell writes.
        expect(cells.slice(0, 10).map((cell) => cell.raw)).toEqual(plain);
        expect(JSON.parse(cells[10]!.value)).toEqual(row.payload);
        expect(cells[11]!.raw).toBe(csvCell(row.hash));
      });

      // Filters apply, and nothing to export is no text at all.
      let refused = '';
      for await (const chunk of db.log.exportText({ sessionId: id, entryType: 'refused' }, 'ndjson', 1))
        refused += chunk;
      expect(
        refused
          .trim()
          .split('\n')
          .map((line) => JSON.parse(line).commandId),
      ).toEqual(awkward.map((r) => r.type !== 'event' && r.commandId));
      const none: Array<string | Buffer> = [];
      for await (const chunk of db.log.exportText({ sessionId: 's-nothing-here' }, 'csv')) none.push(chunk);
      expect(none).toEqual([]);
    });

    it('reads events back in seq order across pages, as they were appended', async () => {
      const id = uniqueName('s');
      const records = [...commandWithEvents(id, 1, 7), ...commandWithEvents(id, 8, 5)];
      await db.log.append(records);
      const pages = [];
      for await (const page of db.make({ eventsChunkSize: 3 }).eventPages(id)) pages.push(page);
      const events = pages.flat();
      expect(pages.every((page) => page.length > 0)).toBe(true);
      expect(events).toEqual(records.flatMap((record) => (record.type === 'event' ? [record.event] : [])));
    });
  });
}

/** A CSV reader for the test: each cell's raw text and its value (quotes undone). */
function parseCsv(text: string): Array<Array<{ raw: string; value: string }>> {
  const records: Array<Array<{ raw: string; value: string }>> = [];
  let cells: Array<{ raw: string; value: string }> = [];
  let i = 0;
  while (i < text.length) {
    const start = i;
    let value = '';
    if (text[i] === '"') {
      i++;
      for (;;) {
        const quote = text.indexOf('"', i);
        value += text.slice(i, quote);
        i = quote + 1;
        if (text[i] === '"') {
          value += '"';
          i++;
        } else break;
      }
    } else {
      while (i < text.length && text[i] !== ',' && text[i] !== '\r') i++;
      value = text.slice(start, i);
    }
    cells.push({ raw: text.slice(start, i), value });
    if (text[i] === ',') i++;
    else if (text.startsWith('\r\n', i)) {
      i += 2;
      records.push(cells);
      cells = [];
    }
  }
  return records;
}

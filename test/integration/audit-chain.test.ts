import path from 'node:path';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPgAuditLog, createPgliteAuditLog, type DrizzleAuditLog } from '../../server/audit/drizzle-audit-log.js';
import { commandWithEvents, refusedRecord } from '../support/audit-records.js';
import { serviceAvailable, TEST_DATABASE_URL, uniqueName } from '../support/services.js';

const postgresUp = await serviceAvailable('postgres');

describe.skipIf(!postgresUp)('audit hash chain on Postgres', () => {
  const schema = uniqueName('audit_chain');
  const table = `"${schema}".audit_log`;
  let pool: pg.Pool;
  let log: DrizzleAuditLog;

  beforeAll(async () => {
    pool = new pg.Pool({ connectionString: TEST_DATABASE_URL, max: 6 });
    pool.on('error', () => {});
    log = await createPgAuditLog(pool, { schema });
  });
  afterAll(async () => {
    await log?.close();
    await pool?.query(`drop schema if exists "${schema}" cascade`);
    await pool?.end();
  });

  /** A session of 1 command row and 12 event rows (13 rows), returned with its row ids in order. */
  async function session(): Promise<{ id: string; rows: { id: number; seq: number | null }[] }> {
    const id = uniqueName('s');
    await log.append(commandWithEvents(id, 1, 6));
    await log.append(commandWithEvents(id, 7, 6));
    const result = await pool.query(`select id::int, seq::int from ${table} where session_id = $1 order by id`, [id]);
    return { id, rows: result.rows };
  }

  /** Runs statements as the table owner with the append-only trigger out of the way, as an attacker with owner rights would. */
  async function asOwnerWithoutTrigger(run: (client: pg.PoolClient) => Promise<unknown>): Promise<void> {
    const client = await pool.connect();
    try {
      await client.query('begin');
      await client.query('set local session_replication_role = replica');
      await run(client);
      await client.query('commit');
    } catch (error) {
      await client.query('rollback');
      throw error;
    } finally {
      client.release();
    }
  }

  it('reports an untouched session intact, with its row count, last seq and head hash', async () => {
    const { id, rows } = await session();
    const result = await log.verify(id);
    expect(result).toMatchObject({ intact: true, rows: rows.length, lastSeq: 12 });
    expect(result.intact && result.headHash).toMatch(/^[0-9a-f]{64}$/);
  });

  it('stays intact through retried and overlapping batches and concurrent writers', async () => {
    const id = uniqueName('s');
    const first = commandWithEvents(id, 1, 20);
    await log.append(first);
    await log.append(first); // the whole batch again: a retry after a lost commit answer
    await log.append([...first.slice(10), ...commandWithEvents(id, 21, 5)]); // half old, half new
    await log.append([refusedRecord(id, 'cmd-refused-1', { kind: 'question.flag' })]);
    // Two writers on separate connections appending to the same session at once.
    await Promise.all([log.append(commandWithEvents(id, 26, 30)), log.append(commandWithEvents(id, 56, 30))]);
    expect(await log.verify(id)).toMatchObject({ intact: true, rows: 1 + 20 + 1 + 5 + 1 + 31 + 31, lastSeq: 85 });
  });

  it('names the row whose content was changed', async () => {
    const { id, rows } = await session();
    const target = rows[5]!;
    await asOwnerWithoutTrigger((client) =>
      client.query(`update ${table} set payload = jsonb_set(payload, '{kind}', '"tampered"') where id = $1`, [
        target.id,
      ]),
    );
    expect(await log.verify(id)).toMatchObject({
      intact: false,
      reason: 'content_altered',
      firstBrokenId: target.id,
      firstBrokenSeq: target.seq,
      rows: 5,
    });
  });

  it('names the row after a deleted one', async () => {
    const { id, rows } = await session();
    await asOwnerWithoutTrigger((client) => client.query(`delete from ${table} where id = $1`, [rows[4]!.id]));
    expect(await log.verify(id)).toMatchObject({
      intact: false,
      reason: 'chain_broken',
      firstBrokenId: rows[5]!.id,
      firstBrokenSeq: rows[5]!.seq,
    });
  });

  it('names the first of two swapped rows', async () => {
    const { id, rows } = await session();
    const [a, b] = [rows[3]!, rows[9]!];
    // Every column but the id swaps: the rows keep their own hashes and trade places.
    const columns = [
      'entry_type',
      'kind',
      'at',
      'actor_id',
      'actor_name',
      'actor_role',
      'command_id',
      'payload',
      'prev_hash',
      'hash',
    ];
    await asOwnerWithoutTrigger(async (client) => {
      await client.query(`update ${table} set seq = -seq where id in ($1, $2)`, [a.id, b.id]); // out of the unique index's way
      await client.query(
        `update ${table} t set ${columns.map((c) => `${c} = o.${c}`).join(', ')}
         from ${table} o where (t.id, o.id) in (($1::bigint, $2::bigint), ($2::bigint, $1::bigint))`,
        [a.id, b.id],
      );
      await client.query(`update ${table} set seq = $2 where id = $1`, [a.id, b.seq]);
      await client.query(`update ${table} set seq = $2 where id = $1`, [b.id, a.seq]);
    });
    const swapped = await pool.query(`select seq::int from ${table} where id = $1`, [a.id]);
    expect(swapped.rows[0].seq).toBe(b.seq);
    expect(await log.verify(id)).toMatchObject({
      intact: false,
      reason: 'chain_broken',
      firstBrokenId: a.id,
      firstBrokenSeq: b.seq,
    });
  });

  it('names the first missing seq when the last event row was removed and its successor rewritten to match', async () => {
    const { id, rows } = await session();
    // A careful attacker removes event seq 12 (the last row): the chain alone cannot see it.
    await asOwnerWithoutTrigger((client) => client.query(`delete from ${table} where id = $1`, [rows.at(-1)!.id]));
    expect(await log.verify(id)).toMatchObject({ intact: true, rows: rows.length - 1, lastSeq: 11 });
    // One in the middle whose successors were re-chained by hand shows as a seq gap.
    const middle = rows.find((row) => row.seq === 4)!;
    await asOwnerWithoutTrigger(async (client) => {
      await client.query(`delete from ${table} where id = $1`, [middle.id]);
      await rechain(client, id);
    });
    expect(await log.verify(id)).toMatchObject({
      intact: false,
      reason: 'events_missing',
      firstBrokenSeq: 4,
      firstBrokenId: null,
    });
  });

  /** Recomputes every hash of the session as the trigger would: what someone with owner rights and the source could do. */
  async function rechain(client: pg.PoolClient, sessionId: string): Promise<void> {
    const { rows } = await client.query(`select id from ${table} where session_id = $1 order by id`, [sessionId]);
    let previous = '';
    for (const { id } of rows) {
      const { rows: updated } = await client.query(
        `update ${table} set prev_hash = $2, hash = encode(sha256(convert_to($2 || E'\\n' || jsonb_build_array('cueroom-audit-1', session_id, seq, entry_type, kind,
           round(extract(epoch from at) * 1000)::bigint, actor_id, actor_name, actor_role, command_id, payload)::text, 'UTF8')), 'hex')
         where id = $1 returning hash`,
        [id, previous],
      );
      previous = updated[0].hash;
    }
  }

  it('refuses UPDATE, DELETE and TRUNCATE from the app, even as the table owner', async () => {
    const { id, rows } = await session();
    await expect(pool.query(`update ${table} set kind = 'x' where id = $1`, [rows[0]!.id])).rejects.toThrow(
      /append-only/,
    );
    await expect(pool.query(`delete from ${table} where session_id = $1`, [id])).rejects.toThrow(/append-only/);
    await expect(pool.query(`truncate ${table}`)).rejects.toThrow(/append-only/);
    expect(await log.verify(id)).toMatchObject({ intact: true, rows: rows.length });
  });

  it('grants the cueroom_app role INSERT and SELECT only', async () => {
    const { id, rows } = await session();
    const client = await pool.connect();
    try {
      await client.query('set role cueroom_app');
      const read = await client.query(`select count(*)::int as n from ${table} where session_id = $1`, [id]);
      expect(read.rows[0].n).toBe(rows.length);
      await client.query(
        `insert into ${table} (session_id, entry_type, kind, at, actor_id, actor_name, actor_role, command_id, payload)
         values ($1, 'refused', 'unknown', now(), 'a', 'A', 'ops', 'cmd-as-app', '{}')`,
        [id],
      );
      // Refused by the grants before the trigger is even asked.
      await expect(client.query(`update ${table} set kind = 'x' where session_id = $1`, [id])).rejects.toThrow(
        /permission denied/,
      );
      await expect(client.query(`delete from ${table} where session_id = $1`, [id])).rejects.toThrow(
        /permission denied/,
      );
      await expect(client.query(`truncate ${table}`)).rejects.toThrow(/permission denied/);
    } finally {
      await client.query('reset role').catch(() => {});
      client.release();
    }
    // A row inserted by hand is chained by the database like any other.
    expect(await log.verify(id)).toMatchObject({ intact: true, rows: rows.length + 1 });
  });
  it('lets a server running as a login role in cueroom_app start on the migrated database, append and verify', async () => {
    const login = uniqueName('cueroom_app_login');
    await pool.query(`create role ${login} login password 'test' in role cueroom_app`);
    const url = new URL(TEST_DATABASE_URL);
    url.username = login;
    url.password = 'test';
    const appPool = new pg.Pool({ connectionString: url.toString(), max: 2 });
    appPool.on('error', () => {});
    try {
      // Migrations are up to date: no DDL is attempted, which this role could not run.
      const appLog = await createPgAuditLog(appPool, { schema });
      const id = uniqueName('s');
      await appLog.append(commandWithEvents(id, 1, 3));
      expect(await appLog.verify(id)).toMatchObject({ intact: true, rows: 4, lastSeq: 3 });
      await expect(appPool.query(`delete from ${table} where session_id = $1`, [id])).rejects.toThrow(
        /permission denied/,
      );
    } finally {
      await appPool.end();
      await pool.query(`drop role if exists ${login}`);
    }
  });
});

describe('audit hash chain on PGlite (same migrations)', () => {
  let dir: string;
  let log: DrizzleAuditLog;

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'cueroom-chain-'));
    log = await createPgliteAuditLog(path.join(dir, 'pglite'));
  });
  afterAll(async () => {
    await log?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('chains rows, survives retries and reports the session intact', async () => {
    const id = uniqueName('s');
    const batch = commandWithEvents(id, 1, 8);
    await log.append(batch);
    await log.append(batch);
    await log.append(commandWithEvents(id, 9, 4));
    expect(await log.verify(id)).toMatchObject({ intact: true, rows: 9 + 5, lastSeq: 12 });
  });

  it('scans filtered rows in id order across keyset pages, and pages reads by actor and time', async () => {
    const id = uniqueName('s');
    await log.append([...commandWithEvents(id, 1, 7), refusedRecord(id, 'cmd-refused', { kind: 'question.flag' })]);
    const all: { id: number; entryType: string }[] = [];
    for await (const row of log.scan({ sessionId: id }, 3)) all.push(row);
    expect(all).toHaveLength(9);
    expect(all.map((row) => row.id)).toEqual([...all.map((row) => row.id)].sort((a, b) => a - b));
    const refused: unknown[] = [];
    for await (const row of log.scan({ sessionId: id, entryType: 'refused' }, 3)) refused.push(row);
    expect(refused).toHaveLength(1);

    const events = await log.read(id, { limit: 100, entryType: 'event', actorRole: 'ops' });
    expect(events.length).toBeGreaterThan(0);
    const at = events[2]!.at;
    const later = await log.read(id, { limit: 100, entryType: 'event', from: at });
    expect(later.every((row) => row.at.getTime() >= at.getTime())).toBe(true);
    expect(later.length).toBeLessThan(7);
    expect(await log.read(id, { limit: 100, actorId: 'nobody' })).toEqual([]);
  });
});

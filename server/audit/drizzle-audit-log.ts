import { mkdirSync } from 'node:fs';
import { PGlite } from '@electric-sql/pglite';
import { and, asc, desc, DrizzleQueryError, eq, gt, gte, isNotNull, lt, max, sql, type SQL } from 'drizzle-orm';
import { drizzle as drizzlePg } from 'drizzle-orm/node-postgres';
import { PgDialect, type PgDatabase, type PgQueryResultHKT } from 'drizzle-orm/pg-core';
import { drizzle as drizzlePglite } from 'drizzle-orm/pglite';
import type pg from 'pg';
import { escapeLiteral } from 'pg';
import { to as copyTo } from 'pg-copy-streams';
import { commandSchemas, systemCommandSchemas } from '../../shared/commands.js';
import type { SessionEvent } from '../../shared/events.js';
import type { AuditRecord } from '../store/session-store.js';
import {
  InvalidAuditRecordError,
  MAX_AUDIT_PAGE,
  type AuditArchive,
  type AuditExportFormat,
  type AuditFilter,
  type AuditQuery,
  type AuditRow,
  type AuditSearchHit,
} from './audit-log.js';
import { copyBinaryValues } from './copy-binary.js';
import { parseJsonValues } from './json-values.js';
import { chainBreak, CHAIN_VERSION, eventsMissing, type ChainBreak, type VerifyResult } from './audit-chain.js';
import { insertRowsQuery } from './insert-rows.js';
import { migrateAuditDb } from './migrate.js';
import { auditLogIn, type AuditLogTable, type NewAuditLogRow } from './schema.js';

/**
 * Rows per INSERT (one jsonb parameter each, so no limit on parameters): as large as the
 * audit shipper's batches, so a batch is one statement and one round trip.
 */
export const INSERT_CHUNK_ROWS = 2000;
/**
 * The row of the verify query as the driver gives it (bigints may come as strings): the
 * first broken row of a page, or the page's last row with the page's counts.
 */
interface RawVerifyRow {
  id: number | string;
  seq: number | string | null;
  n: number | string;
  event_rows: number | string;
  last_seq: number | string | null;
  hash: string | null;
  reason: ChainBreak | null;
}

/** What one page of `verify` found: its rows up to the first break (if any), and its counts. */
interface VerifyPage {
  rows: number;
  eventRows: number;
  lastSeq: number;
  lastHash: string | null;
  broken: { reason: ChainBreak; id: number; seq: number | null } | null;
}

export interface DrizzleAuditLogOptions {
  /** Postgres schema holding the table. Default: unqualified (the search_path, i.e. `public`). */
  schema?: string;
  /** Events fetched per query by `eventPages()` on PGlite (on Postgres they come in one COPY). Default 5000. */
  eventsChunkSize?: number;
  /**
   * Rows checked per query by `verify()`: each query stays short (the production pool has a
   * query timeout). Default 50,000.
   */
  verifyPageRows?: number;
  /** Runs on `close()`: closes what the log owns (PGlite), never an injected pool. Default: nothing. */
  onClose?: () => Promise<void>;
}

/** Renders drizzle SQL to text and parameters for the queries sent to the driver directly. */
const DIALECT = new PgDialect();

/**
 * Drizzle SQL as one statement with its parameters written in as literals (pg's
 * escapeLiteral), for statements that take no parameters (COPY). Only `$n` outside quoted
 * identifiers and string literals is a placeholder.
 */
function inlined(query: SQL): string {
  const { sql: text, params } = DIALECT.sqlToQuery(query);
  return text.replace(/"(?:[^"]|"")*"|'(?:[^']|'')*'|\$(\d+)/g, (match, index: string | undefined) => {
    if (index === undefined) return match;
    const value = params[Number(index) - 1];
    if (typeof value === 'string') return escapeLiteral(value);
    if (typeof value === 'number' && Number.isFinite(value)) return String(value);
    if (value instanceof Date) return escapeLiteral(value.toISOString());
    throw new TypeError(`inlined: parameter $${index} is a ${typeof value}`);
  });
}

/** node-postgres type parsers that leave every value as the text Postgres sent. */
const TEXT_ONLY = { getTypeParser: () => (value: string) => value } as unknown as pg.CustomTypesConfig;

// Any drizzle Postgres database: node-postgres and PGlite differ only in their result type.
type AnyPgDatabase = PgDatabase<PgQueryResultHKT, Record<string, unknown>>;

/**
 * The audit log over drizzle: one class for Postgres (node-postgres) and PGlite, so the
 * production and the embedded log run the same SQL and pass the same contract suite.
 */
export class DrizzleAuditLog implements AuditArchive {
  readonly #db: AnyPgDatabase;
  readonly #table: AuditLogTable;
  readonly #eventsChunkSize: number;
  readonly #verifyPageRows: number;
  readonly #onClose: (() => Promise<void>) | undefined;
  #closed = false;

  constructor(db: AnyPgDatabase, options: DrizzleAuditLogOptions = {}) {
    this.#db = db;
    this.#table = auditLogIn(options.schema);
    this.#eventsChunkSize = options.eventsChunkSize ?? 5000;
    this.#verifyPageRows = options.verifyPageRows ?? 50_000;
    this.#onClose = options.onClose;
  }

  /** The driver under drizzle: PGlite (embedded) or a node-postgres pool. */
  get #client(): PGlite | pg.Pool {
    return (this.#db as unknown as { $client: PGlite | pg.Pool }).$client;
  }

  async append(records: readonly AuditRecord[]): Promise<void> {
    // Map everything first: a record that cannot be stored fails the call before any write.
    // Grouped by session (stably, so each session keeps its order): the chain trigger locks
    // each session on its first row, and two batches that lock in one order never deadlock.
    const rows = records
      .map(toRow)
      .sort((a, b) => (a.sessionId < b.sessionId ? -1 : a.sessionId > b.sessionId ? 1 : 0));
    if (rows.length === 0) return;
    const table = this.#table;
    // One statement per chunk, its rows in one jsonb parameter (insert-rows.ts); a
    // replayed batch, or a row repeated inside one, is skipped by the unique indexes.
    await driverErrors(async () => {
      if (rows.length <= INSERT_CHUNK_ROWS) {
        await this.#db.execute(insertRowsQuery(table, rows));
        return;
      }
      await this.#db.transaction(async (tx) => {
        for (let start = 0; start < rows.length; start += INSERT_CHUNK_ROWS) {
          await tx.execute(insertRowsQuery(table, rows.slice(start, start + INSERT_CHUNK_ROWS)));
        }
      });
    });
  }

  /**
   * Walks the session's hash chain in id order and reports the first row that breaks it,
   * then checks that no event seq is missing. The database does the walk: it rebuilds
   * each row's canonical text and hash with the same builtins the chain trigger used (not
   * a stored function someone could have replaced) and compares it with the row before,
   * in pages of `verifyPageRows` over the (session_id, id) index, stopping at the first
   * break: no row crosses the wire, only one per page.
   */
  async verify(sessionId: string): Promise<VerifyResult> {
    const pageRows = this.#verifyPageRows;
    // Pages are checked two at a time (on two connections, so two database processes hash
    // side by side), and their results read in order: the first page with a break decides.
    const inFlight: Promise<VerifyPage>[] = [];
    let cursor: number | null = 0;
    let rows = 0;
    let eventRows = 0;
    let lastSeq = 0;
    let headHash: string | null = null;
    try {
      for (;;) {
        while (inFlight.length < 2 && cursor !== null) {
          const start: number = cursor;
          inFlight.push(handled(this.#verifyPage(sessionId, start)));
          cursor = await this.#pageEnd(sessionId, start, pageRows);
        }
        const page = inFlight.shift();
        if (!page) break;
        const result = await page;
        if (result.broken) {
          const { eventRows: _, ...broken } = chainBreak(result.broken.reason, {
            rows: rows + result.rows,
            eventRows: 0,
            id: result.broken.id,
            seq: result.broken.seq,
          });
          return broken;
        }
        rows += result.rows;
        eventRows += result.eventRows;
        lastSeq = Math.max(lastSeq, result.lastSeq);
        if (result.rows > 0) headHash = result.lastHash;
      }
    } finally {
      // A break was found: the pages checked ahead no longer matter.
      for (const page of inFlight) void page.catch(() => undefined);
    }
    const intact: VerifyResult = { intact: true, rows, lastSeq, headHash };
    if (eventRows === lastSeq) return intact;
    return eventsMissing(rows, await this.#firstMissingSeq(sessionId));
  }

  /** Id of the `pageRows`-th row of the session after `afterId`, or null when fewer are left (an index-only walk). */
  async #pageEnd(sessionId: string, afterId: number, pageRows: number): Promise<number | null> {
    const t = this.#table;
    const [row] = await driverErrors(() =>
      this.#textRows(sql`
        select ${t.id}::text from ${t}
        where (${t.sessionId}, ${t.id}) > (${sessionId}, ${afterId}) and ${t.sessionId} <= ${sessionId}
        order by ${t.sessionId}, ${t.id}
        offset ${pageRows - 1} limit 1`),
    );
    return row?.[0] == null ? null : Number(row[0]);
  }

  /**
   * Checks the `verifyPageRows` rows of the session after `afterId`: the database rebuilds
   * each row's canonical text and hash and compares each row with the one before (for the
   * first, the row before the page). `json_build_array` renders the very text the trigger's
   * `jsonb_build_array(…)::text` does (the same ", " separators and string escaping, the
   * payload by jsonb's own output; the tests check it against the trigger's hashes) without
   * building a jsonb value first: 1.6× faster. The keyset is a row comparison plus a range on
   * session_id (never an equality, which let the planner walk the primary key and filter
   * instead, from the start of the table): only the (session_id, id) index answers it.
   */
  async #verifyPage(sessionId: string, afterId: number): Promise<VerifyPage> {
    const t = this.#table;
    const result = await driverErrors(() =>
      this.#db.execute(sql`
        select id, seq, hash, n, event_rows, last_seq, reason from (
          select id, seq, hash,
            row_number() over w as n,
            count(*) over () as page_rows,
            count(seq) over w as event_rows,
            max(seq) over w as last_seq,
            case
              when hash is null or prev_hash is null then 'missing_hash'
              when encode(sha256(convert_to(prev_hash || E'\n' || json_build_array(${CHAIN_VERSION}::text,
                session_id, seq, entry_type, kind, round(extract(epoch from at) * 1000)::bigint, actor_id,
                actor_name, actor_role, command_id, payload)::text, 'UTF8')), 'hex') <> hash then 'content_altered'
              when prev_hash <> lag(hash, 1, coalesce((
                select ${t.hash} from ${t}
                where (${t.sessionId}, ${t.id}) <= (${sessionId}, ${afterId}) and ${t.sessionId} >= ${sessionId}
                order by ${t.sessionId} desc, ${t.id} desc limit 1), '')) over w then 'chain_broken'
            end as reason
          from (
            select * from ${t}
            where (${t.sessionId}, ${t.id}) > (${sessionId}, ${afterId}) and ${t.sessionId} <= ${sessionId}
            order by ${t.sessionId}, ${t.id}
            limit ${this.#verifyPageRows}
          ) page
          window w as (order by id rows between unbounded preceding and current row)
        ) checked
        where reason is not null or n = page_rows
        order by id
        limit 1`),
    );
    const row = (result as unknown as { rows: RawVerifyRow[] }).rows[0];
    if (!row) return { rows: 0, eventRows: 0, lastSeq: 0, lastHash: null, broken: null };
    const n = Number(row.n);
    const seq = row.seq === null ? null : Number(row.seq);
    if (row.reason !== null) {
      return {
        rows: n - 1,
        eventRows: 0,
        lastSeq: 0,
        lastHash: null,
        broken: { reason: row.reason, id: Number(row.id), seq },
      };
    }
    return {
      rows: n,
      eventRows: Number(row.event_rows),
      lastSeq: row.last_seq === null ? 0 : Number(row.last_seq),
      lastHash: row.hash,
      broken: null,
    };
  }

  async #firstMissingSeq(sessionId: string): Promise<number> {
    const t = this.#table;
    // The first seq whose successor is absent, over the (session_id, seq) index.
    const result = await driverErrors(() =>
      this.#db.execute(sql`
        select coalesce(
          (select 1 where not exists (select 1 from ${t} where ${t.sessionId} = ${sessionId} and ${t.seq} = 1)),
          (select min(a.seq) + 1 from ${t} a
            where a.session_id = ${sessionId} and a.seq is not null
              and not exists (select 1 from ${t} b where b.session_id = a.session_id and b.seq = a.seq + 1)
              and a.seq < (select max(seq) from ${t} where session_id = ${sessionId}))
        ) as missing`),
    );
    const rows = (result as unknown as { rows: Array<{ missing: number | string | null }> }).rows;
    return Number(rows[0]?.missing ?? 0);
  }

  async read(sessionId: string, query: AuditQuery): Promise<AuditRow[]> {
    const t = this.#table;
    const limit = Math.min(Math.max(1, Math.floor(query.limit) || 1), MAX_AUDIT_PAGE);
    const filters = this.#filters({ ...query, sessionId });
    if (query.afterId !== undefined) filters.push(gt(t.id, query.afterId));
    return driverErrors(() =>
      this.#db
        .select(this.#rowColumns())
        .from(t)
        .where(and(...filters))
        .orderBy(asc(t.id))
        .limit(limit),
    );
  }

  #rowColumns() {
    const t = this.#table;
    return {
      id: t.id,
      sessionId: t.sessionId,
      seq: t.seq,
      entryType: t.entryType,
      kind: t.kind,
      at: t.at,
      actorId: t.actorId,
      actorName: t.actorName,
      actorRole: t.actorRole,
      commandId: t.commandId,
      payload: t.payload,
    };
  }

  #filters(filter: AuditFilter): SQL[] {
    const t = this.#table;
    const filters: SQL[] = [];
    if (filter.sessionId !== undefined) filters.push(eq(t.sessionId, filter.sessionId));
    if (filter.entryType !== undefined) filters.push(eq(t.entryType, filter.entryType));
    if (filter.kind !== undefined) filters.push(eq(t.kind, filter.kind));
    if (filter.actorId !== undefined) filters.push(eq(t.actorId, filter.actorId));
    if (filter.actorRole !== undefined) filters.push(eq(t.actorRole, filter.actorRole));
    if (filter.from !== undefined) filters.push(gte(t.at, filter.from));
    if (filter.to !== undefined) filters.push(lt(t.at, filter.to));
    if (filter.severity !== undefined) {
      filters.push(
        sql`${t.kind} like 'incident.%'`,
        sql`${t.payload} -> 'incident' ->> 'severity' = ${filter.severity}`,
      );
    }
    return filters;
  }

  async *scan(filter: AuditFilter, pageRows = 5000): AsyncIterable<AuditRow & { hash: string | null }> {
    const t = this.#table;
    const filters = this.#filters(filter);
    let afterId = 0;
    // Keyset pages by id: each page is one short query (no cursor held open across the
    // response, which may be slow to drain), and rows appended meanwhile come at the end.
    for (;;) {
      const rows = await driverErrors(() =>
        this.#db
          .select({ ...this.#rowColumns(), hash: t.hash })
          .from(t)
          .where(and(...filters, gt(t.id, afterId)))
          .orderBy(asc(t.id))
          .limit(pageRows),
      );
      yield* rows;
      const last = rows.at(-1);
      if (rows.length < pageRows || !last) return;
      afterId = last.id;
    }
  }

  /**
   * The export's text. The database renders every line (EXPORT_LINE). On Postgres, one
   * binary COPY whose bytes are passed on undecoded (`#copyExport`; `pageRows` does not
   * apply). On PGlite, one string per keyset page of `pageRows` rows, the page joined by
   * the database, so this process only passes text through; two pages are rendered at once
   * while the one before is written. Memory stays at three pages.
   */
  async *exportText(filter: AuditFilter, format: AuditExportFormat, pageRows = 5000): AsyncIterable<string | Buffer> {
    const client = this.#client;
    if (!(client instanceof PGlite)) {
      yield* this.#copyExport(client, filter, format);
      return;
    }
    const t = this.#table;
    // The session as a range, not an equality: see `after` below.
    const { sessionId, ...rest } = filter;
    const filters = this.#filters(rest);
    // On one session, the keyset as a row comparison on (session_id, id) and a range on
    // session_id: only the (session_id, id) index answers it, in order, whatever the
    // statistics say. With `session_id = …` the planner may walk the primary key and
    // filter instead, from the start of the table on every page.
    const after = (afterId: number) =>
      sessionId === undefined
        ? gt(t.id, afterId)
        : sql`(${t.sessionId}, ${t.id}) > (${sessionId}, ${afterId}) and ${t.sessionId} <= ${sessionId}`;
    const order = sessionId === undefined ? sql`${t.id}` : sql`${t.sessionId}, ${t.id}`;
    const page = async (afterId: number): Promise<string> => {
      const [row] = await driverErrors(() =>
        this.#textRows(sql`
          select string_agg(line, '' order by id)
          from (
            select ${t.id} as id, ${EXPORT_LINE[format]} as line from ${t}
            where ${and(...filters, after(afterId))}
            order by ${order}
            limit ${pageRows}
          ) page`),
      );
      return row?.[0] ?? '';
    };
    // Where the page after `afterId` ends (null: it is the last), by a walk of the index.
    const pageEnd = async (afterId: number): Promise<number | null> => {
      const [row] = await driverErrors(() =>
        this.#textRows(sql`
          select ${t.id}::text from ${t}
          where ${and(...filters, after(afterId))}
          order by ${order}
          offset ${pageRows - 1} limit 1`),
      );
      return row?.[0] == null ? null : Number(row[0]);
    };
    // Two pages are rendered at a time, on two connections (two database processes side by
    // side), and written in order.
    const ahead: Promise<string>[] = [];
    let cursor: number | null = 0;
    try {
      for (;;) {
        while (ahead.length < 2 && cursor !== null) {
          const start: number = cursor;
          ahead.push(handled(page(start)));
          cursor = await pageEnd(start);
        }
        const next = ahead.shift();
        if (!next) return;
        const text = await next;
        if (text !== '') yield text;
      }
    } finally {
      // The reader went away (a client that hung up): the pages rendered ahead are dropped.
      for (const pending of ahead) void pending.catch(() => undefined);
    }
  }

  /**
   * The export on Postgres: one `COPY (select <line> …) TO STDOUT (FORMAT binary)`, its
   * bytes passed on as they come with only the COPY framing taken off (`#copyValues`). The
   * lines are never decoded into strings here (node-postgres would decode every page, and
   * the response encode it again). The response pulls: the COPY stream reads the socket
   * only as fast as the chunks are taken, so memory stays at a few chunks.
   */
  #copyExport(pool: pg.Pool, filter: AuditFilter, format: AuditExportFormat): AsyncIterable<Buffer> {
    const t = this.#table;
    const order = filter.sessionId === undefined ? sql`${t.id}` : sql`${t.sessionId}, ${t.id}`;
    return this.#copyValues(
      pool,
      sql`select ${EXPORT_LINE[format]} from ${t} where ${and(...this.#filters(filter)) ?? sql`true`} order by ${order}`,
      'audit export',
    );
  }

  /**
   * The events of a session on Postgres: one binary COPY of each event's JSON followed by a
   * comma, in seq order, each chunk parsed as it comes into one page (json-values.ts reads
   * the bytes as Latin-1 and mends the few strings that hold other characters: decoding
   * them as UTF-8 first took longer than the database took to write them).
   */
  async *#copyEventPages(pool: pg.Pool, sessionId: string): AsyncIterable<SessionEvent[]> {
    const t = this.#table;
    const chunks = this.#copyValues(
      pool,
      sql`select ${eventJson(t)} || ',' from ${t}
        where ${t.sessionId} = ${sessionId} and ${t.seq} is not null order by ${t.seq}`,
      'audit events',
    );
    for await (const chunk of chunks) {
      const page = parseJsonValues(chunk) as SessionEvent[];
      if (page.length > 0) yield page;
    }
  }

  /**
   * The values of a query's one text column, as `COPY (query) TO STDOUT (FORMAT binary)` on
   * a connection of its own writes them, with only the COPY framing taken off
   * (copy-binary.ts): each chunk holds whole values. The rows come in index order, in a
   * read-only transaction (one snapshot). A reader that stops early ends the COPY by
   * closing its connection, which the pool then replaces.
   */
  async *#copyValues(pool: pg.Pool, query: SQL, what: string): AsyncIterable<Buffer> {
    const copy = inlined(sql`copy (${query}) to stdout (format binary)`);
    const client = await driverErrors(() => pool.connect());
    let finished = false;
    let failure: unknown;
    try {
      // The rows in index order, never a scan and a sort: without a LIMIT the planner would
      // rather read the table (in parallel) and sort a session that is most of it, which
      // writes nothing until the sort is done and spills it to disk. And one process, no
      // parallel workers: workers render rows side by side but the leader merges them back
      // into order through shared-memory queues, and they take the CPU this process and the
      // client need (A/B, docs/benchmarks.md: CSV export 138–160k rows/s against 93–113k).
      // Only this transaction sees the settings.
      await client.query(
        'begin read only; set local enable_seqscan = off; set local enable_bitmapscan = off; set local enable_sort = off; set local jit = off; set local max_parallel_workers_per_gather = 0',
      );
      const stream = client.query(copyTo(copy));
      // node-postgres times a query from its start to its callback, and never calls a COPY
      // stream's: its query_timeout would fail every COPY that takes longer (and fire at
      // the stream after it ended). It is taken off, and the same limit applies instead to
      // each wait for the database's next chunk (a slow reader does not count).
      const idleLimit = (client as unknown as { connectionParameters?: { query_timeout?: number } })
        .connectionParameters?.query_timeout;
      (stream as unknown as { callback?: () => void }).callback?.();
      // The async iterator over the stream destroys it when reading stops early (an error,
      // or a reader that went away).
      yield* copyBinaryValues(idleTimeout(stream as AsyncIterable<Buffer>, idleLimit));
      await client.query('commit');
      finished = true;
    } catch (error) {
      failure = error;
      throw error;
    } finally {
      // A COPY not read to its end leaves the connection mid-protocol: release(error) closes
      // it (the server's COPY ends with it) instead of handing it to the next query.
      client.release(
        finished
          ? undefined
          : failure instanceof Error
            ? failure
            : new Error(`${what}: the COPY was not read to its end`),
      );
    }
  }

  /**
   * Rows as arrays of the database's own text, straight from the driver (no drizzle row
   * mapping, no type parsing): for queries whose every column is text, read by the
   * thousand. Errors are the driver's.
   */
  async #textRows(query: SQL): Promise<(string | null)[][]> {
    const { sql: text, params } = DIALECT.sqlToQuery(query);
    const client = this.#client;
    if (client instanceof PGlite) {
      return (await client.query<(string | null)[]>(text, params, { rowMode: 'array' })).rows;
    }
    const result = await client.query<(string | null)[]>({
      text,
      values: params,
      rowMode: 'array',
      types: TEXT_ONLY,
    });
    return result.rows;
  }

  async searchSessions(filter: AuditFilter, limit: number): Promise<AuditSearchHit[]> {
    const t = this.#table;
    const rows = await driverErrors(() =>
      this.#db
        .select({
          sessionId: t.sessionId,
          rows: sql<number>`count(*)::int`.mapWith(Number),
          firstAt: sql<Date>`min(${t.at})`.mapWith(t.at),
          lastAt: sql<Date>`max(${t.at})`.mapWith(t.at),
        })
        .from(t)
        .where(and(...this.#filters(filter)))
        .groupBy(t.sessionId)
        .orderBy(desc(sql`max(${t.at})`), asc(t.sessionId))
        .limit(Math.min(Math.max(1, limit), MAX_AUDIT_PAGE)),
    );
    return rows;
  }

  async highestSeq(sessionId: string): Promise<number> {
    const t = this.#table;
    // `seq is not null` lets the planner use the partial (session_id, seq) index.
    const [row] = await driverErrors(() =>
      this.#db
        .select({ highest: max(t.seq) })
        .from(t)
        .where(and(eq(t.sessionId, sessionId), isNotNull(t.seq))),
    );
    return row?.highest ?? 0;
  }

  async sessionIds(): Promise<string[]> {
    const t = this.#table;
    // A loose index scan: one index probe per session instead of reading every row, which
    // matters on start in embedded mode with a long log and few sessions.
    const result = await driverErrors(() =>
      this.#db.execute(sql`
      with recursive ids as (
        (select ${t.sessionId} as session_id from ${t} order by ${t.sessionId} limit 1)
        union all
        select (select ${t.sessionId} from ${t} where ${t.sessionId} > ids.session_id order by ${t.sessionId} limit 1)
        from ids where ids.session_id is not null
      )
      select session_id from ids where session_id is not null`),
    );
    return (result as unknown as { rows: Array<{ session_id: string }> }).rows.map((row) => row.session_id);
  }

  async *eventPages(sessionId: string): AsyncIterable<SessionEvent[]> {
    const client = this.#client;
    if (!(client instanceof PGlite)) {
      yield* this.#copyEventPages(client, sessionId);
      return;
    }
    const t = this.#table;
    const pageRows = this.#eventsChunkSize;
    // On PGlite, pages are seq ranges up to the highest seq held now (later events are the
    // store's to give): they do not depend on each other, so two are asked for at a time,
    // over the (session_id, seq) index, the only one that holds seq. The database writes
    // each page as one JSON array of whole events (`eventJson`), so this process parses one
    // string per page instead of a dozen fields and a payload per event.
    const highest = await this.highestSeq(sessionId);
    const page = async (afterSeq: number): Promise<SessionEvent[]> => {
      const [row] = await driverErrors(() =>
        this.#textRows(sql`
          select '[' || string_agg(event, ',' order by seq) || ']'
          from (
            select ${t.seq} as seq, ${eventJson(t)} as event
            from ${t}
            where ${t.sessionId} = ${sessionId} and ${t.seq} is not null
              and ${t.seq} > ${afterSeq} and ${t.seq} <= ${afterSeq + pageRows}
          ) page`),
      );
      return row?.[0] ? (JSON.parse(row[0]) as SessionEvent[]) : [];
    };
    const ahead: Promise<SessionEvent[]>[] = [];
    let next = 0;
    try {
      for (;;) {
        while (ahead.length < 2 && next < highest) {
          ahead.push(handled(page(next)));
          next += pageRows;
        }
        const current = ahead.shift();
        if (!current) return;
        const events = await current;
        if (events.length > 0) yield events;
      }
    } finally {
      for (const pending of ahead) void pending.catch(() => undefined);
    }
  }

  async ping(): Promise<void> {
    await driverErrors(() => this.#db.execute(sql`select 1`));
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#onClose?.();
  }
}

/**
 * An event row as the JSON text of its event, written by the database: the envelope's
 * fields, then the payload's (the order `{ ...envelope, ...payload }` had).
 */
function eventJson(t: AuditLogTable): SQL {
  return sql`'{"seq":' || ${t.seq} || ',"at":' || round(extract(epoch from ${t.at}) * 1000)::bigint
    || ',"commandId":' || to_json(${t.commandId}) || ',"actor":{"id":' || to_json(${t.actorId})
    || ',"name":' || to_json(${t.actorName}) || ',"role":' || to_json(${t.actorRole}) || '}'
    || case when ${t.payload} = '{}'::jsonb then '}' else ',' || substr(${t.payload}::text, 2) end`;
}

/**
 * A text cell of the CSV export in SQL, as `csvCell` (server/review/review.ts) writes it: a
 * leading = + - @ tab or CR gets a quote mark (no spreadsheet formula), and a cell holding a
 * quote, comma or line break is quoted with its quotes doubled. strpos, not a regex: the
 * export renders a dozen cells per row.
 */
function csvText(column: string): string {
  const guarded = `(case when left(${column}, 1) in ('=', '+', '-', '@', E'\\t', E'\\r') then '''' || ${column} else ${column} end)`;
  const special = `strpos(${column}, '"') > 0 or strpos(${column}, ',') > 0 or strpos(${column}, E'\\n') > 0 or strpos(${column}, E'\\r') > 0`;
  return `(case when ${special} then '"' || replace(${guarded}, '"', '""') || '"' else ${guarded} end)`;
}

const ISO_AT = `to_char(at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;

/**
 * One line of the export, rendered by the database from the row's columns. CSV: the columns
 * of AUDIT_CSV_COLUMNS, the payload quoted (a JSON object always holds a quote). NDJSON: the
 * fields of an AuditRow plus `hash`, `at` in ISO 8601. In both the payload is jsonb's own text
 * (keys sorted, `": "` and `", "` between items), the text the chain hashes.
 */
const EXPORT_LINE: Record<AuditExportFormat, SQL> = {
  csv: sql.raw(
    [
      'id::text',
      csvText('session_id'),
      "coalesce(seq::text, '')",
      csvText('entry_type'),
      csvText('kind'),
      ISO_AT,
      csvText('actor_id'),
      csvText('actor_name'),
      csvText('actor_role'),
      csvText('command_id'),
      `'"' || replace(payload::text, '"', '""') || '"'`,
      "coalesce(hash, '')",
    ].join(" || ',' || ") + " || E'\\r\\n'",
  ),
  ndjson: sql.raw(
    `'{"id":' || id || ',"sessionId":' || to_json(session_id) || ',"seq":' || coalesce(seq::text, 'null')` +
      ` || ',"entryType":' || to_json(entry_type) || ',"kind":' || to_json(kind) || ',"at":"' || ${ISO_AT}` +
      ` || '","actorId":' || to_json(actor_id) || ',"actorName":' || to_json(actor_name)` +
      ` || ',"actorRole":' || to_json(actor_role) || ',"commandId":' || to_json(command_id)` +
      ` || ',"payload":' || payload::text || ',"hash":' || coalesce(to_json(hash)::text, 'null') || E'}\\n'`,
  ),
};

export interface PgAuditLogOptions {
  /** Postgres schema holding the table, created and migrated if missing. Default: `public`. */
  schema?: string;
  /** Apply pending migrations first (under an advisory lock). Default: true. */
  migrate?: boolean;
}

/**
 * The production audit log on an injected pool. The pool must already have an 'error'
 * listener, or a Postgres restart crashes the process through an idle client
 * (node-postgres#2386); this refuses a pool without one. `close()` leaves the pool open:
 * whoever made it ends it, after the last flush.
 */
export async function createPgAuditLog(pool: pg.Pool, options: PgAuditLogOptions = {}): Promise<DrizzleAuditLog> {
  if (pool.listenerCount('error') === 0) {
    throw new TypeError("createPgAuditLog: attach pool.on('error', …) first (node-postgres#2386)");
  }
  const db = drizzlePg(pool);
  if (options.migrate ?? true) {
    await migrateAuditDb(db, 'pg', options.schema === undefined ? {} : { schema: options.schema });
  }
  return new DrizzleAuditLog(db, options.schema === undefined ? {} : { schema: options.schema });
}

/**
 * The embedded audit log: PGlite in `dataDir` (created if missing), migrated. Undefined
 * keeps it in memory, which only tests of the embedded mode want. One process per data
 * folder: PGlite has no locking between processes. `close()` closes the database.
 */
export async function createPgliteAuditLog(dataDir: string | undefined): Promise<DrizzleAuditLog> {
  if (dataDir !== undefined) mkdirSync(dataDir, { recursive: true });
  const client = await PGlite.create(dataDir);
  try {
    const db = drizzlePglite(client);
    await migrateAuditDb(db, 'pglite');
    return new DrizzleAuditLog(db, { onClose: () => client.close() });
  } catch (error) {
    await client.close().catch(() => {});
    throw error;
  }
}

/**
 * The chunks of `source`, failing when one takes longer than `ms` to come (none: no limit).
 * Only the wait for the source counts, never the time the reader takes between chunks.
 */
async function* idleTimeout<T>(source: AsyncIterable<T>, ms: number | undefined): AsyncGenerator<T> {
  if (!ms || ms <= 0) {
    yield* source;
    return;
  }
  const iterator = source[Symbol.asyncIterator]();
  let done = false;
  try {
    for (;;) {
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`audit export: no data from the database for ${ms} ms`)), ms);
      });
      let next: IteratorResult<T>;
      try {
        next = await Promise.race([iterator.next(), timeout]);
      } finally {
        clearTimeout(timer);
      }
      if (next.done) {
        done = true;
        return;
      }
      yield next.value;
    }
  } finally {
    // Stopped early (a timeout, an error, a reader gone): the source is let go (a stream is destroyed).
    if (!done) void iterator.return?.()?.catch(() => undefined);
  }
}

/**
 * The promise, marked handled: a page fetched ahead may fail while the one before is still
 * awaited, and must not count as an unhandled rejection meanwhile (awaiting it still throws).
 */
function handled<T>(promise: Promise<T>): Promise<T> {
  promise.catch(() => undefined);
  return promise;
}

/**
 * Rethrows the driver's own error (pg's DatabaseError with its SQLSTATE `code`, a socket
 * error, PGlite's error) instead of drizzle's wrapper, whose message carries the query and
 * every parameter: a whole batch of audit rows in each log line of a retry loop.
 */
async function driverErrors<T>(run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (error) {
    throw error instanceof DrizzleQueryError && error.cause !== undefined ? error.cause : error;
  }
}

const KNOWN_COMMAND_KINDS: ReadonlySet<string> = new Set([
  ...Object.keys(commandSchemas),
  ...Object.keys(systemCommandSchemas),
]);

/**
 * Kind of a command as received. A refused command may be raw input: only a kind the
 * server knows goes into the column, so the column never holds arbitrary client text
 * (the raw input is still in the payload).
 */
function commandKind(command: unknown): string {
  const kind = typeof command === 'object' && command !== null ? (command as { kind?: unknown }).kind : undefined;
  return typeof kind === 'string' && KNOWN_COMMAND_KINDS.has(kind) ? kind : 'unknown';
}

function toRow(record: AuditRecord): NewAuditLogRow {
  const invalid = (why: string) =>
    new InvalidAuditRecordError(`audit record of type ${String(record.type)}: ${why}`, record);
  const text = (value: unknown, field: string): string => {
    if (typeof value !== 'string') throw invalid(`${field} is not a string`);
    return cleanString(value);
  };
  const date = (ms: unknown): Date => {
    const at = typeof ms === 'number' ? new Date(ms) : new Date(Number.NaN);
    if (Number.isNaN(at.getTime())) throw invalid(`at (${String(ms)}) is not a time`);
    return at;
  };
  switch (record.type) {
    case 'event': {
      const { seq, at, commandId, actor, ...body } = record.event;
      if (!Number.isSafeInteger(seq) || seq <= 0) throw invalid(`seq (${String(seq)}) is not a positive integer`);
      return {
        sessionId: text(record.sessionId, 'sessionId'),
        seq,
        entryType: 'event',
        kind: text(body.kind, 'kind'),
        at: date(at),
        actorId: text(actor?.id, 'actor.id'),
        actorName: text(actor?.name, 'actor.name'),
        actorRole: text(actor?.role, 'actor.role'),
        commandId: text(commandId, 'commandId'),
        // The body without its envelope: the envelope is in the columns, and eventPages()
        // puts the two back together.
        payload: cleanJson(body),
      };
    }
    case 'command':
    case 'refused':
      return {
        sessionId: text(record.sessionId, 'sessionId'),
        seq: null,
        entryType: record.type,
        kind: commandKind(record.command),
        at: date(record.at),
        actorId: text(record.actor?.id, 'actor.id'),
        actorName: text(record.actor?.name, 'actor.name'),
        actorRole: text(record.actor?.role, 'actor.role'),
        commandId: text(record.commandId, 'commandId'),
        payload: cleanJson(
          record.type === 'command'
            ? { command: record.command, result: record.result }
            : { command: record.command, error: record.result?.error },
        ),
      };
    default:
      throw invalid('unknown record type');
  }
}

/** Deeper than this, a (raw, refused) payload is cut: Postgres parses jsonb recursively. */
const MAX_JSON_DEPTH = 64;

/**
 * What Postgres can store of a value, as JSON. Postgres rejects NUL characters in text and
 * jsonb and lone UTF-16 surrogates in jsonb, and would reject the whole batch for one of
 * them: a batch the writer could then never land. They become U+FFFD, which changes only
 * strings nobody could have meant. Values JSON cannot hold go the way JSON.stringify takes
 * them (undefined dropped, NaN to null), bigints become strings.
 */
function cleanJson(value: unknown, depth = 0): unknown {
  if (typeof value === 'string') return cleanString(value);
  if (typeof value === 'bigint') return value.toString();
  if (value === null || typeof value !== 'object') return value;
  if (depth >= MAX_JSON_DEPTH) return '[nested too deep]';
  const json = (value as { toJSON?: unknown }).toJSON;
  if (typeof json === 'function') return cleanJson((json as () => unknown).call(value), depth);
  if (Array.isArray(value)) return value.map((item) => cleanJson(item === undefined ? null : item, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value)) {
    if (item === undefined || typeof item === 'function' || typeof item === 'symbol') continue;
    out[cleanString(key)] = cleanJson(item, depth + 1);
  }
  return out;
}

// NUL, a high surrogate not followed by a low one, or a low one not preceded by a high one.
const UNSTORABLE = /\u0000|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

function cleanString(value: string): string {
  return value.replace(UNSTORABLE, '\uFFFD');
}

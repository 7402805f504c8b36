import pg from 'pg';
import type { Logger } from 'pino';
import type { SessionEvent } from '../shared/events.js';
import { MAX_AUDIT_PAGE, type AuditLog } from './audit/audit-log.js';
import { AuditWriter } from './audit/audit-writer.js';
import { createPgAuditLog, createPgliteAuditLog } from './audit/drizzle-audit-log.js';
import type { Config } from './config.js';
import { foldEvents, initialState } from './domain/index.js';
import { MemoryEventFeed, MemorySessionStore, type RestoredCommand } from './store/memory-session-store.js';
import type { CommandResult, EventFeed, SessionStore } from './store/session-store.js';
import type { ErrorBody } from '../shared/protocol.js';
import path from 'node:path';

/** Everything the app needs from infrastructure, and how to shut it down in order. */
export interface Backends {
  kind: 'embedded' | 'redis';
  store: SessionStore;
  feed: EventFeed;
  audit: AuditLog;
  auditBacklog: () => number | Promise<number>;
  ping: () => Promise<void>;
  /** Stop readers → flush audit → quit Redis → end the pool (STYLE.md's shutdown order, after the sockets). */
  close: () => Promise<void>;
}

/** Postgres pool with the settings the audit writer relies on to notice an outage. */
export function createPgPool(url: string, log: Logger): pg.Pool {
  // 10: the audit shipper writes four lanes at once, and a review's export or verify reads
  // two pages at once, while requests still need a connection.
  const pool = new pg.Pool({ connectionString: url, max: 10, connectionTimeoutMillis: 5000, query_timeout: 15_000 });
  // Without it an idle client's error on a Postgres restart crashes the process (node-postgres#2386).
  pool.on('error', (error) => log.warn({ err: error }, 'postgres pool error'));
  return pool;
}

async function createAuditLog(config: Config, log: Logger): Promise<{ audit: AuditLog; pool: pg.Pool | null }> {
  if (config.databaseUrl) {
    const pool = createPgPool(config.databaseUrl, log);
    return { audit: await createPgAuditLog(pool), pool };
  }
  return { audit: await createPgliteAuditLog(path.join(config.dataDir, 'pglite')), pool: null };
}

/**
 * Embedded store (no REDIS_URL): state in this process, every command written to the audit
 * log (PGlite, or Postgres when DATABASE_URL is set) before it is acknowledged, and every
 * session rebuilt from that log on start.
 */
export async function createEmbeddedBackends(config: Config, log: Logger): Promise<Backends> {
  const { audit, pool } = await createAuditLog(config, log);
  const writer = new AuditWriter(audit, {
    onError: (error, info) => log.warn({ err: error, ...info }, 'audit write failed; retrying'),
  });
  const store = new MemorySessionStore({ onCommit: (records) => writer.write(records) });
  const feed = new MemoryEventFeed(store);
  const restored = await restoreSessions(store, audit);
  if (restored) log.info({ sessions: restored }, 'sessions rebuilt from the audit log');
  return {
    kind: 'embedded',
    store,
    feed,
    audit,
    auditBacklog: () => writer.pending(),
    ping: () => audit.ping(),
    close: async () => {
      await feed.close();
      await writer.close({ timeoutMs: config.shutdownGraceMs });
      await store.close();
      await audit.close();
      await pool?.end();
    },
  };
}

/** Replays the audit log into the memory store: state = fold of the events, the tail kept for resumes. */
export async function restoreSessions(store: MemorySessionStore, audit: AuditLog, tail = 1000): Promise<number> {
  let count = 0;
  for (const sessionId of await audit.sessionIds()) {
    const state = initialState(sessionId);
    const recent: SessionEvent[] = [];
    for await (const page of audit.eventPages(sessionId)) {
      foldEvents(page, state);
      recent.push(...page);
      if (recent.length > tail * 2) recent.splice(0, recent.length - tail);
    }
    if (state.seq === 0) continue;
    store.restore(state, recent.slice(-tail), await recentResults(audit, sessionId, Date.now() - RESULT_MEMORY_MS));
    count++;
  }
  return count;
}

/** How long command results are remembered for idempotency: a day, as in the Redis store. */
const RESULT_MEMORY_MS = 24 * 3600 * 1000;

/**
 * Results of the commands of the last day, read back from the audit log, so a console that
 * retries a command across a restart still gets its first answer instead of a second apply.
 */
async function recentResults(audit: AuditLog, sessionId: string, since: number): Promise<RestoredCommand[]> {
  const restored: RestoredCommand[] = [];
  for (const entryType of ['command', 'refused'] as const) {
    let afterId: number | undefined;
    for (;;) {
      const rows = await audit.read(sessionId, { entryType, afterId, limit: MAX_AUDIT_PAGE });
      for (const row of rows) {
        if (row.at.getTime() < since) continue;
        const payload = row.payload as { result?: CommandResult; error?: ErrorBody };
        const result: CommandResult | undefined =
          entryType === 'command' ? payload.result : payload.error ? { ok: false, error: payload.error } : undefined;
        if (result) restored.push({ commandId: row.commandId, result, at: row.at.getTime() });
      }
      if (rows.length < MAX_AUDIT_PAGE) break;
      afterId = rows.at(-1)!.id;
    }
  }
  return restored;
}

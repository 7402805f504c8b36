import { Redis, type RedisOptions } from 'ioredis';
import type { Logger } from 'pino';
import { createPgAuditLog, createPgliteAuditLog } from './audit/drizzle-audit-log.js';
import { RedisAuditShipper } from './audit/redis-audit-shipper.js';
import type { Backends } from './backends.js';
import { createPgPool } from './backends.js';
import type { Config } from './config.js';
import { RedisEventFeed } from './store/redis-event-feed.js';
import { expireEndedSession } from './store/ended-session-retention.js';
import { RedisSessionStore } from './store/redis-session-store.js';
import { WriteBatchingRedis } from './store/write-batching-redis.js';
import path from 'node:path';

/** How often the streams of sessions whose audit floor rose are trimmed. */
const TRIM_EVERY_MS = 5_000;

export interface RedisBackendOverrides {
  /** Postgres schema of the audit table (tests isolate themselves with one); default `public`. */
  auditSchema?: string;
}

/**
 * Production backends: sessions in Redis (shared by every instance), the session streams
 * as the durable buffer of the audit log, shipped to Postgres (or PGlite without
 * DATABASE_URL) by a consumer group, and trimmed only below what the audit log holds.
 */
export async function createRedisBackends(config: Config, log: Logger, overrides: RedisBackendOverrides = {}): Promise<Backends> {
  const url = config.redisUrl!;
  // The command path fails fast and the caller retries with the same command id: an
  // offline queue could replay a stale command late (NOTES: ioredis).
  const commandOptions: RedisOptions = {
    lazyConnect: true,
    commandTimeout: 2_000,
    maxRetriesPerRequest: 1,
    enableOfflineQueue: false,
    connectionName: `${config.instanceId}:cmd`,
  };
  const blockingOptions: RedisOptions = { lazyConnect: true, maxRetriesPerRequest: null };
  const command = new WriteBatchingRedis(url, commandOptions);
  const feedConnection = new Redis(url, { ...blockingOptions, connectionName: `${config.instanceId}:feed` });
  const shipperConnection = new Redis(url, { ...blockingOptions, connectionName: `${config.instanceId}:audit` });
  const connections = [command, feedConnection, shipperConnection];
  for (const connection of connections) {
    connection.on('error', (error) => log.warn({ err: error }, 'redis connection error'));
  }
  await Promise.all(connections.map((connection) => connection.connect()));

  const pool = config.databaseUrl ? createPgPool(config.databaseUrl, log) : null;
  const audit = pool
    ? await createPgAuditLog(pool, overrides.auditSchema ? { schema: overrides.auditSchema } : {})
    : await createPgliteAuditLog(path.join(config.dataDir, 'pglite'));

  const store = new RedisSessionStore(command, config.redisPrefix, {
    onError: (error, context) => log.warn({ err: error, ...context }, 'redis store background write failed'),
  });
  const feed = new RedisEventFeed({
    blocking: feedConnection,
    command,
    store,
    prefix: config.redisPrefix,
    onError: (error) => log.warn({ err: error }, 'redis feed error; retrying'),
  });

  const floors = new Map<string, number>();
  const shipper = new RedisAuditShipper({
    blocking: shipperConnection,
    command,
    audit,
    prefix: config.redisPrefix,
    consumer: config.instanceId,
    onError: (error, context) => log.warn({ err: error, ...context }, 'audit shipping failed; retrying'),
    onFloor: (sessionId, floorSeq) => {
      floors.set(sessionId, floorSeq);
    },
  });
  shipper.start();

  // The hot replay buffer keeps REPLAY_RETENTION_SECONDS of events, and never less than
  // what the audit log has yet to take.
  const trimmer = setInterval(() => {
    const due = [...floors];
    floors.clear();
    for (const [sessionId, floorSeq] of due) {
      store.trim(sessionId, floorSeq, config.replayRetentionSeconds * 1000).catch((error: unknown) => {
        log.warn({ err: error, sessionId }, 'stream trim failed');
      });
      // An ended session wholly in the audit log leaves Redis after a grace (README, Retention).
      expireEndedSession(store, sessionId, floorSeq, config.endedSessionGraceSeconds).catch((error: unknown) => {
        log.warn({ err: error, sessionId }, 'ended session expiry failed');
      });
    }
  }, TRIM_EVERY_MS);
  trimmer.unref();

  return {
    kind: 'redis',
    store,
    feed,
    audit,
    auditBacklog: () => shipper.backlog(),
    ping: async () => {
      await command.ping();
      await audit.ping();
    },
    close: async () => {
      clearInterval(trimmer);
      await feed.close();
      await shipper.stop();
      await store.close();
      await audit.close();
      await Promise.all(connections.map((connection) => connection.quit().catch(() => connection.disconnect())));
      await pool?.end();
    },
  };
}

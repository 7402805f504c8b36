import { randomBytes } from 'node:crypto';
import net from 'node:net';

/** Where the real services are, overridable for a developer with other ports. */
export const TEST_REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
export const TEST_DATABASE_URL = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

/** CI sets REQUIRE_SERVICES=1: a missing service is then a failure, never a skip. */
export const servicesRequired = process.env.REQUIRE_SERVICES === '1';

function reachable(url: string, defaultPort: number): Promise<boolean> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const socket = net.connect({ host: hostname, port: Number(port || defaultPort) });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1000, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

const announced = new Set<string>();

/**
 * Whether a service is there for this test file. Absent: with REQUIRE_SERVICES=1 this
 * throws (the run fails); otherwise it prints one line and the caller skips.
 * Use as: `const redisUp = await serviceAvailable('redis'); describe.skipIf(!redisUp)(…)`.
 */
export async function serviceAvailable(service: 'redis' | 'postgres'): Promise<boolean> {
  const ok =
    service === 'redis' ? await reachable(TEST_REDIS_URL, 6379) : await reachable(TEST_DATABASE_URL, 5432);
  if (ok) return true;
  const where = service === 'redis' ? TEST_REDIS_URL : TEST_DATABASE_URL;
  if (servicesRequired) throw new Error(`${service} is not answering at ${where} and REQUIRE_SERVICES=1`);
  if (!announced.has(service)) {
    announced.add(service);
    console.warn(`[cueroom tests] ${service} not reachable at ${where}: skipping its tests (set REQUIRE_SERVICES=1 to fail instead)`);
  }
  return false;
}

/** A random key prefix or schema name so test files never see each other's data. */
export function uniqueName(prefix: string): string {
  return `${prefix}_${randomBytes(5).toString('hex')}`;
}

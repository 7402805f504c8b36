import type { Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { WriteBatchingRedis } from '../../server/store/write-batching-redis.js';
import { serviceAvailable, TEST_REDIS_URL, uniqueName } from '../support/services.js';

const redisUp = await serviceAvailable('redis');

/** Counts the socket's flushes: each call of `_write` or `_writev` is one write to the kernel. */
function countFlushes(socket: Socket): { flushes: number; chunks: number } {
  const counts = { flushes: 0, chunks: 0 };
  const writable = socket as Socket & {
    _write: (...args: unknown[]) => void;
    _writev: (chunks: unknown[], ...rest: unknown[]) => void;
  };
  const write = writable._write.bind(socket);
  const writev = writable._writev.bind(socket);
  writable._write = (...args) => {
    counts.flushes++;
    counts.chunks++;
    write(...args);
  };
  writable._writev = (chunks, ...rest) => {
    counts.flushes++;
    counts.chunks += chunks.length;
    writev(chunks, ...rest);
  };
  return counts;
}

describe.skipIf(!redisUp)('WriteBatchingRedis (real Redis)', () => {
  let redis: WriteBatchingRedis | undefined;
  afterEach(async () => {
    await redis?.quit().catch(() => redis?.disconnect());
  });

  it('sends the commands of one turn of the event loop in one write, each with its own reply', async () => {
    redis = new WriteBatchingRedis(TEST_REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1 });
    await redis.connect();
    const counts = countFlushes(redis.stream as Socket);
    const key = uniqueName('batch');
    // 50 commands issued in one turn, as the commands of 50 consoles read in one poll.
    const replies = await Promise.all(Array.from({ length: 50 }, (_, n) => redis!.hset(key, `f${n}`, String(n))));
    expect(replies).toEqual(Array.from({ length: 50 }, () => 1));
    expect(counts).toEqual({ flushes: 1, chunks: 50 });
    expect(await redis.hlen(key)).toBe(50);
    await redis.del(key);
  });

  it('still sends a lone command at once, turn after turn', async () => {
    redis = new WriteBatchingRedis(TEST_REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1 });
    await redis.connect();
    const counts = countFlushes(redis.stream as Socket);
    const key = uniqueName('lone');
    for (let n = 1; n <= 5; n++) expect(await redis.incr(key)).toBe(n);
    expect(counts.flushes).toBe(5);
    await redis.del(key);
  });
});

/**
 * Heap per open console, after a forced garbage collection: a steadier figure than the RSS
 * the busy night reports (RSS moves with the collector). One process holds the app
 * (embedded backends) and the clients, so the figure includes each client's `ws` socket.
 *
 *   node --expose-gc --import tsx bench/console-heap.ts [consoles=500]
 */
import WebSocket from 'ws';
import { WS_PATH } from '../shared/protocol.js';
import { startCueroom, TEST_ORIGIN } from '../test/support/harness.js';

const consoles = Number(process.argv[2] ?? 500);
const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) {
  console.error('run with node --expose-gc --import tsx bench/console-heap.ts');
  process.exit(2);
}
const heapUsed = () => {
  gc();
  gc();
  return process.memoryUsage().heapUsed;
};

const cueroom = await startCueroom();
const sessionId = await cueroom.createSession('Heap per console');
const people = 20;
const tokens = await Promise.all(Array.from({ length: people }, (_, i) => cueroom.invite(sessionId, 'cohost', `Person ${i}`, `p${i}`)));
const wsUrl = `${cueroom.baseUrl.replace(/^http/, 'ws')}${WS_PATH}`;

/** Opens a console and resolves once it has its welcome and its snapshot. */
const open = (i: number) =>
  new Promise<WebSocket>((resolve, reject) => {
    const socket = new WebSocket(`${wsUrl}?token=${tokens[i % people]}`, { origin: TEST_ORIGIN });
    let frames = 0;
    socket.on('message', () => {
      if (++frames === 2) resolve(socket);
    });
    socket.on('error', reject);
  });

const settle = () => new Promise((resolve) => setTimeout(resolve, 1000));
const warm = await Promise.all(Array.from({ length: people }, (_, i) => open(i)));
await settle();
const before = heapUsed();
const opened: WebSocket[] = [];
for (let i = 0; i < consoles; i += 50) {
  opened.push(...(await Promise.all(Array.from({ length: Math.min(50, consoles - i) }, (_, j) => open(i + j)))));
}
await settle();
const after = heapUsed();
console.log(`${consoles} consoles: heap ${(before / 1e6).toFixed(1)} → ${(after / 1e6).toFixed(1)} MB, ${((after - before) / consoles / 1024).toFixed(2)} KB per console (server and client side)`);
for (const socket of [...warm, ...opened]) socket.terminate();
await cueroom.close();

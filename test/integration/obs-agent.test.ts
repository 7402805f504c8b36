import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocketServer, type WebSocket } from 'ws';
import { startObsAgent } from '../../server/agents/obs.js';
import type { HealthSample } from '../../shared/model.js';

/**
 * An obs-websocket v5 endpoint speaking the protocol as OBS Studio does (Hello, Identify →
 * Identified, Request → RequestResponse, Event), JSON over the `obswebsocket.json`
 * subprotocol, with a stream whose byte and frame counters move between requests. OBS
 * itself cannot run here; the agent talks to this over a real socket with obs-websocket-js.
 */
class ObsEndpoint {
  readonly server: WebSocketServer;
  readonly sockets = new Set<WebSocket>();
  outputActive = true;
  outputBytes = 0;
  skipped = 0;
  identified = 0;

  constructor() {
    this.server = new WebSocketServer({ port: 0, host: '127.0.0.1', handleProtocols: () => 'obswebsocket.json' });
    this.server.on('connection', (socket) => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
      socket.send(JSON.stringify({ op: 0, d: { obsWebSocketVersion: '5.5.0', rpcVersion: 1 } }));
      socket.on('message', (raw) => {
        const { op, d } = JSON.parse(String(raw)) as { op: number; d: Record<string, unknown> };
        if (op === 1) {
          this.identified++;
          socket.send(JSON.stringify({ op: 2, d: { negotiatedRpcVersion: 1 } }));
        } else if (op === 6) {
          socket.send(
            JSON.stringify({
              op: 7,
              d: {
                requestType: d.requestType,
                requestId: d.requestId,
                requestStatus: { result: true, code: 100 },
                responseData: this.respond(String(d.requestType)),
              },
            }),
          );
        }
      });
    });
  }

  listening(): Promise<void> {
    return new Promise((resolve) => {
      if (this.server.address()) resolve();
      else this.server.once('listening', () => resolve());
    });
  }

  get url(): string {
    return `ws://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  private respond(type: string): Record<string, unknown> {
    if (type === 'GetStats') {
      return { activeFps: 29.97, cpuUsage: 12.34, renderSkippedFrames: this.skipped, renderTotalFrames: 10_000 };
    }
    // 3,000,000 bits more per request: the agent divides by the time between its polls.
    this.outputBytes += 375_000;
    return {
      outputActive: this.outputActive,
      outputReconnecting: false,
      outputBytes: this.outputBytes,
      outputSkippedFrames: 0,
      outputTotalFrames: 10_000,
      outputDuration: 60_000,
      outputTimecode: '00:01:00.000',
      outputCongestion: 0,
    };
  }

  event(eventType: string, eventData: Record<string, unknown>): void {
    for (const socket of this.sockets)
      socket.send(JSON.stringify({ op: 5, d: { eventType, eventIntent: 64, eventData } }));
  }

  dropConnections(): void {
    for (const socket of this.sockets) socket.terminate();
  }

  close(): Promise<void> {
    this.dropConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

/** The samples the agent posts, awaited one condition at a time. */
class Posted {
  readonly samples: HealthSample[] = [];
  private waiters: (() => void)[] = [];

  readonly post = async (samples: HealthSample[]) => {
    this.samples.push(...samples);
    for (const wake of this.waiters.splice(0)) wake();
  };

  async until(what: string, test: (samples: HealthSample[]) => boolean, timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!test(this.samples)) {
      if (Date.now() > deadline)
        throw new Error(`timed out waiting for ${what}; posted ${JSON.stringify(this.samples)}`);
      await new Promise<void>((resolve) => {
        this.waiters.push(resolve);
        setTimeout(resolve, 200).unref();
      });
    }
  }
}

describe('OBS agent over obs-websocket v5', () => {
  let obs: ObsEndpoint;
  let stop: (() => Promise<void>) | null = null;
  afterEach(async () => {
    await stop?.();
    await obs?.close();
  });

  it('posts bitrate, fps, dropped frames and CPU while streaming, reports reconnecting at once, reconnects when OBS drops it, and goes quiet when the stream stops', async () => {
    obs = new ObsEndpoint();
    await obs.listening();
    const posted = new Posted();
    stop = startObsAgent({ url: obs.url, intervalMs: 100, reconnectMs: 100, post: posted.post });

    await posted.until('a first sample', (s) => s.length >= 2);
    const sample = posted.samples.at(-1)!;
    expect(sample.fps).toBe(29.97);
    expect(sample.encoderCpu).toBe(12.3);
    expect(sample.bitrateKbps).toBeGreaterThan(5_000); // 3,000 kbit per ~100 ms poll
    expect(sample.bitrateKbps).toBeLessThan(60_000);
    expect(sample.destinations).toEqual([{ id: 'obs', status: 'active' }]);

    obs.skipped += 7;
    await posted.until('the dropped frames', (s) => s.some((x) => x.droppedFrames === 7));

    obs.event('StreamStateChanged', { outputActive: true, outputState: 'OBS_WEBSOCKET_OUTPUT_RECONNECTING' });
    await posted.until('a reconnecting destination', (s) => s.at(-1)!.destinations?.[0]?.status === 'reconnecting');
    obs.event('StreamStateChanged', { outputActive: true, outputState: 'OBS_WEBSOCKET_OUTPUT_RECONNECTED' });
    await posted.until('the destination back', (s) => s.at(-1)!.destinations?.[0]?.status === 'active');

    obs.dropConnections();
    const before = posted.samples.length;
    await posted.until('samples after a reconnect', (s) => s.length >= before + 2 && obs.identified >= 2);

    obs.outputActive = false;
    obs.event('StreamStateChanged', { outputActive: false, outputState: 'OBS_WEBSOCKET_OUTPUT_STOPPED' });
    // Quiet from the first poll that sees the output stopped: wait for several polls to pass.
    // The endpoint's byte counter moves with every poll of the agent: three polls' worth.
    const pollsPassed = (from: number) =>
      new Promise<void>((resolve) => {
        const check = setInterval(() => {
          if (obs.outputBytes >= from + 375_000 * 3) {
            clearInterval(check);
            resolve();
          }
        }, 20);
      });
    await pollsPassed(obs.outputBytes);
    const afterStop = posted.samples.length;
    await pollsPassed(obs.outputBytes);
    expect(posted.samples.length).toBe(afterStop);
  });
});

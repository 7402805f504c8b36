// @vitest-environment happy-dom
import { afterEach, describe, expect, it, vi } from 'vitest';
import { Connection } from '../../web-console/src/connection.js';
import { ConsoleStore } from '../../web-console/src/store.js';
import { liveState } from './support.js';

/** A WebSocket the test drives by hand: open, messages in, close with a code. */
class FakeSocket extends EventTarget {
  static instances: FakeSocket[] = [];
  readonly CONNECTING = 0;
  readonly OPEN = 1;
  readonly CLOSING = 2;
  readonly CLOSED = 3;
  readyState = 0;
  binaryType = 'blob';
  sent: string[] = [];
  constructor(readonly url: string) {
    super();
    FakeSocket.instances.push(this);
  }
  send(data: string) {
    this.sent.push(data);
  }
  close(code = 1000, reason = '') {
    this.drop(code, reason);
  }
  open() {
    this.readyState = 1;
    this.dispatchEvent(new Event('open'));
  }
  message(body: unknown) {
    this.dispatchEvent(Object.assign(new Event('message'), { data: JSON.stringify(body) }));
  }
  drop(code: number, reason = '') {
    if (this.readyState === 3) return;
    this.readyState = 3;
    this.dispatchEvent(Object.assign(new Event('close'), { code, reason, wasClean: true }));
  }
}

afterEach(() => {
  FakeSocket.instances = [];
});

const welcome = {
  type: 'welcome',
  sessionId: 's-1',
  role: 'cohost',
  personId: 'p',
  name: 'Pat',
  connectionId: 'c',
  heartbeatMs: 15000,
};

describe('reconnecting', () => {
  it('resumes from the last seq and sends unanswered commands again with the same id', async () => {
    const store = new ConsoleStore();
    const connection = new Connection(store, 'tok', 'ws://example.test', FakeSocket);
    connection.open();
    await vi.waitFor(() => expect(FakeSocket.instances).toHaveLength(1));
    const first = FakeSocket.instances[0]!;
    expect(first.url).toBe('ws://example.test/v1/ws?token=tok');
    first.open();
    first.message(welcome);
    first.message({ type: 'snapshot', seq: 10, state: liveState(), recovered: false });
    expect(store.phase.value).toBe('live');

    const id = connection.send('flag-q1', { kind: 'question.flag', questionId: 'q1' });
    expect(first.sent).toHaveLength(1);
    first.drop(4000, 'server restarting');
    expect(store.phase.value).toBe('reconnecting');

    await vi.waitFor(() => expect(FakeSocket.instances).toHaveLength(2), { timeout: 3000 });
    const second = FakeSocket.instances[1]!;
    expect(second.url).toBe('ws://example.test/v1/ws?token=tok&since=10');
    second.open();
    expect(second.sent.map((frame) => JSON.parse(frame).id)).toContain(id);
    second.message({ type: 'resumed', since: 10, seq: 12, events: [] });
    second.message({ type: 'ack', id, seq: 12, lastSeq: 12 });
    expect(store.phase.value).toBe('live');
    expect(connection.pending.value).toEqual({});
    connection.stop('test over');
  });

  it('stops on a terminal close and says why', async () => {
    const store = new ConsoleStore();
    const connection = new Connection(store, 'tok', 'ws://example.test', FakeSocket);
    connection.open();
    await vi.waitFor(() => expect(FakeSocket.instances).toHaveLength(1));
    const socket = FakeSocket.instances[0]!;
    socket.open();
    socket.message(welcome);
    socket.drop(4101, 'token expired');
    expect(store.phase.value).toBe('stopped');
    expect(store.stopReason.value).toMatch(/expired/);
    await new Promise((resolve) => setTimeout(resolve, 600));
    expect(FakeSocket.instances).toHaveLength(1);
  });
});

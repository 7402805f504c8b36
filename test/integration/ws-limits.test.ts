import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { CloseCode } from '../../shared/errors.js';
import { WS_PATH } from '../../shared/protocol.js';
import { startCueroom, type Cueroom } from '../support/harness.js';

describe('keeping connections honest', () => {
  let cr: Cueroom;
  beforeAll(async () => {
    cr = await startCueroom({
      env: { WS_HEARTBEAT_MS: '1000', WS_MAX_BUFFERED_BYTES: '65536', WS_RATE_LIMIT: '30', FLUSH_INTERVAL_MS: '20' },
    });
  });
  afterAll(async () => {
    await cr?.close();
  });

  async function live() {
    const id = await cr.createSession();
    await cr.goLive(id);
    return { id, ops: await cr.invite(id, 'ops'), observer: await cr.invite(id, 'observer') };
  }

  it('coalesces a burst into far fewer frames than events', async () => {
    const { ops, observer } = await live();
    const watcher = await cr.connect(observer);
    await watcher.first('snapshot');
    const sender = await cr.connect(ops);
    await sender.first('snapshot');
    const replies = await Promise.all(
      Array.from({ length: 25 }, (_, i) => sender.command({ kind: 'cue.send', to: ['host'], text: `burst ${i}` })),
    );
    const last = Math.max(...replies.map((r) => (r.type === 'ack' ? r.seq : 0)));
    await watcher.waitForSeq(last);
    const frames = watcher.messages.filter((m) => m.type === 'events');
    const cues = watcher.events.filter((e) => e.kind === 'cue.sent');
    expect(cues).toHaveLength(25);
    expect(frames.length).toBeLessThan(cues.length / 2);
    watcher.close();
    sender.close();
  });

  it('answers rate_limited past the per-connection limit and keeps the socket', async () => {
    const { ops } = await live();
    const sender = await cr.connect(ops);
    await sender.first('snapshot');
    const ids = Array.from({ length: 40 }, () => randomUUID());
    for (const id of ids) sender.sendRaw(JSON.stringify({ type: 'command', id, command: { kind: 'cue.send', to: ['host'], text: 'hi' } }));
    const replies = await Promise.all(ids.map((id) => sender.reply(id)));
    const limited = replies.filter((r) => r.type === 'error' && r.code === 'rate_limited');
    expect(replies.filter((r) => r.type === 'ack')).toHaveLength(30);
    expect(limited).toHaveLength(10);
    expect(sender.closeCode).toBeNull();
    sender.close();
  });

  it('terminates a console that stops answering pings', async () => {
    const { observer } = await live();
    const url = `${cr.baseUrl.replace('http', 'ws')}${WS_PATH}?token=${observer}`;
    const silent = new WebSocket(url, { autoPong: false });
    const closed = new Promise<number>((resolve) => silent.on('close', (code) => resolve(code)));
    silent.on('error', () => undefined);
    // 1006: the server cut the TCP connection without a close frame, as terminate() does.
    expect(await closed).toBe(1006);
  });
});

describe('a console that cannot keep up', () => {
  let cr: Cueroom;
  beforeAll(async () => {
    // A long heartbeat, so the cut-off under test is the buffer limit, not a missed pong.
    cr = await startCueroom({ env: { WS_HEARTBEAT_MS: '60000', WS_MAX_BUFFERED_BYTES: '65536' } });
  });
  afterAll(async () => {
    await cr?.close();
  });

  async function live() {
    const id = await cr.createSession();
    await cr.goLive(id);
    return { id, ops: await cr.invite(id, 'ops'), observer: await cr.invite(id, 'observer') };
  }

  it('closes a console that cannot keep up with 4001, and it resumes without a gap', async () => {
    const { id, ops, observer } = await live();
    const slow = await cr.connect(observer);
    await slow.first('snapshot');
    const seen = slow.seq;
    // Stop reading: the server's socket buffer fills up.
    (slow.socket as unknown as { _socket: { pause(): void } })._socket.pause();
    // Each lineup event is ~100 KB: the kernel's socket buffers fill after a few dozen.
    const lineup = (round: number) =>
      Array.from({ length: 200 }, (_, i) => ({
        id: `p${i}`,
        name: `Product ${i}`,
        price: 100 + round,
        stock: 10,
        talkingPoints: Array.from({ length: 4 }, () => 'y'.repeat(110)),
      }));
    let closedWith: number | null = null;
    for (let round = 0; round < 200 && closedWith === null; round++) {
      const res = await cr.command(id, ops, { kind: 'lineup.set', products: lineup(round) });
      expect(res.status).toBe(200);
      // The close frame waits behind the stalled data: the server has given up on it already.
      if ([...cr.app.gateway.consoles].some((c) => c.role === 'observer' && c.closed)) closedWith = CloseCode.TooSlow;
    }
    expect(closedWith).toBe(CloseCode.TooSlow);
    (slow.socket as unknown as { _socket: { resume(): void } })._socket.resume();
    expect(await slow.waitClosed()).toBe(CloseCode.TooSlow);
    const resumedFrom = slow.seq >= seen ? slow.seq : seen;
    const back = await cr.connect(observer, { since: resumedFrom });
    const first = await back.waitFor((m) => m.type === 'resumed' || m.type === 'snapshot');
    const state = (await cr.backends.store.load(id))!;
    if (first.type === 'resumed') {
      expect(first.events[0]?.seq).toBe(resumedFrom + 1);
      await back.waitForSeq(state.seq - 1);
    }
    expect(back.violations).toEqual([]);
    back.close();
  });
});

import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestConsole } from '../support/console-client.js';
import { redisBackendForTests } from '../support/backends-under-test.js';
import { startCueroom, type Cueroom } from '../support/harness.js';

const redis = await redisBackendForTests();

describe.skipIf(!redis)('two instances on one Redis', () => {
  let a: Cueroom;
  let b: Cueroom;
  beforeAll(async () => {
    // Same key prefix and audit schema: two instances of one deployment.
    a = await startCueroom({ backends: redis!.create });
    b = await startCueroom({ backends: redis!.create });
  });
  afterAll(async () => {
    await a?.close();
    await b?.close();
  });

  it('serves one session together: contiguous seqs, no lost update, every console sees every event in order', async () => {
    const id = await a.createSession('Shared show');
    await b.goLive(id);
    const tokens = {
      ops: await a.invite(id, 'ops', 'Olga', 'olga'),
      cohost: await b.invite(id, 'cohost', 'Carlos', 'carlos'),
      observerA: await a.invite(id, 'observer', 'Ana', 'ana'),
      observerB: await b.invite(id, 'observer', 'Ben', 'ben'),
      host: await b.invite(id, 'host', 'Hana', 'hana'),
    };
    const observers: TestConsole[] = [await a.connect(tokens.observerA), await b.connect(tokens.observerB)];
    const host = await b.connect(tokens.host);
    for (const console of [...observers, host]) await console.first('snapshot');
    const opsA = await a.connect(tokens.ops);
    const cohostB = await b.connect(tokens.cohost);
    await opsA.first('snapshot');
    await cohostB.first('snapshot');

    // Both instances race for the next seq of one session.
    const perSide = 40;
    const sent = [
      ...Array.from({ length: perSide }, (_, i) => opsA.command({ kind: 'cue.send', cueId: `a-${i}`, to: ['host'], text: `from A ${i}` })),
      ...Array.from({ length: perSide }, (_, i) => cohostB.command({ kind: 'cue.send', cueId: `b-${i}`, to: ['host'], text: `from B ${i}` })),
    ];
    const replies = await Promise.all(sent);
    expect(replies.filter((r) => r.type !== "ack").map((r) => JSON.stringify(r)).slice(0, 3)).toEqual([]);
    const seqs = replies.map((r) => (r.type === 'ack' ? r.seq : 0)).sort((x, y) => x - y);
    expect(new Set(seqs).size).toBe(seqs.length);

    const stateA = (await a.backends.store.load(id))!;
    const stateB = (await b.backends.store.load(id))!;
    expect(Object.keys(stateA.cues)).toHaveLength(2 * perSide);
    expect(stateB.seq).toBeGreaterThanOrEqual(stateA.seq);
    const log = (await a.backends.store.readSince(id, 0))!;
    expect(log.map((e) => e.seq)).toEqual(Array.from({ length: log.length }, (_, i) => i + 1));

    // Every console, on either instance, sees every cue in the same order with no gap.
    const lastCue = Math.max(...seqs);
    for (const console of [...observers, host]) {
      await console.until(() => console.events.some((e) => e.seq === lastCue) || undefined, 15_000, `seq ${lastCue}`);
      expect(console.violations).toEqual([]);
      const cues = console.events.filter((e) => e.kind === 'cue.sent').map((e) => e.seq);
      expect(cues).toEqual(seqs);
    }
    const [onA, onB] = observers.map((console) => console.events.filter((e) => e.seq <= lastCue).map((e) => e.seq));
    const from = Math.max(onA![0]!, onB![0]!);
    expect(onA!.filter((seq) => seq >= from)).toEqual(onB!.filter((seq) => seq >= from));
    for (const console of [...observers, host, opsA, cohostB]) console.close();
  });

  it('answers a command retried on the other instance with the first result', async () => {
    const id = await a.createSession();
    await a.goLive(id);
    const ops = await a.invite(id, 'ops');
    const commandId = randomUUID();
    const first = await a.command(id, ops, { kind: 'cue.send', to: ['tech'], text: 'Check levels' }, commandId);
    const second = await b.command(id, ops, { kind: 'cue.send', to: ['tech'], text: 'Check levels' }, commandId);
    expect(first.status).toBe(200);
    expect(second.body).toEqual({ ...first.body, duplicate: true });
    expect(Object.keys((await b.backends.store.load(id))!.cues)).toHaveLength(1);
  });

  it('decides on what the other instance changed, even when this one holds an older state', async () => {
    const id = await a.createSession();
    await a.goLive(id);
    const cohost = await a.invite(id, 'cohost');
    // b holds the session as it was: it served a command, then a moved on alone.
    expect((await b.command(id, cohost, { kind: 'question.submit', questionId: 'q-old', text: 'Old one?', author: 'Vi' })).status).toBe(200);
    expect((await a.command(id, cohost, { kind: 'question.submit', questionId: 'q-new', text: 'Does it ship today?', author: 'Vi' })).status).toBe(200);
    expect(b.backends.store.peek?.(id)?.questions['q-new']).toBeUndefined();

    const flagged = await b.command(id, cohost, { kind: 'question.flag', questionId: 'q-new' });
    expect(flagged.status).toBe(200);
    expect(flagged.body.ok).toBe(true);
    // And a stale state never lets a command through that the current one refuses.
    expect((await a.command(id, cohost, { kind: 'question.dismiss', questionId: 'q-old' })).status).toBe(200);
    const refused = await b.command(id, cohost, { kind: 'question.flag', questionId: 'q-old' });
    expect(refused.status).toBe(409);
    expect((await a.backends.store.load(id))!.questions['q-old']!.status).toBe('dismissed');
  });

  it('writes an audit row in Postgres for every acknowledged command', async () => {
    const id = await a.createSession();
    await a.goLive(id);
    const ops = await a.invite(id, 'ops');
    const acked: string[] = [];
    await Promise.all(
      Array.from({ length: 30 }, async (_, i) => {
        const commandId = randomUUID();
        const res = await (i % 2 ? a : b).command(id, ops, { kind: 'cue.send', to: ['host'], text: `cue ${i}` }, commandId);
        if (res.status === 200) acked.push(commandId);
      }),
    );
    expect(acked).toHaveLength(30);
    await expect
      .poll(
        async () => {
          const rows = await a.backends.audit.read(id, { entryType: 'command', limit: 1000 });
          return acked.filter((commandId) => !rows.some((row) => row.commandId === commandId)).length;
        },
        { timeout: 15_000 },
      )
      .toBe(0);
    const state = (await a.backends.store.load(id))!;
    await expect.poll(() => a.backends.audit.highestSeq(id), { timeout: 15_000 }).toBeGreaterThanOrEqual(state.seq);
  });
});

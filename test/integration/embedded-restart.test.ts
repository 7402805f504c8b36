import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { startCueroom } from '../support/harness.js';

describe('embedded mode across a restart', () => {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'cueroom-restart-'));
  afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

  it('keeps every session, its state, its resumable events and its command answers', async () => {
    const first = await startCueroom({ dataDir });
    const id = await first.createSession('Before the restart');
    await first.goLive(id);
    const opsToken = await first.invite(id, 'ops', 'Olga', 'olga');
    const observerToken = await first.invite(id, 'observer', 'Oren', 'oren');
    const observer = await first.connect(observerToken);
    await observer.first('snapshot');
    const commandIds: string[] = [];
    for (let i = 0; i < 10; i++) {
      const commandId = randomUUID();
      commandIds.push(commandId);
      const res = await first.command(id, opsToken, { kind: 'cue.send', to: ['host'], text: `cue ${i}` }, commandId);
      expect(res.status).toBe(200);
    }
    const before = (await first.backends.store.load(id))!;
    await observer.waitForSeq(before.seq);
    const seenByObserver = observer.seq;
    const firstAnswer = await first.command(id, opsToken, { kind: 'cue.send', to: ['host'], text: 'cue 0' }, commandIds[0]);
    await first.close();
    expect(await observer.waitClosed()).toBe(4000);

    const second = await startCueroom({ dataDir });
    try {
      const after = (await second.backends.store.load(id))!;
      // The consoles open before the restart are gone: presence is the one thing that differs.
      expect({ ...after, presence: {}, seq: 0 }).toEqual({ ...before, presence: {}, seq: 0 });
      expect(after.seq).toBeGreaterThanOrEqual(before.seq);
      const list = await second.request('GET', '/v1/sessions', { token: 'test-admin-token-0123456789' });
      expect(list.body.sessions.map((s: { id: string }) => s.id)).toContain(id);

      // A command retried across the restart is answered the same, not applied again.
      const retried = await second.command(id, opsToken, { kind: 'cue.send', to: ['host'], text: 'cue 0' }, commandIds[0]);
      expect(retried.body).toEqual({ ...firstAnswer.body, duplicate: true });
      expect(Object.keys((await second.backends.store.load(id))!.cues)).toHaveLength(10);

      // The observer resumes from where it was: exactly what it missed (the presence changes).
      const back = await second.connect(observerToken, { since: seenByObserver });
      const resumed = await back.first('resumed');
      expect(resumed.events.every((e) => e.seq > seenByObserver)).toBe(true);
      expect(resumed.events.map((e) => e.seq)).toEqual(
        Array.from({ length: resumed.seq - seenByObserver }, (_, i) => seenByObserver + 1 + i),
      );
      back.close();
    } finally {
      await second.close();
    }
  }, 60_000);
});

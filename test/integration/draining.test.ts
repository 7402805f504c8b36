import { describe, expect, it } from 'vitest';
import { CloseCode } from '../../shared/errors.js';
import { setTimeout } from 'node:timers/promises';
import { createEmbeddedBackends } from '../../server/backends.js';
import { startCueroom } from '../support/harness.js';

describe('draining for a restart', () => {
  it('answers /readyz with 503, refuses new consoles and closes open ones with the reconnect code', async () => {
    const cr = await startCueroom();
    try {
      const id = await cr.createSession();
      const token = await cr.invite(id, 'observer');
      const open = await cr.connect(token);
      await open.first('snapshot');
      expect((await cr.request('GET', '/readyz')).status).toBe(200);

      await cr.app.gateway.drain();
      expect(await open.waitClosed()).toBe(CloseCode.ServerRestarting);
      const ready = await cr.request('GET', '/readyz');
      expect(ready.status).toBe(503);
      expect(ready.body.code).toBe('unavailable');
      await expect(cr.connect(token)).rejects.toMatchObject({ status: 503 });
    } finally {
      await cr.close();
    }
  });

  it('leaves no one on a console: leaves still in flight when the drain starts are recorded before it ends', async () => {
    // The store takes its time over a leave, as Redis under load would.
    const cr = await startCueroom({
      backends: async (config, log) => {
        const backends = await createEmbeddedBackends(config, log);
        const apply = backends.store.apply.bind(backends.store);
        backends.store.apply = async (input) => {
          if (input.events.some((event) => event.kind === 'presence.left')) await setTimeout(300);
          return apply(input);
        };
        return backends;
      },
    });
    try {
      const id = await cr.createSession();
      const left = await cr.connect(await cr.invite(id, 'tech', 'tech person'));
      await left.first('snapshot');
      await expect.poll(async () => Object.keys((await cr.backends.store.load(id))?.presence ?? {})).toHaveLength(1);

      left.close(); // gone just before the restart: its leave is on its way
      await expect
        .poll(async () => (await cr.request('GET', '/metrics')).body)
        .toMatch(/cueroom_connections\{role="tech"\} 0/);
      await cr.app.gateway.drain();

      expect((await cr.backends.store.load(id))?.presence).toEqual({});
    } finally {
      await cr.close();
    }
  });
});

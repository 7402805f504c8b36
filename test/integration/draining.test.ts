import { describe, expect, it } from 'vitest';
import { CloseCode } from '../../shared/errors.js';
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
});

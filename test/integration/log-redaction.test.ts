import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../server/logger.js';
import { ADMIN_TOKEN, startCueroom, type Cueroom } from '../support/harness.js';

describe('logs', () => {
  const lines: string[] = [];
  let cr: Cueroom;
  beforeAll(async () => {
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        lines.push(chunk.toString());
        done();
      },
    });
    cr = await startCueroom({ logger: createLogger('debug', 'test', sink) });
  });
  afterAll(async () => {
    await cr?.close();
  });

  it('never contain an invite token or the admin token', async () => {
    const id = await cr.createSession();
    const token = await cr.invite(id, 'ops');
    const console = await cr.connect(token);
    await console.first('snapshot');
    console.close();
    await cr.request('GET', `/v1/sessions/${id}`, { token });
    await cr.request('GET', '/v1/sessions', { token: 'wrong-token-but-still-secret' });
    const log = lines.join('');
    expect(log).toContain('/v1/ws?token=[redacted]');
    expect(log).not.toContain(token);
    expect(log).not.toContain(ADMIN_TOKEN);
    expect(log).not.toContain('wrong-token-but-still-secret');
  });
});

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expireEndedSession } from '../../server/store/ended-session-retention.js';
import { redisBackendForTests, type BackendUnderTest } from '../support/backends-under-test.js';
import { ADMIN_TOKEN, startCueroom, type Cueroom } from '../support/harness.js';

const redis: BackendUnderTest | null = await redisBackendForTests();

describe.skipIf(!redis)('an ended session leaves Redis, its review stays (Redis + Postgres)', () => {
  let cr: Cueroom;
  beforeAll(async () => {
    cr = await startCueroom({ backends: redis!.create, env: { ENDED_SESSION_GRACE_SECONDS: '1' } });
  });
  afterAll(async () => {
    await cr?.close();
  });

  it('expires the Redis keys after the grace and still reviews, verifies and rebuilds from Postgres', async () => {
    const id = await cr.createSession('Short show');
    await cr.goLive(id);
    const tech = await cr.invite(id, 'tech', 'Tariq');
    await cr.command(id, tech, {
      kind: 'incident.raise',
      incidentId: 'i1',
      severity: 'sev1',
      category: 'video',
      title: 'Black screen',
    });
    const ops = await cr.invite(id, 'ops', 'Olga');
    const ended = await cr.command(id, ops, { kind: 'session.end' });
    expect(ended.status).toBe(200);

    // Gone from Redis (the live API no longer knows it) once the audit log holds it and the grace passed.
    await expect
      .poll(async () => (await cr.request('GET', `/v1/sessions/${id}`, { token: ADMIN_TOKEN })).status, {
        timeout: 20_000,
        interval: 250,
      })
      .toBe(404);

    const review = await cr.request('GET', `/v1/sessions/${id}/review`, { token: ADMIN_TOKEN });
    expect(review.status).toBe(200);
    expect(review.body.session).toMatchObject({
      id,
      title: 'Short show',
      status: 'ended',
      lastSeq: ended.body.lastSeq,
    });
    expect(review.body.incidents.bySeverity.sev1.count).toBe(1);
    const verify = await cr.request('GET', `/v1/sessions/${id}/audit/verify`, { token: ADMIN_TOKEN });
    expect(verify.body).toMatchObject({ intact: true, lastSeq: ended.body.lastSeq });
    const state = await cr.request('GET', `/v1/sessions/${id}/state?at=seq:${ended.body.lastSeq}`, {
      token: ADMIN_TOKEN,
    });
    expect(state.body.state).toMatchObject({ status: 'ended', incidents: { i1: { severity: 'sev1' } } });
  });
});

describe('expireEndedSession', () => {
  const state = (status: string, seq: number) => ({ status, seq }) as never;
  const store = (current: unknown) => {
    const expired: [string, number][] = [];
    return {
      expired,
      load: async () => current as never,
      expire: async (sessionId: string, seconds: number) => {
        expired.push([sessionId, seconds]);
      },
    };
  };

  it('expires only an ended session whose every event is in the audit log', async () => {
    const ended = store(state('ended', 9));
    expect(await expireEndedSession(ended, 's1', 8, 60)).toBe(false); // seq 9 not in the audit log yet
    expect(await expireEndedSession(ended, 's1', 9, 60)).toBe(true);
    expect(ended.expired).toEqual([['s1', 60]]);
    const live = store(state('live', 9));
    expect(await expireEndedSession(live, 's1', 9, 60)).toBe(false);
    expect(await expireEndedSession(store(null), 's1', 9, 60)).toBe(false);
    expect(live.expired).toEqual([]);
  });
});

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backendsUnderTest } from '../support/backends-under-test.js';
import { ADMIN_TOKEN, startCueroom, type Cueroom } from '../support/harness.js';

for (const backend of await backendsUnderTest()) {
  describe(`review REST API on ${backend.name}`, () => {
    let cr: Cueroom;
    beforeAll(async () => {
      cr = await startCueroom({ backends: backend.create });
    });
    afterAll(async () => {
      await cr?.close();
    });

    /** Waits until the audit log holds the session's events (on Redis it catches up from the stream). */
    async function auditCaughtUp(id: string): Promise<number> {
      const state = await cr.request('GET', `/v1/sessions/${id}`, { token: ADMIN_TOKEN });
      await expect.poll(() => cr.backends.audit.highestSeq(id), { timeout: 15_000 }).toBe(state.body.seq);
      return state.body.seq as number;
    }

    it('verifies the audit chain of a session for admin, ops and observer only', async () => {
      const id = await cr.createSession();
      await cr.goLive(id);
      const tech = await cr.invite(id, 'tech');
      await cr.command(id, tech, {
        kind: 'incident.raise',
        incidentId: 'i1',
        severity: 'sev2',
        category: 'video',
        title: 'Freeze',
      });
      await cr.command(id, tech, { kind: 'incident.acknowledge', incidentId: 'i-missing' }); // refused, audited too
      const lastSeq = await auditCaughtUp(id);

      const observer = await cr.invite(id, 'observer');
      for (const token of [ADMIN_TOKEN, observer, await cr.invite(id, 'ops')]) {
        const verify = await cr.request('GET', `/v1/sessions/${id}/audit/verify`, { token });
        expect(verify.status).toBe(200);
        expect(verify.body).toMatchObject({ intact: true, lastSeq });
        expect(verify.body.rows).toBeGreaterThan(lastSeq); // events plus command and refusal rows
        expect(verify.body.headHash).toMatch(/^[0-9a-f]{64}$/);
      }
      expect((await cr.request('GET', `/v1/sessions/${id}/audit/verify`, { token: tech })).status).toBe(403);
      expect((await cr.request('GET', `/v1/sessions/${id}/audit/verify`)).status).toBe(401);
    });

    it('rebuilds the session as it was at a seq or a time, role-filtered for invite tokens', async () => {
      const id = await cr.createSession();
      await cr.goLive(id);
      const tech = await cr.invite(id, 'tech');
      const raised = await cr.command(id, tech, {
        kind: 'incident.raise',
        incidentId: 'i1',
        severity: 'sev3',
        category: 'audio',
        title: 'Hiss',
      });
      const beforeResolve = await cr.request('GET', `/v1/sessions/${id}`, { token: ADMIN_TOKEN });
      await cr.command(id, tech, { kind: 'incident.resolve', incidentId: 'i1' });
      await auditCaughtUp(id);

      const atRaise = await cr.request('GET', `/v1/sessions/${id}/state?at=seq:${raised.body.seq}`, {
        token: ADMIN_TOKEN,
      });
      expect(atRaise.status).toBe(200);
      expect(atRaise.body.seq).toBe(raised.body.seq);
      expect(atRaise.body.state.incidents.i1).toMatchObject({ status: 'open', title: 'Hiss' });

      const now = await cr.request(
        'GET',
        `/v1/sessions/${id}/state?at=${new Date(Date.now() + 60_000).toISOString()}`,
        {
          token: ADMIN_TOKEN,
        },
      );
      expect(now.body.state.incidents.i1.status).toBe('resolved');
      expect(now.body.seq).toBe(beforeResolve.body.seq + 1);

      // The host does not see a sev3 incident; tech does.
      const host = await cr.invite(id, 'host');
      const asHost = await cr.request('GET', `/v1/sessions/${id}/state?at=seq:${raised.body.seq}`, { token: host });
      expect(asHost.body.state.incidents).toEqual({});
      const asTech = await cr.request('GET', `/v1/sessions/${id}/state?at=${Date.now()}`, { token: tech });
      expect(Object.keys(asTech.body.state.incidents)).toEqual(['i1']);

      const bad = await cr.request('GET', `/v1/sessions/${id}/state?at=last-tuesday`, { token: ADMIN_TOKEN });
      expect(bad.status).toBe(400);
      const before = await cr.request('GET', `/v1/sessions/${id}/state?at=2001-01-01T00:00:00Z`, {
        token: ADMIN_TOKEN,
      });
      expect(before.status).toBe(404);
      const other = await cr.createSession();
      expect((await cr.request('GET', `/v1/sessions/${other}/state?at=seq:1`, { token: tech })).status).toBe(403);
    });

    it('reviews a session over REST, as JSON and as CSV, for admin, ops and observer', async () => {
      const id = await cr.createSession();
      await cr.goLive(id);
      const tech = await cr.invite(id, 'tech', 'Tariq');
      const ops = await cr.invite(id, 'ops', 'Olga');
      const chat = await cr.invite(id, 'ingest', 'Chat');
      await cr.command(id, tech, {
        kind: 'incident.raise',
        incidentId: 'i1',
        severity: 'sev1',
        category: 'network',
        title: 'Uplink down',
      });
      await cr.command(id, ops, { kind: 'incident.acknowledge', incidentId: 'i1' });
      await cr.command(id, tech, { kind: 'incident.resolve', incidentId: 'i1' });
      await cr.request('POST', `/v1/sessions/${id}/ingest/questions`, {
        token: chat,
        body: { questions: [{ text: 'Ships abroad?', author: 'ann', externalId: 'm1' }] },
      });
      await cr.command(id, ops, { kind: 'session.end' });
      await auditCaughtUp(id);

      const observer = await cr.invite(id, 'observer');
      const review = await cr.request('GET', `/v1/sessions/${id}/review`, { token: observer });
      expect(review.status).toBe(200);
      expect(review.body.session).toMatchObject({ id, status: 'ended' });
      expect(review.body.incidents.bySeverity.sev1.count).toBe(1);
      expect(review.body.incidents.bySeverity.sev1.timeToResolve.count).toBe(1);
      expect(review.body.incidents.handledBy).toEqual([
        { name: 'Olga', acknowledged: 1, resolved: 0 },
        { name: 'Tariq', acknowledged: 0, resolved: 1 },
      ]);
      expect(review.body.questions).toMatchObject({ received: 1, answered: 0 });
      expect(review.body.timeline.map((t: { kind: string }) => t.kind)).toContain('incident.resolved');

      const response = await fetch(`${cr.baseUrl}/v1/sessions/${id}/review?format=csv`, {
        headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
      });
      expect(response.headers.get('content-type')).toMatch(/^text\/csv/);
      const csv = await response.text();
      expect(csv.split('\r\n')[0]).toBe('section,key,field,value');
      expect(csv).toContain('incidents,sev1,count,1');

      expect((await cr.request('GET', `/v1/sessions/${id}/review`, { token: tech })).status).toBe(403);
      expect((await cr.request('GET', `/v1/sessions/nope-${id}/review`, { token: ADMIN_TOKEN })).status).toBe(404);
    });

    it('exports a filtered audit log as NDJSON and CSV, and finds sessions with sev1 incidents', async () => {
      const started = new Date(Date.now() - 1000).toISOString();
      const hot = await cr.createSession();
      const calm = await cr.createSession();
      for (const [id, severity] of [
        [hot, 'sev1'],
        [calm, 'sev2'],
      ] as const) {
        await cr.goLive(id);
        const tech = await cr.invite(id, 'tech', 'Tariq', 'u-tech');
        await cr.command(id, tech, {
          kind: 'incident.raise',
          incidentId: 'i1',
          severity,
          category: 'network',
          title: 'Uplink, "down"',
        });
        await cr.command(id, tech, { kind: 'incident.acknowledge', incidentId: 'i1' });
        await auditCaughtUp(id);
      }
      const ops = await cr.invite(hot, 'ops');

      const ndjson = await fetch(`${cr.baseUrl}/v1/sessions/${hot}/audit/export?format=ndjson&kind=incident.raised`, {
        headers: { authorization: `Bearer ${ops}` },
      });
      expect(ndjson.status).toBe(200);
      expect(ndjson.headers.get('content-type')).toMatch(/^application\/x-ndjson/);
      const lines = (await ndjson.text())
        .trim()
        .split('\n')
        .map((line) => JSON.parse(line));
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatchObject({
        sessionId: hot,
        kind: 'incident.raised',
        actorId: 'u-tech',
        entryType: 'event',
      });
      expect(lines[0].hash).toMatch(/^[0-9a-f]{64}$/);

      const csv = await fetch(
        `${cr.baseUrl}/v1/sessions/${hot}/audit/export?format=csv&actor=u-tech&entryType=command`,
        {
          headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
        },
      );
      const rows = (await csv.text()).trim().split('\r\n');
      expect(rows[0]).toBe(
        'id,session_id,seq,entry_type,kind,at,actor_id,actor_name,actor_role,command_id,payload,hash',
      );
      expect(rows.slice(1).map((row) => row.split(',')[4])).toEqual(['incident.raise', 'incident.acknowledge']);

      // The paged read takes the same filters, with a cursor stable while rows are appended.
      const kinds: string[] = [];
      let after: number | null = 0;
      while (after !== null) {
        const page = await cr.request(
          'GET',
          `/v1/sessions/${hot}/audit?actor=u-tech&role=tech&entryType=command&limit=1&after=${after}`,
          {
            token: ops,
          },
        );
        expect(page.status).toBe(200);
        kinds.push(...page.body.rows.map((row: { kind: string }) => row.kind));
        after = page.body.next;
      }
      expect(kinds).toEqual(['incident.raise', 'incident.acknowledge']);

      const future = new Date(Date.now() + 3_600_000).toISOString();
      const none = await fetch(`${cr.baseUrl}/v1/sessions/${hot}/audit/export?format=ndjson&from=${future}`, {
        headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
      });
      expect(await none.text()).toBe('');
      const bad = await cr.request('GET', `/v1/sessions/${hot}/audit/export?from=soon`, { token: ADMIN_TOKEN });
      expect(bad.status).toBe(400);

      const search = await cr.request('GET', `/v1/audit/search?kind=incident.raised&severity=sev1&from=${started}`, {
        token: ADMIN_TOKEN,
      });
      expect(search.status).toBe(200);
      const found = search.body.sessions.map((hit: { sessionId: string }) => hit.sessionId);
      expect(found).toContain(hot);
      expect(found).not.toContain(calm);
      expect(search.body.sessions.find((hit: { sessionId: string }) => hit.sessionId === hot).rows).toBe(1);
      expect((await cr.request('GET', '/v1/audit/search?kind=incident.raised', { token: ops })).status).toBe(403);
    });
  });
}

import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backendsUnderTest } from '../support/backends-under-test.js';
import { ADMIN_TOKEN, startCueroom, type Cueroom } from '../support/harness.js';

for (const backend of await backendsUnderTest()) {
  describe(`REST API on ${backend.name}`, () => {
    let cr: Cueroom;
    beforeAll(async () => {
      cr = await startCueroom({ backends: backend.create });
    });
    afterAll(async () => {
      await cr?.close();
    });

    it('creates, lists and reads sessions with the admin token only', async () => {
      const id = await cr.createSession('Spring sale', `spring-${randomUUID().slice(0, 6)}`);
      const list = await cr.request('GET', '/v1/sessions', { token: ADMIN_TOKEN });
      expect(list.status).toBe(200);
      expect(list.body.sessions.map((s: { id: string }) => s.id)).toContain(id);
      const read = await cr.request('GET', `/v1/sessions/${id}`, { token: ADMIN_TOKEN });
      expect(read.body.state).toMatchObject({ id, title: 'Spring sale', status: 'scheduled' });

      expect((await cr.request('GET', '/v1/sessions')).status).toBe(401);
      const host = await cr.invite(id, 'host');
      expect((await cr.request('GET', '/v1/sessions', { token: host })).status).toBe(403);
      const again = await cr.request('POST', '/v1/sessions', { token: ADMIN_TOKEN, body: { id, title: 'dup' } });
      expect(again.status).toBe(409);
      expect(again.body.code).toBe('conflict');
      const bad = await cr.request('POST', '/v1/sessions', { token: ADMIN_TOKEN, body: { title: 42 } });
      expect(bad.status).toBe(400);
      expect(bad.body.code).toBe('invalid_command');
      expect(bad.body.details[0].path).toEqual(['title']);
    });

    it('shows an invite token only its role-filtered state', async () => {
      const id = await cr.createSession();
      await cr.goLive(id);
      const tech = await cr.invite(id, 'tech');
      await cr.command(id, tech, { kind: 'incident.raise', incidentId: 'i1', severity: 'sev3', category: 'audio', title: 'Hiss' });
      const host = await cr.invite(id, 'host');
      const asHost = await cr.request('GET', `/v1/sessions/${id}`, { token: host });
      expect(asHost.body.state.incidents).toEqual({});
      const asTech = await cr.request('GET', `/v1/sessions/${id}`, { token: tech });
      expect(Object.keys(asTech.body.state.incidents)).toEqual(['i1']);
      const other = await cr.createSession();
      expect((await cr.request('GET', `/v1/sessions/${other}`, { token: tech })).status).toBe(403);
    });

    it('runs commands with the same idempotency as the WebSocket', async () => {
      const id = await cr.createSession();
      const ops = await cr.invite(id, 'ops');
      const commandId = randomUUID();
      const first = await cr.command(id, ops, { kind: 'session.start_preflight' }, commandId);
      const second = await cr.command(id, ops, { kind: 'session.start_preflight' }, commandId);
      expect(first.status).toBe(200);
      expect(second.body).toEqual({ ...first.body, duplicate: true });
      const conflict = await cr.command(id, ops, { kind: 'session.start_preflight' });
      expect(conflict.status).toBe(409);
      const notLive = await cr.command(id, ops, { kind: 'product.switch', productId: 'p1' });
      expect(notLive.body.error.code).toBe('session_not_live');
      const host = await cr.invite(id, 'host');
      const forbidden = await cr.command(id, host, { kind: 'session.go_live', override: true, reason: 'x' });
      expect(forbidden.status).toBe(403);
      expect(forbidden.body.error.message).toMatch(/not allowed for the host role/);
      const noId = await cr.request('POST', `/v1/sessions/${id}/commands`, { token: ops, body: { command: { kind: 'session.end' } } });
      expect(noId.status).toBe(400);
    });

    it('ingests chat questions in arrival order, deduplicated by source and external id, tagged with the product on screen', async () => {
      const id = await cr.createSession();
      await cr.goLive(id);
      const ops = await cr.invite(id, 'ops');
      await cr.command(id, ops, { kind: 'lineup.set', products: [{ id: 'p1', name: 'Kettle', price: 100, stock: 3 }] });
      await cr.command(id, ops, { kind: 'product.switch', productId: 'p1' });
      const ingest = await cr.invite(id, 'ingest', 'Chat bot');
      const batch = {
        questions: [
          { text: 'Is it loud?', author: 'ann', externalId: 'm-1' },
          { text: 'Colours?', author: 'bo', externalId: 'm-2' },
          { text: 'Is it loud?', author: 'ann', externalId: 'm-1' },
        ],
      };
      const res = await cr.request('POST', `/v1/sessions/${id}/ingest/questions`, { token: ingest, body: batch });
      expect(res.status).toBe(200);
      expect(res.body.results.map((r: { ok: boolean; duplicate: boolean }) => [r.ok, r.duplicate])).toEqual([
        [true, false],
        [true, false],
        [true, true],
      ]);
      const replay = await cr.request('POST', `/v1/sessions/${id}/ingest/questions`, { token: ingest, body: batch });
      expect(replay.body.results.every((r: { duplicate: boolean }) => r.duplicate)).toBe(true);
      const state = (await cr.backends.store.load(id))!;
      const questions = Object.values(state.questions).sort((a, b) => a.order - b.order);
      expect(questions.map((q) => [q.text, q.productId, q.source])).toEqual([
        ['Is it loud?', 'p1', 'chat'],
        ['Colours?', 'p1', 'chat'],
      ]);
      const host = await cr.invite(id, 'host');
      expect((await cr.request('POST', `/v1/sessions/${id}/ingest/questions`, { token: host, body: batch })).status).toBe(403);
    });

    it('ingests health samples and keeps the latest', async () => {
      const id = await cr.createSession();
      await cr.goLive(id);
      const ingest = await cr.invite(id, 'ingest', 'Encoder poller');
      const samples = [1, 2, 3].map((i) => ({ ts: Date.now() + i, bitrateKbps: 4000 + i, fps: 30, droppedFrames: i }));
      const res = await cr.request('POST', `/v1/sessions/${id}/ingest/health`, { token: ingest, body: { samples } });
      expect(res.status).toBe(200);
      const state = (await cr.backends.store.load(id))!;
      expect(state.health.latest?.bitrateKbps).toBe(4003);
      expect(state.health.window).toHaveLength(3);
      const bad = await cr.request('POST', `/v1/sessions/${id}/ingest/health`, {
        token: ingest,
        body: { samples: [{ ts: 1, bitrateKbps: -5, fps: 30, droppedFrames: 0 }] },
      });
      expect(bad.status).toBe(400);
      expect(bad.body.details[0].path).toEqual(['samples', '0', 'bitrateKbps']);
    });

    it('pages through the audit log of a session', async () => {
      const id = await cr.createSession();
      await cr.goLive(id);
      const ops = await cr.invite(id, 'ops');
      for (let i = 0; i < 7; i++) await cr.command(id, ops, { kind: 'cue.send', to: ['host'], text: `cue ${i}` });
      const state = (await cr.backends.store.load(id))!;
      // With Redis the audit log catches up from the stream a moment after the ack.
      await expect.poll(() => cr.backends.audit.highestSeq(id), { timeout: 15_000 }).toBeGreaterThanOrEqual(state.seq);
      const seen: number[] = [];
      let after: number | null = 0;
      while (after !== null) {
        const page = await cr.request('GET', `/v1/sessions/${id}/audit?limit=4&after=${after}&entryType=event`, { token: ops });
        expect(page.status).toBe(200);
        seen.push(...page.body.rows.map((row: { seq: number }) => row.seq));
        after = page.body.next;
      }
      expect(seen).toEqual(Array.from({ length: state.seq }, (_, i) => i + 1));
      const cohost = await cr.invite(id, 'cohost');
      expect((await cr.request('GET', `/v1/sessions/${id}/audit`, { token: cohost })).status).toBe(403);
    });

    it('answers /healthz, /readyz, /metrics and the OpenAPI document', async () => {
      expect((await cr.request('GET', '/healthz')).body).toEqual({ status: 'ok' });
      expect((await cr.request('GET', '/readyz')).body).toEqual({ status: 'ready' });
      const metrics = await cr.request('GET', '/metrics');
      expect(metrics.body).toMatch(/cueroom_commands_total\{kind="[a-z._]+",outcome="ok"\} \d+/);
      expect(metrics.body).toMatch(/cueroom_audit_backlog \d+/);
      expect(metrics.body).toContain('cueroom_fanout_latency_seconds_bucket');
      expect(metrics.body).toContain('cueroom_connections');
      const openapi = await cr.request('GET', '/documentation/json');
      expect(openapi.status).toBe(200);
      expect(Object.keys(openapi.body.paths)).toEqual(
        expect.arrayContaining(['/v1/sessions', '/v1/sessions/{id}/commands', '/v1/sessions/{id}/ingest/questions', '/v1/sessions/{id}/audit']),
      );
      expect((await cr.request('GET', '/documentation')).status).toBeLessThan(400);
    });
  });
}

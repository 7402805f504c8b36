import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { canSee, projectState } from '../../shared/audience.js';
import { CloseCode } from '../../shared/errors.js';
import { CREW_ROLES, type CrewRole } from '../../shared/roles.js';
import { TokenService } from '../../server/tokens.js';
import { TestConsole } from '../support/console-client.js';
import { backendsUnderTest } from '../support/backends-under-test.js';
import { startCueroom, TEST_ORIGIN, type Cueroom } from '../support/harness.js';

const LINEUP = [
  { id: 'p1', name: 'Kettle', price: 3999, stock: 5, talkingPoints: ['Fast'] },
  { id: 'p2', name: 'Grinder', price: 8999, stock: 2, talkingPoints: ['Quiet'] },
];

/** A run of a show touching every audience rule; each entry is [role, command]. */
const SCRIPT: [CrewRole | 'ingest', Record<string, unknown>][] = [
  ['ops', { kind: 'lineup.set', products: LINEUP }],
  ['ops', { kind: 'product.switch', productId: 'p1' }],
  ['ingest', { kind: 'question.submit', questionId: 'q1', text: 'Does it come in red?', author: 'ann' }],
  ['ingest', { kind: 'question.submit', questionId: 'q2', text: 'Shipping to Canada?', author: 'bo' }],
  ['cohost', { kind: 'question.flag', questionId: 'q1' }],
  ['ingest', { kind: 'question.upvote', questionId: 'q1', voter: 'cy' }],
  ['host', { kind: 'question.answer', questionId: 'q1' }],
  ['cohost', { kind: 'question.dismiss', questionId: 'q2' }],
  ['tech', { kind: 'incident.raise', incidentId: 'i1', severity: 'sev2', category: 'audio', title: 'Hum on mic 2' }],
  ['tech', { kind: 'incident.raise', incidentId: 'i2', severity: 'sev1', category: 'video', title: 'Stream down' }],
  ['tech', { kind: 'incident.acknowledge', incidentId: 'i2' }],
  ['tech', { kind: 'incident.set_severity', incidentId: 'i2', severity: 'sev3' }],
  ['ops', { kind: 'incident.push_to_host', incidentId: 'i1' }],
  ['ops', { kind: 'cue.send', cueId: 'c1', to: ['host'], text: 'Wrap up in 2' }],
  ['cohost', { kind: 'cue.send', cueId: 'c2', to: ['tech'], text: 'Check mic 2' }],
  ['host', { kind: 'cue.acknowledge', cueId: 'c1' }],
  ['ingest', { kind: 'health.sample', sample: { ts: 1, bitrateKbps: 4500, fps: 30, droppedFrames: 0 } }],
  ['ops', { kind: 'product.set_stock', productId: 'p2', stock: 0 }],
  ['cohost', { kind: 'product.switch', productId: 'p2' }],
];

for (const backend of await backendsUnderTest()) {
  describe(`WebSocket gateway on ${backend.name}`, () => {
    let cr: Cueroom;
    beforeAll(async () => {
      cr = await startCueroom({ backends: backend.create });
    });
    afterAll(async () => {
      await cr?.close();
    });

    async function liveSession() {
      const id = await cr.createSession();
      await cr.goLive(id);
      const tokens = {} as Record<CrewRole | 'ingest', string>;
      for (const role of [...CREW_ROLES, 'ingest'] as const) tokens[role] = await cr.invite(id, role, `${role} one`, `${role}-1`);
      return { id, tokens };
    }

    async function runScript(id: string, tokens: Record<string, string>) {
      for (const [role, command] of SCRIPT) {
        const res = await cr.command(id, tokens[role]!, command);
        expect(res.status, `${role} ${String(command.kind)}: ${JSON.stringify(res.body)}`).toBe(200);
      }
    }

    it('gives every role a filtered snapshot, then exactly the live events its role may see, in seq order', async () => {
      const { id, tokens } = await liveSession();
      const consoles = {} as Record<CrewRole, TestConsole>;
      for (const role of CREW_ROLES) {
        consoles[role] = await cr.connect(tokens[role]);
        const snapshot = await consoles[role].first('snapshot');
        expect(snapshot.state.id).toBe(id);
      }
      await runScript(id, tokens);
      const all = (await cr.backends.store.readSince(id, 0))!;
      for (const role of CREW_ROLES) {
        const console = consoles[role];
        const snapshotSeq = (await console.first('snapshot')).seq;
        const expected = all.filter((event) => event.seq > snapshotSeq && canSee(role, event)).map((event) => event.seq);
        // A frame only goes to a role with something to see in it: wait for its last visible event.
        await console.waitForSeq(expected.at(-1)!);
        expect(console.events.map((event) => event.seq).filter((seq) => seq <= all.at(-1)!.seq), role).toEqual(expected);
        expect(console.violations, role).toEqual([]);
      }
      // The host's refinements, seen from its console.
      const host = consoles.host.events;
      expect(host.some((e) => e.kind === 'question.submitted')).toBe(false);
      expect(host.filter((e) => e.kind === 'question.flagged').map((e) => 'question' in e && e.question.id)).toEqual(['q1']);
      expect(host.some((e) => e.kind === 'incident.raised' && e.incident.id === 'i1')).toBe(false);
      expect(host.some((e) => e.kind === 'incident.pushed_to_host' && e.incident.id === 'i1')).toBe(true);
      expect(host.some((e) => e.kind === 'health.sampled')).toBe(false);
      expect(consoles.cohost.events.some((e) => e.kind.startsWith('incident.'))).toBe(false);
      expect(consoles.tech.events.some((e) => e.kind === 'cue.sent' && e.cue.id === 'c1')).toBe(false);
      expect(consoles.tech.events.some((e) => e.kind === 'cue.sent' && e.cue.id === 'c2')).toBe(true);
      expect(consoles.observer.events.filter((e) => e.seq > 0).length).toBeGreaterThan(consoles.host.events.length);
      for (const console of Object.values(consoles)) console.close();
    });

    it('serves the same role filter on the replay and snapshot paths', async () => {
      const { id, tokens } = await liveSession();
      await runScript(id, tokens);
      const all = (await cr.backends.store.readSince(id, 0))!;
      const state = (await cr.backends.store.load(id))!;
      for (const role of CREW_ROLES) {
        const replayed = await cr.connect(tokens[role], { since: 0 });
        const resumed = await replayed.first('resumed');
        // Presence events of the consoles this test opens may follow the script: compare up to its end.
        const upTo = all.at(-1)!.seq;
        expect(resumed.events.map((e) => e.seq).filter((seq) => seq <= upTo), role).toEqual(
          all.filter((e) => canSee(role, e)).map((e) => e.seq),
        );
        replayed.close();

        const fresh = await cr.connect(tokens[role]);
        const snapshot = await fresh.first('snapshot');
        expect(snapshot.recovered).toBe(false);
        // Presence may have moved on (consoles come and go); everything else is the projection.
        const expected = projectState(JSON.parse(JSON.stringify(state)), role);
        expect({ ...snapshot.state, presence: {}, seq: 0 }).toEqual({ ...expected, presence: {}, seq: 0 });
        fresh.close();
      }
    });

    it('applies a command sent three times once, and answers all three the same', async () => {
      const { id, tokens } = await liveSession();
      const ops = await cr.connect(tokens.ops);
      await ops.first('snapshot');
      const commandId = randomUUID();
      const frame = JSON.stringify({ type: 'command', id: commandId, command: { kind: 'cue.send', to: ['host'], text: 'Smile' } });
      ops.sendRaw(frame);
      ops.sendRaw(frame);
      ops.sendRaw(frame);
      await ops.until(() => ops.messages.filter((m) => m.type === 'ack' && m.id === commandId).length === 3 || undefined);
      const acks = ops.messages.filter((m) => m.type === 'ack' && m.id === commandId);
      expect(new Set(acks.map((a) => JSON.stringify(a))).size).toBe(1);
      const events = (await cr.backends.store.readSince(id, 0))!.filter((e) => e.commandId === commandId);
      expect(events).toHaveLength(1);

      // Dropped right after sending: the retry on a new socket gets the first answer.
      const retryId = randomUUID();
      ops.sendRaw(JSON.stringify({ type: 'command', id: retryId, command: { kind: 'cue.send', to: ['tech'], text: 'Hi' } }));
      ops.socket.terminate();
      const again = await cr.connect(tokens.ops);
      const reply = await again.command({ kind: 'cue.send', to: ['tech'], text: 'Hi' }, retryId);
      expect(reply.type).toBe('ack');
      const retried = (await cr.backends.store.readSince(id, 0))!.filter((e) => e.commandId === retryId);
      expect(retried).toHaveLength(1);
      if (reply.type === 'ack') expect(reply.seq).toBe(retried[0]!.seq);
      again.close();
    });

    it('resumes a dropped console with exactly the events it missed', async () => {
      const { id, tokens } = await liveSession();
      const observer = await cr.connect(tokens.observer);
      await observer.first('snapshot');
      const ops = await cr.connect(tokens.ops);
      await ops.first('snapshot');
      for (let i = 0; i < 5; i++) expect((await ops.command({ kind: 'cue.send', to: ['host'], text: `before ${i}` })).type).toBe('ack');
      const before = (await cr.backends.store.load(id))!.seq;
      await observer.waitForSeq(before);
      const seen = observer.seq;
      observer.socket.terminate();
      for (let i = 0; i < 7; i++) expect((await ops.command({ kind: 'cue.send', to: ['host'], text: `during ${i}` })).type).toBe('ack');
      const back = await cr.connect(tokens.observer, { since: seen });
      const resumed = await back.first('resumed');
      const missed = (await cr.backends.store.readSince(id, seen))!.filter((e) => e.seq <= resumed.seq);
      expect(resumed.events.map((e) => e.seq)).toEqual(missed.map((e) => e.seq));
      expect(missed.filter((e) => e.kind === 'cue.sent')).toHaveLength(7);
      expect(resumed.events[0]!.seq).toBe(seen + 1);
      // And it goes on live from there without a gap or a duplicate.
      const after = await ops.command({ kind: 'cue.send', to: ['host'], text: 'after' });
      expect(after.type).toBe('ack');
      if (after.type === 'ack') await back.waitForSeq(after.seq);
      expect(back.violations).toEqual([]);
      const seqs = back.events.map((e) => e.seq);
      expect(seqs).toEqual([...new Set(seqs)].sort((a, b) => a - b));
      expect(seqs[0]).toBe(seen + 1);
      for (let i = 1; i < seqs.length; i++) expect(seqs[i]! - seqs[i - 1]!).toBe(1);
      back.close();
      ops.close();
    });

    it('sends a snapshot marked recovered:false when asked to resume from a seq it never reached', async () => {
      const { tokens } = await liveSession();
      const observer = await cr.connect(tokens.observer, { since: 10_000 });
      const snapshot = await observer.first('snapshot');
      expect(snapshot.recovered).toBe(false);
      observer.close();
    });

    describe('bad input', () => {
      it('answers malformed frames with an error and keeps the socket, and keeps other consoles untouched', async () => {
        const { tokens } = await liveSession();
        const bystander = await cr.connect(tokens.observer);
        await bystander.first('snapshot');
        const ops = await cr.connect(tokens.ops);
        await ops.first('snapshot');

        ops.sendRaw('{not json');
        const notJson = await ops.waitFor((m) => m.type === 'error' && m.message.includes('not JSON'));
        expect(notJson).toMatchObject({ code: 'invalid_command' });

        ops.sendRaw(JSON.stringify({ type: 'dance', id: 'x' }));
        await ops.waitFor((m) => m.type === 'error' && m.message.includes('Unknown message type'));

        const wrongTypes = await ops.command({ kind: 'product.set_price', productId: 'p1', price: 'free' });
        expect(wrongTypes).toMatchObject({ type: 'error', code: 'invalid_command' });
        if (wrongTypes.type === 'error') expect(wrongTypes.details?.[0]?.path).toEqual(['price']);

        const unknownKind = await ops.command({ kind: 'session.explode' });
        expect(unknownKind).toMatchObject({ type: 'error', code: 'invalid_command' });

        const forbidden = await (await cr.connect(tokens.host)).command({ kind: 'session.end' });
        expect(forbidden).toMatchObject({ type: 'error', code: 'forbidden' });

        const ok = await ops.command({ kind: 'cue.send', to: ['host'], text: 'still here' });
        expect(ok.type).toBe('ack');
        if (ok.type === 'ack') await bystander.waitForSeq(ok.seq);
        expect(ops.closeCode).toBeNull();
        expect(bystander.closeCode).toBeNull();
        bystander.close();
        ops.close();
      });

      it('audits a forbidden command as refused', async () => {
        const { id, tokens } = await liveSession();
        const commandId = randomUUID();
        const res = await cr.command(id, tokens.host, { kind: 'session.end' }, commandId);
        expect(res.status).toBe(403);
        expect(res.body.error.code).toBe('forbidden');
        await expect
          .poll(async () => (await cr.backends.audit.read(id, { limit: 1000, entryType: 'refused' })).map((r) => r.commandId))
          .toContain(commandId);
      });

      it('closes a socket that sends a frame over 64 KiB with 1009', async () => {
        const { tokens } = await liveSession();
        const ops = await cr.connect(tokens.ops);
        await ops.first('snapshot');
        ops.sendRaw('x'.repeat(65 * 1024));
        expect(await ops.waitClosed()).toBe(CloseCode.MessageTooBig);
      });

      it('closes a socket that keeps sending garbage with 4104', async () => {
        const { tokens } = await liveSession();
        const ops = await cr.connect(tokens.ops);
        await ops.first('snapshot');
        for (let i = 0; i < 30; i++) ops.sendRaw('garbage');
        expect(await ops.waitClosed()).toBe(CloseCode.PolicyViolation);
      });

      it('refuses the upgrade for a bad token, an expired token, a wrong origin and an unknown session', async () => {
        const { id, tokens } = await liveSession();
        await expect(cr.connect('not-a-token')).rejects.toMatchObject({ status: 401 });
        const expired = await new TokenService('test-token-secret-0123456789-0123456789', 1).issue(
          { sid: id, role: 'ops', sub: 'x', name: 'X' },
          -10,
        );
        await expect(cr.connect(expired.token)).rejects.toMatchObject({ status: 401 });
        await expect(cr.connect(tokens.ops, { origin: 'https://evil.example' })).rejects.toMatchObject({ status: 403 });
        const allowed = await cr.connect(tokens.ops, { origin: TEST_ORIGIN });
        await allowed.first('snapshot');
        allowed.close();
        await expect(cr.connect(tokens.ingest)).rejects.toMatchObject({ status: 403 });
        const ghost = await new TokenService('test-token-secret-0123456789-0123456789', 60).issue({
          sid: 'no-such-session',
          role: 'ops',
          sub: 'x',
          name: 'X',
        });
        await expect(cr.connect(ghost.token)).rejects.toMatchObject({ status: 404 });
      });
    });

    it('counts presence per person: two consoles of one person are one entry', async () => {
      const { id, tokens } = await liveSession();
      const ops = await cr.connect(tokens.ops);
      await ops.first('snapshot');
      const tab1 = await cr.connect(tokens.cohost);
      const tab2 = await cr.connect(tokens.cohost);
      await ops.until(() => ops.events.find((e) => e.kind === 'presence.changed' && e.entry.personId === 'cohost-1'));
      const state = (await cr.backends.store.load(id))!;
      expect(state.presence['cohost-1']?.consoles).toHaveLength(2);
      expect(ops.events.filter((e) => e.kind === 'presence.joined' && e.entry.personId === 'cohost-1')).toHaveLength(1);
      tab1.close();
      tab2.close();
      await ops.until(() => ops.events.find((e) => e.kind === 'presence.left' && e.entry.personId === 'cohost-1'));
      ops.close();
    });

    it('writes an audit row for every acknowledged command', async () => {
      const { id, tokens } = await liveSession();
      const ops = await cr.connect(tokens.ops);
      await ops.first('snapshot');
      const acked: string[] = [];
      for (let i = 0; i < 20; i++) {
        const commandId = randomUUID();
        const reply = await ops.command({ kind: 'cue.send', to: ['host'], text: `cue ${i}` }, commandId);
        if (reply.type === 'ack') acked.push(commandId);
      }
      expect(acked).toHaveLength(20);
      await expect
        .poll(async () => {
          const rows = await cr.backends.audit.read(id, { limit: 1000, entryType: 'command' });
          return acked.filter((commandId) => !rows.some((row) => row.commandId === commandId)).length;
        })
        .toBe(0);
      ops.close();
    });
  });
}

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { SessionEvent, SessionEventOf } from '../../shared/events.js';
import type { HealthSample } from '../../shared/model.js';
import { startCueroom, type Cueroom } from '../support/harness.js';

const isKind =
  <K extends SessionEvent['kind']>(kind: K, match: (event: SessionEventOf<K>) => boolean = () => true) =>
  (event: SessionEvent): event is SessionEventOf<K> =>
    event.kind === kind && match(event as SessionEventOf<K>);

describe('stream health through REST ingest and real consoles', () => {
  let cr: Cueroom;
  beforeAll(async () => {
    cr = await startCueroom({ env: { FLUSH_INTERVAL_MS: '5' } });
  });
  afterAll(async () => {
    await cr?.close();
  });

  async function live() {
    const id = await cr.createSession();
    await cr.goLive(id);
    return { id, ingest: await cr.invite(id, 'ingest', 'Encoder poller') };
  }

  const good = (i: number): HealthSample => ({
    ts: Date.now() + i,
    bitrateKbps: 4000 + i,
    fps: 30,
    droppedFrames: 0,
    viewers: 800,
  });

  it('a burst of 20 samples reaches a console as a handful of frames, the last one the latest; the store keeps all', async () => {
    const { id, ingest } = await live();
    const tech = await cr.connect(await cr.invite(id, 'tech', 'Tariq'));
    await tech.first('snapshot');
    const samples = Array.from({ length: 20 }, (_, i) => good(i));
    const res = await cr.request('POST', `/v1/sessions/${id}/ingest/health`, { token: ingest, body: { samples } });
    expect(res.status).toBe(200);
    const lastSeq = res.body.results.at(-1).seq as number;
    const latest = samples.at(-1)!;
    await tech.until(
      () => tech.events.filter((e) => e.kind === 'health.sampled').at(-1)?.seq === lastSeq,
      5000,
      'the latest sample',
    );
    const received = tech.events.filter((e) => e.kind === 'health.sampled');
    expect(received.at(-1)).toMatchObject({ sample: latest });
    expect(received.length).toBeLessThanOrEqual(4);
    expect(tech.violations).toEqual([]);
    expect(tech.seq).toBe(lastSeq);
    const { body } = await cr.request('GET', `/v1/sessions/${id}`, { token: ingest });
    expect(body.seq).toBe(lastSeq);
    tech.close();
  });

  it('the watchdog raises a sev1 seen by tech and host with its context, hand resolve needs force, and it resolves itself after the hysteresis time', async () => {
    const { id, ingest } = await live();
    const ops = await cr.invite(id, 'ops', 'Olga');
    await cr.command(id, ops, { kind: 'lineup.set', products: [{ id: 'p1', name: 'Kettle', price: 4900, stock: 10 }] });
    await cr.command(id, ops, { kind: 'product.switch', productId: 'p1' });
    const tech = await cr.connect(await cr.invite(id, 'tech', 'Tariq'));
    const host = await cr.connect(await cr.invite(id, 'host', 'Hana'));
    await Promise.all([tech.first('snapshot'), host.first('snapshot')]);
    const rules = await tech.command({
      kind: 'health.set_rules',
      rules: { watchdog: { noSampleSeconds: 1 }, recoverSeconds: 1 },
    });
    expect(rules.type).toBe('ack');

    const post = (i: number) =>
      cr.request('POST', `/v1/sessions/${id}/ingest/health`, { token: ingest, body: { samples: [good(i)] } });
    expect((await post(0)).status).toBe(200);
    // No sample for 1 s: stream down.
    const raised = await tech.until(
      () => tech.events.find(isKind('incident.raised', (e) => e.incident.dedupeKey === 'health:watchdog')),
      5000,
      'stream down',
    );
    expect(raised.actor.role).toBe('system');
    expect(raised.incident).toMatchObject({
      severity: 'sev1',
      title: 'Stream down',
      signal: {
        rule: 'watchdog',
        breaching: true,
        sample: null,
        context: { productId: 'p1', productName: 'Kettle', viewers: 800, techOnDuty: ['Tariq'] },
      },
    });
    await host.until(
      () => host.events.find(isKind('incident.raised', (e) => e.incident.id === raised.incident.id)),
      5000,
      'host sees it',
    );

    const refused = await tech.command({ kind: 'incident.resolve', incidentId: raised.incident.id });
    expect(refused).toMatchObject({ type: 'error', code: 'conflict' });

    // The stream is back: samples every 200 ms until the incident resolves itself.
    let i = 1;
    // Hysteresis counts from the first good sample, which is sent after this moment.
    const backAt = Date.now();
    const feeder = setInterval(() => void post(i++), 200);
    try {
      const cleared = await tech.until(
        () => tech.events.find(isKind('incident.signal_changed', (e) => e.incident.id === raised.incident.id)),
        5000,
        'signal cleared',
      );
      expect(cleared.incident.signal?.breaching).toBe(false);
      const resolved = await tech.until(
        () => tech.events.find(isKind('incident.resolved', (e) => e.incident.id === raised.incident.id)),
        5000,
        'auto-resolve',
      );
      expect(resolved.actor.role).toBe('system');
      expect(resolved.at - backAt).toBeGreaterThanOrEqual(1000);
      expect(resolved.seq).toBeGreaterThan(cleared.seq);
      await host.until(
        () => host.events.find(isKind('incident.resolved', (e) => e.incident.id === raised.incident.id)),
        5000,
        'host hears the resolve',
      );
    } finally {
      clearInterval(feeder);
    }
    expect(tech.violations).toEqual([]);
    expect(host.violations).toEqual([]);
    tech.close();
    host.close();
  });

  it('a low bitrate raises a degraded-bitrate incident once, and a forced hand resolve is audited', async () => {
    const { id, ingest } = await live();
    const techToken = await cr.invite(id, 'tech', 'Tariq');
    const tech = await cr.connect(techToken);
    await tech.first('snapshot');
    await tech.command({ kind: 'session.set_target_bitrate', targetBitrateKbps: 4000 });
    await tech.command({
      kind: 'health.set_rules',
      rules: { bitrate: { forSeconds: 0.001 }, watchdog: { enabled: false } },
    });
    const low = Array.from({ length: 5 }, (_, i) => ({ ...good(i), bitrateKbps: 900 }));
    await cr.request('POST', `/v1/sessions/${id}/ingest/health`, { token: ingest, body: { samples: low } });
    await cr.request('POST', `/v1/sessions/${id}/ingest/health`, { token: ingest, body: { samples: low } });
    const raised = await tech.until(
      () => tech.events.find(isKind('incident.raised', (e) => e.incident.dedupeKey === 'health:bitrate')),
      5000,
      'bitrate low',
    );
    expect(raised.incident).toMatchObject({
      severity: 'sev2',
      category: 'network',
      signal: { sample: { bitrateKbps: 900 } },
    });
    await cr.app.health.idle();
    const forced = await cr.command(id, techToken, {
      kind: 'incident.resolve',
      incidentId: raised.incident.id,
      force: true,
      resolution: 'Switched uplink',
    });
    expect(forced.status).toBe(200);
    const { body: state } = await cr.request('GET', `/v1/sessions/${id}`, { token: techToken });
    const incidents = Object.values(state.state.incidents as Record<string, { dedupeKey: string | null }>);
    expect(incidents.filter((i) => i.dedupeKey === 'health:bitrate')).toHaveLength(1);
    await waitForForcedResolveInAudit(cr, id, raised.incident.id);
    tech.close();
  });
});

describe('the watchdog after a restart', () => {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'cueroom-health-restart-'));
  afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

  it('a live session whose agent stopped while Cueroom was down is reported down without a new sample', async () => {
    const first = await startCueroom({ dataDir });
    const id = await first.createSession();
    await first.goLive(id);
    const techToken = await first.invite(id, 'tech', 'Tariq');
    const rules = await first.command(id, techToken, {
      kind: 'health.set_rules',
      rules: { watchdog: { noSampleSeconds: 1 } },
    });
    expect(rules.status).toBe(200);
    const ingest = await first.invite(id, 'ingest', 'Encoder');
    const sample = { ts: Date.now(), bitrateKbps: 4000, fps: 30, droppedFrames: 0 };
    expect(
      (await first.request('POST', `/v1/sessions/${id}/ingest/health`, { token: ingest, body: { samples: [sample] } }))
        .status,
    ).toBe(200);
    // Down before the watchdog could speak.
    await first.close();

    const second = await startCueroom({ dataDir });
    try {
      const tech = await second.connect(techToken);
      await tech.first('snapshot');
      const down = await tech.until(
        () => tech.events.find((e) => e.kind === 'incident.raised' && e.incident.dedupeKey === 'health:watchdog'),
        5000,
        'stream down after the restart',
      );
      expect(down.actor.role).toBe('system');
      tech.close();
    } finally {
      await second.close();
    }
  });
});

/** The forced resolve is in the audit log with `force: true`. */
async function waitForForcedResolveInAudit(cr: Cueroom, sessionId: string, incidentId: string) {
  const ops = await cr.invite(sessionId, 'ops', 'Auditor');
  await vi.waitFor(
    async () => {
      const { body } = await cr.request('GET', `/v1/sessions/${sessionId}/audit?kind=incident.resolve&limit=100`, {
        token: ops,
      });
      const rows = JSON.stringify(body.rows ?? []);
      expect(rows).toContain(incidentId);
      expect(rows).toContain('"force":true');
    },
    { timeout: 5000, interval: 50 },
  );
}

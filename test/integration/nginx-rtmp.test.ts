import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { SessionEvent, SessionEventOf } from '../../shared/events.js';
import { IngestClient } from '../../server/agents/ingest-client.js';
import { startRtmpPoller } from '../../server/agents/nginx-rtmp.js';
import { servicesRequired } from '../support/services.js';
import { startCueroom, type Cueroom } from '../support/harness.js';

/*
 * A real stream: nginx with the RTMP module on loopback ports, ffmpeg publishing a test
 * pattern, the nginx-rtmp agent polling the stat page and posting to Cueroom's ingest API,
 * and real tech and host consoles. Needs the Debian packages nginx, libnginx-mod-rtmp and
 * ffmpeg (.ci/run installs them).
 */
const RTMP_MODULE = ['/usr/lib/nginx/modules/ngx_rtmp_module.so', '/usr/share/nginx/modules/ngx_rtmp_module.so'].find(
  (p) => existsSync(p),
);
const has = (command: string) => spawnSync(command, ['-version'], { stdio: 'ignore' }).status === 0;
const missing = [!has('nginx') && 'nginx', !RTMP_MODULE && 'libnginx-mod-rtmp', !has('ffmpeg') && 'ffmpeg'].filter(
  Boolean,
);
if (missing.length > 0) {
  if (servicesRequired) throw new Error(`${missing.join(', ')} missing and REQUIRE_SERVICES=1`);
  console.warn(`[cueroom tests] ${missing.join(', ')} not installed: skipping the nginx-rtmp end-to-end test`);
}

const POLL_MS = 500;
const WATCHDOG_S = 3;
const RECOVER_S = 3;

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

function exited(child: ChildProcess): Promise<void> {
  return child.exitCode !== null || child.signalCode !== null
    ? Promise.resolve()
    : new Promise((resolve) => child.once('exit', () => resolve()));
}

const isKind =
  <K extends SessionEvent['kind']>(kind: K, match: (event: SessionEventOf<K>) => boolean = () => true) =>
  (event: SessionEvent): event is SessionEventOf<K> =>
    event.kind === kind && match(event as SessionEventOf<K>);

describe.skipIf(missing.length > 0)('nginx-rtmp + ffmpeg end to end', () => {
  let dir: string;
  let nginx: ChildProcess;
  let rtmpPort: number;
  let statUrl: string;
  let cr: Cueroom;
  const publishers = new Set<ChildProcess>();

  function publish(videoKbps: number): ChildProcess {
    const ffmpeg = spawn(
      'ffmpeg',
      [
        ...['-hide_banner', '-loglevel', 'error', '-re'],
        ...['-f', 'lavfi', '-i', 'testsrc2=size=640x360:rate=30'],
        ...['-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000'],
        ...['-c:v', 'libx264', '-preset', 'ultrafast', '-tune', 'zerolatency', '-g', '30'],
        ...['-b:v', `${videoKbps}k`, '-maxrate', `${videoKbps}k`, '-bufsize', `${videoKbps}k`],
        ...['-c:a', 'aac', '-b:a', '64k'],
        ...['-f', 'flv', `rtmp://127.0.0.1:${rtmpPort}/live/show`],
      ],
      { stdio: 'ignore' },
    );
    publishers.add(ffmpeg);
    void exited(ffmpeg).then(() => publishers.delete(ffmpeg));
    return ffmpeg;
  }

  async function kill(child: ChildProcess): Promise<void> {
    child.kill('SIGKILL');
    await exited(child);
  }

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'cueroom-nginx-'));
    for (const sub of ['body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']) mkdirSync(path.join(dir, sub));
    rtmpPort = await freePort();
    const httpPort = await freePort();
    statUrl = `http://127.0.0.1:${httpPort}/stat`;
    writeFileSync(
      path.join(dir, 'nginx.conf'),
      `daemon off;
master_process off;
worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log info;
load_module ${RTMP_MODULE};
events { worker_connections 64; }
rtmp { server { listen 127.0.0.1:${rtmpPort}; application live { live on; } } }
http {
  access_log off;
  client_body_temp_path ${dir}/body; proxy_temp_path ${dir}/proxy; fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi; scgi_temp_path ${dir}/scgi;
  server { listen 127.0.0.1:${httpPort}; location /stat { rtmp_stat all; } }
}
`,
    );
    nginx = spawn('nginx', ['-c', path.join(dir, 'nginx.conf'), '-p', dir, '-e', path.join(dir, 'error.log')], {
      stdio: 'ignore',
    });
    // nginx is up when its stat page answers.
    await vi.waitFor(
      async () => {
        if (nginx.exitCode !== null) throw new Error(`nginx exited with ${nginx.exitCode}; see ${dir}/error.log`);
        expect((await fetch(statUrl)).status).toBe(200);
      },
      { timeout: 10_000, interval: 50 },
    );
    cr = await startCueroom({ env: { FLUSH_INTERVAL_MS: '5' } });
  }, 30_000);

  afterAll(async () => {
    await Promise.all([...publishers].map(kill));
    if (nginx) await kill(nginx);
    await cr?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('killing ffmpeg raises a sev1 stream-down incident for tech and host, restarting clears it after the hysteresis time, and a low bitrate raises a degraded-bitrate incident', async () => {
    const id = await cr.createSession('Real stream');
    await cr.goLive(id);
    const ingest = await cr.invite(id, 'ingest', 'nginx-rtmp agent');
    const tech = await cr.connect(await cr.invite(id, 'tech', 'Tariq'));
    const host = await cr.connect(await cr.invite(id, 'host', 'Hana'));
    await Promise.all([tech.first('snapshot'), host.first('snapshot')]);
    await tech.command({ kind: 'session.set_target_bitrate', targetBitrateKbps: 1500 });
    const rules = await tech.command({
      kind: 'health.set_rules',
      rules: {
        bitrate: { minShareOfTarget: 0.5, forSeconds: 3 },
        fps: { floor: 10, forSeconds: 3 },
        droppedFrames: { enabled: false },
        viewers: { enabled: false },
        watchdog: { noSampleSeconds: WATCHDOG_S },
        recoverSeconds: RECOVER_S,
      },
    });
    expect(rules.type).toBe('ack');

    let ffmpeg = publish(1500);
    const client = new IngestClient({ url: cr.baseUrl, sessionId: id, token: ingest });
    const stopPoller = startRtmpPoller({
      statUrl,
      app: 'live',
      stream: 'show',
      intervalMs: POLL_MS,
      post: async (samples) => {
        await client.post(samples);
      },
    });
    try {
      // Healthy: samples from the real stream reach the tech console.
      const healthy = await tech.until(
        () => tech.events.find(isKind('health.sampled', (e) => e.sample.bitrateKbps > 750 && e.sample.fps === 30)),
        20_000,
        'a healthy sample from nginx',
      );
      expect(healthy.sample.destinations).toEqual([{ id: 'rtmp:live/show', status: 'publishing' }]);

      // Kill ffmpeg: no more samples, the watchdog raises a sev1 within its time plus a poll.
      await kill(ffmpeg);
      const killedAt = Date.now();
      const down = await tech.until(
        () => tech.events.find(isKind('incident.raised', (e) => e.incident.dedupeKey === 'health:watchdog')),
        (WATCHDOG_S + 5) * 1000,
        'stream down',
      );
      expect(down.incident).toMatchObject({ severity: 'sev1', title: 'Stream down', signal: { breaching: true } });
      expect(down.at - killedAt).toBeLessThanOrEqual(WATCHDOG_S * 1000 + POLL_MS + 1500);
      await host.until(
        () => host.events.find(isKind('incident.raised', (e) => e.incident.id === down.incident.id)),
        5000,
        'host hears stream down',
      );

      // Restart: cleared by the first sample, resolved after the hysteresis time, which counts
      // from that first good sample (taken after this moment).
      const backAt = Date.now();
      ffmpeg = publish(1500);
      const cleared = await tech.until(
        () => tech.events.find(isKind('incident.signal_changed', (e) => e.incident.id === down.incident.id)),
        20_000,
        'stream back',
      );
      const resolved = await tech.until(
        () => tech.events.find(isKind('incident.resolved', (e) => e.incident.id === down.incident.id)),
        (RECOVER_S + 10) * 1000,
        'stream down resolved',
      );
      expect(resolved.actor.role).toBe('system');
      expect(resolved.at - backAt).toBeGreaterThanOrEqual(RECOVER_S * 1000);
      expect(resolved.seq).toBeGreaterThan(cleared.seq);
      await host.until(
        () => host.events.find(isKind('incident.resolved', (e) => e.incident.id === down.incident.id)),
        5000,
        'host hears the resolve',
      );

      // A lower bitrate: under half the 1500 kbps target for 3 s.
      await kill(ffmpeg);
      ffmpeg = publish(250);
      const low = await tech.until(
        () => tech.events.find(isKind('incident.raised', (e) => e.incident.dedupeKey === 'health:bitrate')),
        30_000,
        'bitrate low',
      );
      expect(low.incident).toMatchObject({ severity: 'sev2', category: 'network', title: 'Bitrate low' });
      expect(low.incident.signal?.sample?.bitrateKbps).toBeLessThan(750);
      expect(tech.violations).toEqual([]);
      expect(host.violations).toEqual([]);
    } finally {
      stopPoller();
      tech.close();
      host.close();
    }
  }, 120_000);
});

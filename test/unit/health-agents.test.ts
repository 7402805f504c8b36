import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { normalizeStatus } from '../../shared/health.js';
import { healthSampleSchema } from '../../shared/model.js';
import { parsePushLine } from '../../server/agents/http-push.js';
import { IngestClient, IngestRefused } from '../../server/agents/ingest-client.js';
import { parseRtmpStat, rtmpSample } from '../../server/agents/nginx-rtmp.js';
import { obsSample, obsStateWord } from '../../server/agents/obs.js';

const statXml = readFileSync(new URL('./fixtures/nginx-rtmp-stat.xml', import.meta.url), 'utf8');

describe('nginx-rtmp stat page', () => {
  it('parses every live stream with bitrate, fps, clients and publishing', () => {
    const streams = parseRtmpStat(statXml);
    expect(streams.map((s) => `${s.app}/${s.name}`)).toEqual(['live/show', 'live/backup']);
    expect(streams[0]).toMatchObject({
      publishing: true,
      bitrateKbps: 2555.12,
      videoKbps: 2426.096,
      fps: 30,
      width: 1280,
      height: 720,
      clients: 3,
      dropped: 15,
      uptimeMs: 298512,
      bytesIn: 95320011,
    });
    expect(streams[1]).toMatchObject({ publishing: false, fps: 0, clients: 1, width: null });
  });

  it('a publishing stream makes a valid sample; viewers leave the publisher out; drops are the growth', () => {
    const streams = parseRtmpStat(statXml);
    const first = rtmpSample(streams, { app: 'live', stream: 'show' }, 1000, null)!;
    expect(healthSampleSchema.parse(first.sample)).toEqual({
      ts: 1000,
      bitrateKbps: 2555.1,
      fps: 30,
      droppedFrames: 0,
      viewers: 2,
      destinations: [{ id: 'rtmp:live/show', status: 'publishing' }],
    });
    expect(normalizeStatus(first.sample!.destinations![0]!.status)).toBe('healthy');
    // A second poll: bitrate from the growth of bytes_in over the stream's own clock.
    const earlier = { ...first.stream, dropped: 10, uptimeMs: 297512, bytesIn: 95320011 - 500_000 };
    expect(rtmpSample(streams, { app: 'live', stream: 'show' }, 2000, earlier)!.sample).toMatchObject({
      droppedFrames: 5,
      bitrateKbps: 4000,
    });
    // A young stream with neither a previous poll nor bw_in yet: no sample, but not down.
    const young = parseRtmpStat(statXml.replace('<bw_in>2555120</bw_in>', '<bw_in>0</bw_in>'));
    expect(rtmpSample(young, { app: 'live', stream: 'show' }, 1, null)).toMatchObject({ sample: null });
  });

  it('a stream not publishing, absent, or an empty stat page gives no sample (the watchdog speaks)', () => {
    const streams = parseRtmpStat(statXml);
    expect(rtmpSample(streams, { app: 'live', stream: 'backup' }, 1, null)).toBeNull();
    expect(rtmpSample(streams, { app: 'live', stream: 'nope' }, 1, null)).toBeNull();
    const empty =
      '<?xml version="1.0"?><rtmp><uptime>3</uptime><server><application><name>live</name><live><nclients>0</nclients></live></application></server></rtmp>';
    expect(parseRtmpStat(empty)).toEqual([]);
    expect(parseRtmpStat('<rtmp></rtmp>')).toEqual([]);
  });
});

describe('OBS', () => {
  const stats = {
    cpuUsage: 12.345,
    memoryUsage: 512,
    availableDiskSpace: 100000,
    activeFps: 29.97,
    averageFrameRenderTime: 2.1,
    renderSkippedFrames: 4,
    renderTotalFrames: 9000,
    outputSkippedFrames: 0,
    outputTotalFrames: 9000,
    webSocketSessionIncomingMessages: 10,
    webSocketSessionOutgoingMessages: 10,
  };
  const status = {
    outputActive: true,
    outputReconnecting: false,
    outputTimecode: '00:05:00.000',
    outputDuration: 300000,
    outputCongestion: 0,
    outputBytes: 150_000_000,
    outputSkippedFrames: 10,
    outputTotalFrames: 9000,
  };

  it('computes bitrate from the growth of outputBytes and drops from skipped frames', () => {
    const first = obsSample(stats, status, null, 10_000);
    expect(first.sample).toBeNull();
    const next = obsSample(
      { ...stats, renderSkippedFrames: 6 },
      { ...status, outputBytes: 150_000_000 + 562_500, outputSkippedFrames: 13 },
      first.reading,
      11_000,
    );
    expect(healthSampleSchema.parse(next.sample)).toEqual({
      ts: 11_000,
      bitrateKbps: 4500,
      fps: 29.97,
      droppedFrames: 5,
      encoderCpu: 12.3,
      destinations: [{ id: 'obs', status: 'active' }],
    });
  });

  it('reconnecting is critical; an inactive output gives no sample; output states normalize', () => {
    const first = obsSample(stats, status, null, 0);
    const next = obsSample(
      stats,
      { ...status, outputReconnecting: true, outputBytes: status.outputBytes + 1000 },
      first.reading,
      1000,
    );
    expect(normalizeStatus(next.sample!.destinations![0]!.status)).toBe('critical');
    expect(obsSample(stats, { ...status, outputActive: false }, first.reading, 2000)).toEqual({
      sample: null,
      reading: null,
    });
    expect(obsStateWord('OBS_WEBSOCKET_OUTPUT_RECONNECTING')).toBe('reconnecting');
    expect(normalizeStatus(obsStateWord('OBS_WEBSOCKET_OUTPUT_RECONNECTED'))).toBe('healthy');
    expect(normalizeStatus(obsStateWord('OBS_WEBSOCKET_OUTPUT_STOPPED'))).toBe('offline');
  });
});

describe('HTTP push form', () => {
  it('fills defaults, keeps a status word as a destination, and refuses what is not a sample', () => {
    expect(parsePushLine('{"bitrateKbps": 4200, "viewers": 812, "status": "good"}', 5)).toEqual({
      ts: 5,
      bitrateKbps: 4200,
      fps: 0,
      droppedFrames: 0,
      viewers: 812,
      destinations: [{ id: 'push', status: 'good' }],
    });
    expect(() => parsePushLine('{"fps": 30}', 5)).toThrow(/bitrateKbps/);
    expect(() => parsePushLine('hello', 5)).toThrow(/not JSON/);
  });
});

describe('ingest client', () => {
  it('keeps samples while Cueroom is unreachable and sends them with the next post', async () => {
    const bodies: unknown[] = [];
    let up = false;
    const fake = (async (_url: string, init: RequestInit) => {
      if (!up) throw new Error('ECONNREFUSED');
      bodies.push(JSON.parse(String(init.body)));
      return new Response('{}', { status: 200 });
    }) as typeof fetch;
    const client = new IngestClient({ url: 'http://x', sessionId: 's', token: 't' }, 3, fake);
    const sample = (ts: number) => ({ ts, bitrateKbps: 1, fps: 1, droppedFrames: 0 });
    expect(await client.post([sample(1)])).toBe(false);
    expect(await client.post([sample(2), sample(3), sample(4)])).toBe(false);
    expect(client.pending).toBe(3);
    up = true;
    expect(await client.post([])).toBe(true);
    expect(bodies).toEqual([{ samples: [sample(2), sample(3), sample(4)] }]);
    const refusing = new IngestClient(
      { url: 'http://x', sessionId: 's', token: 't' },
      3,
      (async () => new Response('no', { status: 403 })) as typeof fetch,
    );
    await expect(refusing.post([sample(1)])).rejects.toBeInstanceOf(IngestRefused);
  });
});

import { XMLParser } from 'fast-xml-parser';
import type { HealthSample } from '../../shared/model.js';

/** One live stream on the nginx-rtmp stat page. */
export interface RtmpStream {
  app: string;
  name: string;
  publishing: boolean;
  /** Incoming bitrate of the stream, kbps (`bw_in` is bits per second). */
  bitrateKbps: number;
  videoKbps: number;
  /** From the publisher's metadata (`meta/video/frame_rate`); 0 when it sent none. */
  fps: number;
  width: number | null;
  height: number | null;
  /** Clients on the stream, the publisher included (`nclients`). */
  clients: number;
  /** Frames the server dropped for players (sum of `client/dropped`). */
  dropped: number;
  /** Milliseconds since the stream started (`time`). */
  uptimeMs: number;
}

const parser = new XMLParser({
  ignoreAttributes: true,
  ignoreDeclaration: true,
  ignorePiTags: true,
  // A single application, stream or client is still a list.
  isArray: (name) => ['application', 'stream', 'client'].includes(name),
  parseTagValue: true,
});

const num = (value: unknown): number => {
  const n = typeof value === 'number' ? value : Number(value);
  return Number.isFinite(n) ? n : 0;
};

/**
 * Parses the XML of `rtmp_stat all` (the nginx-rtmp-module stat page). Empty elements such
 * as `<publishing/>` parse to '' and count as present.
 */
export function parseRtmpStat(xml: string): RtmpStream[] {
  const doc = parser.parse(xml) as { rtmp?: { server?: { application?: unknown[] } | '' } };
  const server = doc.rtmp?.server;
  if (!server || typeof server !== 'object') return [];
  const streams: RtmpStream[] = [];
  for (const app of (server.application ?? []) as Record<string, unknown>[]) {
    const live = app.live as { stream?: Record<string, unknown>[] } | '' | undefined;
    if (!live || typeof live !== 'object') continue;
    for (const stream of live.stream ?? []) {
      const meta = stream.meta as { video?: Record<string, unknown> } | undefined;
      const video = meta && typeof meta === 'object' ? meta.video : undefined;
      const clients = (stream.client ?? []) as Record<string, unknown>[];
      streams.push({
        app: String(app.name ?? ''),
        name: String(stream.name ?? ''),
        publishing: 'publishing' in stream,
        bitrateKbps: num(stream.bw_in) / 1000,
        videoKbps: num(stream.bw_video) / 1000,
        fps: video ? num(video.frame_rate) : 0,
        width: video?.width !== undefined ? num(video.width) : null,
        height: video?.height !== undefined ? num(video.height) : null,
        clients: num(stream.nclients),
        dropped: clients.reduce((sum, client) => sum + num(client.dropped), 0),
        uptimeMs: num(stream.time),
      });
    }
  }
  return streams;
}

/**
 * The sample for one stream, or null when it is not being published: the agent then posts
 * nothing, and the watchdog rule reports the stream down. Viewers are the stream's
 * clients minus the publisher. `droppedFrames` is the growth since the previous poll.
 */
export function rtmpSample(
  streams: readonly RtmpStream[],
  where: { app: string; stream: string },
  now: number,
  previous: RtmpStream | null,
): { sample: HealthSample; stream: RtmpStream } | null {
  const stream = streams.find((s) => s.app === where.app && s.name === where.stream);
  if (!stream || !stream.publishing) return null;
  const dropped = previous ? Math.max(0, stream.dropped - previous.dropped) : 0;
  return {
    stream,
    sample: {
      ts: now,
      bitrateKbps: Math.round(stream.bitrateKbps * 10) / 10,
      fps: stream.fps,
      droppedFrames: dropped,
      viewers: Math.max(0, stream.clients - 1),
      destinations: [{ id: `rtmp:${stream.app}/${stream.name}`, status: 'publishing' }],
    },
  };
}

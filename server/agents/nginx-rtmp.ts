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
  /** Bytes received on the stream since it started (`bytes_in`). */
  bytesIn: number;
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
        bytesIn: num(stream.bytes_in),
      });
    }
  }
  return streams;
}

/**
 * The sample for one stream, or null when it is not being published: the agent then posts
 * nothing, and the watchdog rule reports the stream down. Viewers are the stream's
 * clients minus the publisher. `droppedFrames` is the growth since the previous poll.
 *
 * Bitrate is the growth of `bytes_in` over the stream's own clock (`time`) since the
 * previous poll: nginx-rtmp's `bw_in` is averaged over 10 s and reads 0 for a stream's
 * first 10 s, too slow for the rules. Without a previous poll of the same stream `bw_in`
 * is used, and a stream too young to have either gives no sample yet.
 */
export function rtmpSample(
  streams: readonly RtmpStream[],
  where: { app: string; stream: string },
  now: number,
  previous: RtmpStream | null,
): { sample: HealthSample | null; stream: RtmpStream } | null {
  const stream = streams.find((s) => s.app === where.app && s.name === where.stream);
  if (!stream || !stream.publishing) return null;
  const same = previous && stream.uptimeMs > previous.uptimeMs && stream.bytesIn >= previous.bytesIn ? previous : null;
  const kbps = same
    ? ((stream.bytesIn - same.bytesIn) * 8) / (stream.uptimeMs - same.uptimeMs)
    : stream.bitrateKbps > 0
      ? stream.bitrateKbps
      : null;
  if (kbps === null) return { stream, sample: null };
  const dropped = same ? Math.max(0, stream.dropped - same.dropped) : 0;
  return {
    stream,
    sample: {
      ts: now,
      bitrateKbps: Math.round(kbps * 10) / 10,
      fps: stream.fps,
      droppedFrames: dropped,
      viewers: Math.max(0, stream.clients - 1),
      destinations: [{ id: `rtmp:${stream.app}/${stream.name}`, status: 'publishing' }],
    },
  };
}

export interface RtmpPollerOptions {
  /** The stat page (`rtmp_stat all`), e.g. http://127.0.0.1:8080/stat. */
  statUrl: string;
  app: string;
  stream: string;
  /** Poll interval in ms. Default 1000. */
  intervalMs?: number;
  post: (samples: HealthSample[]) => Promise<void>;
  log?: (message: string) => void;
}

/** Polls the stat page and posts a sample per poll while the stream is published. Returns stop(). */
export function startRtmpPoller(options: RtmpPollerOptions): () => void {
  const { statUrl, app, stream, post } = options;
  const intervalMs = options.intervalMs ?? 1000;
  const log = options.log ?? (() => undefined);
  let previous: RtmpStream | null = null;
  let wasUp: boolean | null = null;
  /** Logged on change only: a poller that cannot reach nginx says so once, not every second. */
  let reachable = true;
  let busy = false;
  const poll = async () => {
    if (busy) return;
    busy = true;
    try {
      let streams: RtmpStream[];
      try {
        const response = await fetch(statUrl, { signal: AbortSignal.timeout(Math.max(1000, intervalMs)) });
        streams = parseRtmpStat(await response.text());
      } catch (error) {
        // nginx itself is down: say nothing, and the watchdog reports the stream down.
        if (reachable) log(`stat page unreachable: ${(error as Error).message}`);
        reachable = false;
        wasUp = null;
        previous = null;
        return;
      }
      if (!reachable) log('stat page reachable again');
      reachable = true;
      const found = rtmpSample(streams, { app, stream }, Date.now(), previous);
      if (found === null) {
        if (wasUp !== false) log(`${app}/${stream} is not publishing; posting nothing`);
        wasUp = false;
        previous = null;
        return;
      }
      if (wasUp !== true) log(`${app}/${stream} is publishing`);
      wasUp = true;
      previous = found.stream;
      if (found.sample) await post([found.sample]);
    } finally {
      busy = false;
    }
  };
  void poll();
  const timer = setInterval(() => void poll(), intervalMs);
  return () => clearInterval(timer);
}

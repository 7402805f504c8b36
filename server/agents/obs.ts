// The JSON flavour of the protocol (obswebsocket.json): readable on the wire, and OBS speaks both.
import { OBSWebSocket, type OBSResponseTypes } from 'obs-websocket-js/json';
import type { HealthSample } from '../../shared/model.js';

type Stats = OBSResponseTypes['GetStats'];
type StreamStatus = OBSResponseTypes['GetStreamStatus'];

/** What the OBS agent remembers between polls: the counters are cumulative in OBS. */
export interface ObsReading {
  at: number;
  outputBytes: number;
  outputSkippedFrames: number;
  renderSkippedFrames: number;
}

/**
 * OBS output states (StreamStateChanged `outputState`) in the words `normalizeStatus`
 * knows: reconnecting is critical, reconnected healthy, stopped offline.
 */
export function obsStateWord(outputState: string): string {
  const state = outputState.replace(/^OBS_WEBSOCKET_OUTPUT_/, '').toLowerCase();
  switch (state) {
    case 'started':
    case 'starting':
      return 'active';
    case 'reconnecting':
    case 'reconnected':
    case 'stopped':
      return state;
    case 'stopping':
      return 'stopped';
    default:
      return state || 'unknown';
  }
}

/**
 * One sample from GetStats and GetStreamStatus. Bitrate is the growth of `outputBytes`
 * over the time since the previous reading; dropped frames are the output's and the
 * renderer's skipped frames since then. Null while the stream output is not active (the
 * watchdog then reports the stream down), and for the first reading (no rate yet).
 */
export function obsSample(
  stats: Stats,
  status: StreamStatus,
  previous: ObsReading | null,
  now: number,
): { sample: HealthSample | null; reading: ObsReading | null } {
  if (!status.outputActive) return { sample: null, reading: null };
  const reading: ObsReading = {
    at: now,
    outputBytes: status.outputBytes,
    outputSkippedFrames: status.outputSkippedFrames,
    renderSkippedFrames: stats.renderSkippedFrames,
  };
  // A restarted output resets the counters: start over rather than report a negative rate.
  if (!previous || now <= previous.at || status.outputBytes < previous.outputBytes) return { sample: null, reading };
  const seconds = (now - previous.at) / 1000;
  const dropped =
    Math.max(0, status.outputSkippedFrames - previous.outputSkippedFrames) +
    Math.max(0, stats.renderSkippedFrames - previous.renderSkippedFrames);
  return {
    reading,
    sample: {
      ts: now,
      bitrateKbps: Math.round(((status.outputBytes - previous.outputBytes) * 8) / 1000 / seconds),
      fps: Math.round(stats.activeFps * 100) / 100,
      droppedFrames: dropped,
      encoderCpu: Math.min(100, Math.max(0, Math.round(stats.cpuUsage * 10) / 10)),
      destinations: [{ id: 'obs', status: status.outputReconnecting ? 'reconnecting' : 'active' }],
    },
  };
}

export interface ObsAgentOptions {
  /** obs-websocket's address, e.g. ws://127.0.0.1:4455. */
  url: string;
  password?: string;
  /** How often GetStats and GetStreamStatus are asked, in ms. Default 1000. */
  intervalMs?: number;
  /** Where samples go (the ingest client). */
  post: (samples: HealthSample[]) => Promise<void>;
  log?: (message: string) => void;
  /** Wait before reconnecting after OBS closed the socket, in ms. Default 2000. */
  reconnectMs?: number;
}

/**
 * The OBS Studio agent: connects to obs-websocket v5, polls GetStats and GetStreamStatus
 * every `intervalMs` and posts a sample while the stream output is active; a
 * StreamStateChanged event (reconnecting, stopped) takes effect at once. When OBS goes
 * away it stops posting (Cueroom's watchdog then reports the stream down) and reconnects.
 * Returns the stop function.
 */
export function startObsAgent(options: ObsAgentOptions): () => Promise<void> {
  const { url, password, post } = options;
  const intervalMs = options.intervalMs ?? 1000;
  const reconnectMs = options.reconnectMs ?? 2000;
  const log = options.log ?? (() => undefined);
  const obs = new OBSWebSocket();
  let previous: ObsReading | null = null;
  let state = 'active';
  let stopped = false;
  let busy = false;
  obs.on('StreamStateChanged', ({ outputActive, outputState }) => {
    state = obsStateWord(outputState);
    log(`stream ${state}`);
    if (!outputActive) previous = null;
  });
  obs.on('ConnectionClosed', () => {
    previous = null;
    if (!stopped) setTimeout(() => void connect(), reconnectMs).unref();
  });
  const connect = async () => {
    if (stopped) return;
    try {
      await obs.connect(url, password);
      log(`connected to ${url}`);
    } catch (error) {
      log(`cannot reach OBS: ${(error as Error).message}`);
    }
  };
  const poll = async () => {
    if (!obs.identified || busy) return;
    busy = true;
    try {
      const [stats, status] = await Promise.all([obs.call('GetStats'), obs.call('GetStreamStatus')]);
      const result = obsSample(stats, status, previous, Date.now());
      previous = result.reading;
      if (result.sample) {
        // A state announced by an event (reconnecting) is fresher than the poll's flag.
        if (state === 'reconnecting') result.sample.destinations = [{ id: 'obs', status: 'reconnecting' }];
        await post([result.sample]);
      }
    } catch (error) {
      log(`poll failed: ${(error as Error).message}`);
    } finally {
      busy = false;
    }
  };
  void connect();
  const timer = setInterval(() => void poll(), intervalMs);
  return async () => {
    stopped = true;
    clearInterval(timer);
    await obs.disconnect();
  };
}

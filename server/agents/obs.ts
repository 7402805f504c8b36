import type { OBSResponseTypes } from 'obs-websocket-js';
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

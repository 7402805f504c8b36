import type { HealthSample } from '../../shared/model.js';

export type HealthLevel = 'healthy' | 'degraded' | 'critical' | 'no-data' | 'offline';

/** A stream that sent nothing for this long is offline, whatever its last sample said. */
export const OFFLINE_AFTER_MS = 15_000;

export const HEALTH_LABEL: Record<HealthLevel, string> = {
  healthy: 'Healthy',
  degraded: 'Degraded',
  critical: 'Critical',
  'no-data': 'No data',
  offline: 'Offline',
};

/** Icons pair with the text so colour is never the only signal. */
export const HEALTH_ICON: Record<HealthLevel, string> = {
  healthy: '●',
  degraded: '▲',
  critical: '■',
  'no-data': '○',
  offline: '✕',
};

/**
 * Classifies the stream from the latest sample. "No data" (never a sample) is its own
 * state, never "healthy"; a sample too old means the stream is offline.
 */
export function healthLevel(
  latest: HealthSample | null,
  window: readonly HealthSample[],
  targetBitrateKbps: number | null,
  now: number,
): HealthLevel {
  if (!latest) return 'no-data';
  if (now - latest.ts > OFFLINE_AFTER_MS || (latest.bitrateKbps === 0 && latest.fps === 0)) return 'offline';
  const previous = window.length >= 2 ? window[window.length - 2] : undefined;
  const dropping = previous ? latest.droppedFrames - previous.droppedFrames : 0;
  const ratio = targetBitrateKbps ? latest.bitrateKbps / targetBitrateKbps : 1;
  if (ratio < 0.5 || latest.fps < 15 || dropping > 30) return 'critical';
  if (ratio < 0.8 || latest.fps < 25 || dropping > 0) return 'degraded';
  return 'healthy';
}

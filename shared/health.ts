import { z } from 'zod';

/**
 * Stream health as the crew reads it. `no_data` is its own state and never counts as
 * healthy (Grafana's alert states): a silent encoder is not a good encoder.
 */
export const HEALTH_STATUSES = ['healthy', 'degraded', 'critical', 'no_data', 'offline'] as const;
export const healthStatusSchema = z.enum(HEALTH_STATUSES);
export type HealthStatus = z.infer<typeof healthStatusSchema>;

/** Worse is larger. `no_data` ranks above `degraded`: not knowing is worse than a dip. */
const RANK: Readonly<Record<HealthStatus, number>> = { healthy: 0, degraded: 1, no_data: 2, critical: 3, offline: 4 };

/**
 * Vendor statuses by lower-cased name: YouTube `streamStatus.healthStatus.status`
 * (good/ok/bad/noData), AWS IVS `health` (HEALTHY/STARVING/UNKNOWN), OBS output states
 * (reconnecting/reconnected, active/inactive), nginx-rtmp (publishing or not).
 */
const VENDOR: Readonly<Record<string, HealthStatus>> = {
  // YouTube
  good: 'healthy',
  ok: 'degraded',
  bad: 'critical',
  nodata: 'no_data',
  revoked: 'offline',
  // AWS IVS
  healthy: 'healthy',
  starving: 'degraded',
  unknown: 'no_data',
  // OBS
  reconnecting: 'critical',
  reconnected: 'healthy',
  active: 'healthy',
  streaming: 'healthy',
  inactive: 'offline',
  stopped: 'offline',
  // nginx-rtmp and generic names
  publishing: 'healthy',
  live: 'healthy',
  degraded: 'degraded',
  critical: 'critical',
  no_data: 'no_data',
  offline: 'offline',
};

/** Maps a vendor's status word to ours; an unknown word is `no_data`, never `healthy`. */
export function normalizeStatus(raw: string | null | undefined): HealthStatus {
  if (!raw) return 'no_data';
  const key = raw
    .trim()
    .toLowerCase()
    .replace(/[\s-]+/g, '_');
  return VENDOR[key] ?? VENDOR[key.replace(/_/g, '')] ?? 'no_data';
}

/** The worst of several statuses (one per destination); none at all is `no_data`. */
export function worstStatus(statuses: Iterable<HealthStatus>): HealthStatus {
  let worst: HealthStatus | null = null;
  for (const status of statuses) if (worst === null || RANK[status] > RANK[worst]) worst = status;
  return worst ?? 'no_data';
}

/** One destination (YouTube, IVS, an RTMP relay…) as a source reported it, status in the vendor's words. */
export const destinationSchema = z.object({
  id: z.string().min(1).max(64),
  /** The vendor's status word, normalized with `normalizeStatus`. */
  status: z.string().min(1).max(32),
});
export type Destination = z.infer<typeof destinationSchema>;

const seconds = z.number().positive().max(3600);

/**
 * The rules a session's samples are judged by. A rule breaches only after its condition
 * held for `forSeconds` (a single bad sample is noise); every breach clears only after
 * `recoverSeconds` of good health (hysteresis), so a flapping signal stays one incident.
 */
export const healthRulesSchema = z.object({
  bitrate: z.object({
    enabled: z.boolean(),
    /** Breach when bitrate < share × the session's target bitrate. */
    minShareOfTarget: z.number().min(0).max(1),
    forSeconds: seconds,
    /** Target used while the session has none set (kbps). */
    defaultTargetKbps: z.number().positive().max(1_000_000),
  }),
  fps: z.object({ enabled: z.boolean(), floor: z.number().min(0).max(240), forSeconds: seconds }),
  droppedFrames: z.object({
    enabled: z.boolean(),
    /** dropped / (dropped + rendered), where rendered ≈ fps × seconds since the previous sample. */
    maxRatio: z.number().min(0).max(1),
    forSeconds: seconds,
  }),
  viewers: z.object({
    enabled: z.boolean(),
    /** Breach when viewers fall by more than this share of the highest count within the window. */
    maxDropShare: z.number().min(0).max(1),
    windowSeconds: seconds,
    /** Drops below this many viewers are ignored (a small room is noisy). */
    minViewers: z.number().int().nonnegative(),
  }),
  destinations: z.object({ enabled: z.boolean() }),
  watchdog: z.object({ enabled: z.boolean(), noSampleSeconds: seconds }),
  /** Good health needed before an automatic incident resolves itself. */
  recoverSeconds: seconds,
});
export type HealthRules = z.infer<typeof healthRulesSchema>;

export const DEFAULT_HEALTH_RULES: HealthRules = Object.freeze({
  bitrate: { enabled: true, minShareOfTarget: 0.6, forSeconds: 10, defaultTargetKbps: 4500 },
  fps: { enabled: true, floor: 20, forSeconds: 5 },
  droppedFrames: { enabled: true, maxRatio: 0.05, forSeconds: 5 },
  viewers: { enabled: true, maxDropShare: 0.4, windowSeconds: 60, minViewers: 50 },
  destinations: { enabled: true },
  watchdog: { enabled: true, noSampleSeconds: 15 },
  recoverSeconds: 20,
}) as HealthRules;

/** A partial change of rules, merged rule by rule over the current ones. */
export const healthRulesPatchSchema = z.object({
  bitrate: healthRulesSchema.shape.bitrate.partial().optional(),
  fps: healthRulesSchema.shape.fps.partial().optional(),
  droppedFrames: healthRulesSchema.shape.droppedFrames.partial().optional(),
  viewers: healthRulesSchema.shape.viewers.partial().optional(),
  destinations: healthRulesSchema.shape.destinations.partial().optional(),
  watchdog: healthRulesSchema.shape.watchdog.partial().optional(),
  recoverSeconds: seconds.optional(),
});
export type HealthRulesPatch = z.infer<typeof healthRulesPatchSchema>;

export function mergeRules(base: HealthRules, patch: HealthRulesPatch): HealthRules {
  return {
    bitrate: { ...base.bitrate, ...patch.bitrate },
    fps: { ...base.fps, ...patch.fps },
    droppedFrames: { ...base.droppedFrames, ...patch.droppedFrames },
    viewers: { ...base.viewers, ...patch.viewers },
    destinations: { ...base.destinations, ...patch.destinations },
    watchdog: { ...base.watchdog, ...patch.watchdog },
    recoverSeconds: patch.recoverSeconds ?? base.recoverSeconds,
  };
}

export const HEALTH_RULE_NAMES = ['bitrate', 'fps', 'droppedFrames', 'viewers', 'destinations', 'watchdog'] as const;
export type HealthRuleName = (typeof HEALTH_RULE_NAMES)[number];
export const healthRuleNameSchema = z.enum(HEALTH_RULE_NAMES);

/**
 * The status a console shows for a session's latest sample: `no_data` without one or when
 * it is older than the watchdog time (measured on the sample's `ts`, so a console should
 * pass a clock close to the encoder's), otherwise the worst of its destinations, and
 * `healthy` when it reports none. Breaching rules show as incidents, not here.
 */
export function sampleStatus(
  latest: { ts: number; destinations?: readonly { status: string }[] } | null,
  now: number,
  rules: Pick<HealthRules, 'watchdog'> = DEFAULT_HEALTH_RULES,
): HealthStatus {
  if (!latest || now - latest.ts > rules.watchdog.noSampleSeconds * 1000) return 'no_data';
  const destinations = latest.destinations ?? [];
  return destinations.length ? worstStatus(destinations.map((d) => normalizeStatus(d.status))) : 'healthy';
}

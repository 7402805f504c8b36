import { isIP } from 'node:net';
import { hostname } from 'node:os';
import { z } from 'zod';

/**
 * Configuration is read once, at start, from the environment: one zod schema, every
 * variable with a default, and a start that fails fast listing every bad variable on a
 * line of its own. `.env.example` documents the same variables (a test holds the two
 * together). An empty value counts as unset, so compose's `${VAR:-}` means "default".
 */

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export interface Config {
  /** PORT: TCP port to listen on; 0 picks a free one (tests). Default 8080. */
  readonly port: number;
  /**
   * HOST: address to listen on. Default '127.0.0.1': the embedded default is for one
   * machine, so it is not reachable from the network until asked (compose sets 0.0.0.0).
   */
  readonly host: string;
  /** REDIS_URL: redis:// or rediss:// URL. Default null: the in-process session store (one instance only). */
  readonly redisUrl: string | null;
  /** DATABASE_URL: postgres:// URL of the audit log. Default null: embedded PGlite under `dataDir`. */
  readonly databaseUrl: string | null;
  /** DATA_DIR: folder of the PGlite database and the generated secrets file. Default './data'. */
  readonly dataDir: string;
  /** ADMIN_TOKEN: bearer token of the admin API, at least 16 characters. Default null: generated at start and printed. */
  readonly adminToken: string | null;
  /**
   * TOKEN_SECRET: key that signs invite tokens, at least 32 characters. Default null:
   * generated once and kept in `dataDir`, so invites survive a restart. Several instances
   * must share one: set it explicitly when REDIS_URL is set.
   */
  readonly tokenSecret: string | null;
  /** TOKEN_TTL: lifetime of an invite token, in seconds (the variable takes 30m, 12h, 7d…). Default 12h = 43200. */
  readonly tokenTtlSeconds: number;
  /**
   * ALLOWED_ORIGINS: exact origins allowed to open a console WebSocket or call the API
   * from a browser (cross-site WebSocket hijacking is the threat). Default: the server's
   * own http://HOST:PORT, http://localhost:PORT, and PUBLIC_URL's origin when set.
   * With PORT=0 the default cannot know the port: set it explicitly.
   */
  readonly allowedOrigins: readonly string[];
  /** PUBLIC_URL: base URL people reach the server at, printed at start and used in invite links, no trailing slash. Default null: http://HOST:PORT. */
  readonly publicUrl: string | null;
  /** LOG_LEVEL: pino level. Default 'info'. */
  readonly logLevel: LogLevel;
  /** REDIS_PREFIX: prefix of every Redis key and channel, so several deployments can share one Redis. Default 'cueroom'. */
  readonly redisPrefix: string;
  /** REPLAY_RETENTION_SECONDS: how long events stay in the hot replay buffer; older resumes get a snapshot. Default 300. */
  readonly replayRetentionSeconds: number;
  /** ENDED_SESSION_GRACE_SECONDS: how long an ended session stays in Redis once the audit log holds all of it; the review then reads Postgres alone. Default 3600. */
  readonly endedSessionGraceSeconds: number;
  /** WS_MAX_QUEUE: outgoing frames queued per console before it is closed as too slow (4001). Default 1000. */
  readonly wsMaxQueue: number;
  /** WS_MAX_BUFFERED_BYTES: socket `bufferedAmount` past which a console is closed as too slow (4001). Default 4 MiB. */
  readonly wsMaxBufferedBytes: number;
  /** WS_HEARTBEAT_MS: ping interval; a console that misses a pong for one interval is terminated. Default 15000. */
  readonly wsHeartbeatMs: number;
  /** WS_RATE_LIMIT: messages a connection may send per 10 s before `rate_limited` replies. Default 200. */
  readonly wsRateLimit: number;
  /** WS_MAX_INVALID: malformed frames a connection may send before it is closed (4104). Default 20. */
  readonly wsMaxInvalid: number;
  /**
   * FLUSH_INTERVAL_MS: fan-out tick. A busy session's events of one tick are coalesced into one
   * frame per console; a session quiet for 10 ticks sends at once; 0 = every loop turn. Default 5.
   */
  readonly flushIntervalMs: number;
  /** HEALTH_FANOUT_MS: a console gets at most one health sample per this many ms, the latest winning; 0 = every one. Default 1000. */
  readonly healthFanoutMs: number;
  /** SHUTDOWN_GRACE_MS: how long shutdown waits for sockets to close and the audit log to flush. Default 10000. */
  readonly shutdownGraceMs: number;
  /** INSTANCE_ID: name of this instance in logs, metrics and Redis consumer names. Default hostname-pid. */
  readonly instanceId: string;
}

/** One line per bad variable, in `problems` and, joined by newlines, in the message. */
export class ConfigError extends Error {
  readonly problems: readonly string[];

  constructor(problems: readonly string[]) {
    super(problems.join('\n'));
    this.name = 'ConfigError';
    this.problems = Object.freeze([...problems]);
  }
}

class Problem {
  constructor(readonly message: string) {}
}

/** The value as typed, quoted, cut short so a pasted blob does not flood the terminal. */
function shown(raw: string): string {
  return `'${raw.length > 60 ? `${raw.slice(0, 57)}...` : raw}'`;
}

/** A variable: unset or empty gives the default, anything else must parse. */
function variable<T>(fallback: T, parse: (raw: string) => T | Problem) {
  return z
    .string()
    .optional()
    .transform((raw, ctx): T => {
      if (raw === undefined || raw === '') return fallback;
      const value = parse(raw);
      if (value instanceof Problem) {
        ctx.addIssue({ code: 'custom', message: value.message });
        return z.NEVER;
      }
      return value;
    });
}

/** Digits only: no sign, no exponent, no hex, no spaces, no decimals. */
function integer(fallback: number, min: number, max: number, unit?: string) {
  return variable(fallback, (raw) => {
    const value = /^\d+$/.test(raw) ? Number(raw) : NaN;
    if (value >= min && value <= max) return value;
    return new Problem(`expected an integer from ${min} to ${max}${unit ? ` (${unit})` : ''}, got ${shown(raw)}`);
  });
}

const DURATION_UNITS = { s: 1, m: 60, h: 3600, d: 86_400 } as const;
/*
 * Invite tokens are checked again on every reconnect, so anything under a minute would
 * drop consoles mid-show; over 30 days a leaked invite is a standing door.
 */
const MIN_TTL_SECONDS = 60;
const MAX_TTL_SECONDS = 30 * 86_400;

function duration(fallback: number) {
  return variable(fallback, (raw) => {
    const match = /^(\d+)([smhd])$/.exec(raw);
    const seconds = match ? Number(match[1]) * DURATION_UNITS[match[2] as keyof typeof DURATION_UNITS] : NaN;
    if (seconds >= MIN_TTL_SECONDS && seconds <= MAX_TTL_SECONDS) return seconds;
    return new Problem(`expected a duration from 1m to 30d such as 30m, 12h or 7d, got ${shown(raw)}`);
  });
}

/** URLs may carry a password: the value is never echoed, only its scheme. */
function serviceUrl(schemes: readonly string[]) {
  const expected = `expected a ${schemes.map((s) => `${s}//`).join(' or ')} URL`;
  return variable<string | null>(null, (raw) => {
    let url: URL;
    try {
      url = new URL(raw);
    } catch {
      return new Problem(`${expected}; the value does not parse as a URL (not shown: it may hold a password)`);
    }
    return schemes.includes(url.protocol) ? raw : new Problem(`${expected}, got scheme '${url.protocol}'`);
  });
}

/** Secrets are never echoed, only their length. */
function secret(minLength: number) {
  return variable<string | null>(null, (raw) => {
    if (raw.length >= minLength && !/\s/.test(raw)) return raw;
    return new Problem(
      `expected at least ${minLength} characters without spaces, got ${raw.length} characters (value not shown)`,
    );
  });
}

function httpOrigin(raw: string): string | null {
  try {
    const url = new URL(raw);
    return (url.protocol === 'http:' || url.protocol === 'https:') && url.origin === raw ? raw : null;
  } catch {
    return null;
  }
}

/** Hostnames and addresses are written into URLs with IPv6 in brackets. */
function urlHost(host: string): string {
  return isIP(host) === 6 ? `[${host}]` : host;
}

/** Keys carry `{s:ID}` hash tags for Redis Cluster: a brace in the prefix would break them. */
const NAME = /^[A-Za-z0-9._:-]+$/;

const defaultInstanceId = `${hostname()}-${process.pid}`.replace(/[^A-Za-z0-9._:-]/g, '-');

const envSchema = z.object({
  PORT: variable(8080, (raw) => {
    const port = /^\d{1,5}$/.test(raw) ? Number(raw) : NaN;
    return port <= 65_535 ? port : new Problem(`expected a port number 0-65535, got ${shown(raw)}`);
  }),
  HOST: variable('127.0.0.1', (raw) =>
    isIP(raw) !== 0 || /^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?$/.test(raw)
      ? raw
      : new Problem(`expected a hostname or IP address to listen on, got ${shown(raw)}`),
  ),
  REDIS_URL: serviceUrl(['redis:', 'rediss:']),
  DATABASE_URL: serviceUrl(['postgres:', 'postgresql:']),
  DATA_DIR: variable('./data', (raw) => raw),
  ADMIN_TOKEN: secret(16),
  TOKEN_SECRET: secret(32),
  TOKEN_TTL: duration(12 * 3600),
  ALLOWED_ORIGINS: variable<readonly string[] | null>(null, (raw) => {
    const entries = raw
      .split(',')
      .map((entry) => entry.trim())
      .filter((entry) => entry !== '');
    const bad = entries.find((entry) => httpOrigin(entry) === null);
    if (bad !== undefined) {
      return new Problem(
        `expected a comma-separated list of exact origins like https://crew.example.com (scheme, host and port; no path, no trailing slash, no wildcard), got ${shown(bad)}`,
      );
    }
    return entries.length > 0 ? [...new Set(entries)] : new Problem('expected at least one origin, got an empty list');
  }),
  PUBLIC_URL: variable<string | null>(null, (raw) => {
    const problem = new Problem(`expected an http:// or https:// URL without query or fragment, got ${shown(raw)}`);
    try {
      const url = new URL(raw);
      if ((url.protocol !== 'http:' && url.protocol !== 'https:') || url.search || url.hash || url.username) {
        return problem;
      }
      return url.href.replace(/\/+$/, '');
    } catch {
      return problem;
    }
  }),
  LOG_LEVEL: variable<LogLevel>('info', (raw) =>
    (LOG_LEVELS as readonly string[]).includes(raw)
      ? (raw as LogLevel)
      : new Problem(`expected one of ${LOG_LEVELS.join(', ')}, got ${shown(raw)}`),
  ),
  REDIS_PREFIX: variable('cueroom', (raw) =>
    NAME.test(raw) && raw.length <= 64
      ? raw
      : new Problem(`expected 1-64 letters, digits, dots, dashes, underscores or colons, got ${shown(raw)}`),
  ),
  REPLAY_RETENTION_SECONDS: integer(300, 1, 86_400, 'seconds'),
  ENDED_SESSION_GRACE_SECONDS: integer(3600, 1, 30 * 86_400, 'seconds'),
  WS_MAX_QUEUE: integer(1000, 1, 1_000_000, 'frames'),
  // The floor is one largest incoming frame: a smaller limit would close healthy consoles.
  WS_MAX_BUFFERED_BYTES: integer(4 * 1024 * 1024, 64 * 1024, 1024 * 1024 * 1024, 'bytes'),
  WS_HEARTBEAT_MS: integer(15_000, 1000, 300_000, 'milliseconds'),
  WS_RATE_LIMIT: integer(200, 1, 100_000, 'messages per 10 s'),
  WS_MAX_INVALID: integer(20, 1, 10_000, 'frames'),
  /*
   * 5 ms rather than 0 (setImmediate): with Redis, events arrive one pub/sub message per
   * event-loop turn, so setImmediate flushes almost every event in a frame of its own and
   * a burst (a lineup change, a health sample plus an auto-incident) costs one write per
   * event per console. A 5 ms tick coalesces the burst into one frame, and 5 ms is far
   * below what a person on a console can notice (a 60 Hz screen redraws every 16.7 ms).
   */
  FLUSH_INTERVAL_MS: integer(5, 0, 1000, 'milliseconds'),
  HEALTH_FANOUT_MS: integer(1000, 0, 60_000, 'milliseconds'),
  SHUTDOWN_GRACE_MS: integer(10_000, 0, 600_000, 'milliseconds'),
  INSTANCE_ID: variable(defaultInstanceId, (raw) =>
    NAME.test(raw) && raw.length <= 128
      ? raw
      : new Problem(`expected 1-128 letters, digits, dots, dashes, underscores or colons, got ${shown(raw)}`),
  ),
});

/** Names of every variable the server reads, in the order of `.env.example`. */
export const CONFIG_VARIABLES = Object.freeze(
  Object.keys(envSchema.shape),
) as readonly (keyof typeof envSchema.shape)[];

/**
 * Parses the environment into a frozen Config. Throws a ConfigError listing every bad
 * variable, one per line, as `NAME: what was expected, got what`.
 */
export function loadConfig(env: Readonly<Record<string, string | undefined>> = process.env): Config {
  const parsed = envSchema.safeParse(env);
  if (!parsed.success) {
    const problems = new Map<string, string>();
    for (const issue of parsed.error.issues) {
      const name = String(issue.path[0] ?? 'environment');
      if (!problems.has(name)) problems.set(name, issue.message);
    }
    throw new ConfigError([...problems].map(([name, message]) => `${name}: ${message}`));
  }
  const vars = parsed.data;
  const ownOrigins = [`http://${urlHost(vars.HOST)}:${vars.PORT}`, `http://localhost:${vars.PORT}`];
  if (vars.PUBLIC_URL) ownOrigins.push(new URL(vars.PUBLIC_URL).origin);
  const config: Config = {
    port: vars.PORT,
    host: vars.HOST,
    redisUrl: vars.REDIS_URL,
    databaseUrl: vars.DATABASE_URL,
    dataDir: vars.DATA_DIR,
    adminToken: vars.ADMIN_TOKEN,
    tokenSecret: vars.TOKEN_SECRET,
    tokenTtlSeconds: vars.TOKEN_TTL,
    allowedOrigins: Object.freeze([...new Set(vars.ALLOWED_ORIGINS ?? ownOrigins)]),
    publicUrl: vars.PUBLIC_URL,
    logLevel: vars.LOG_LEVEL,
    redisPrefix: vars.REDIS_PREFIX,
    replayRetentionSeconds: vars.REPLAY_RETENTION_SECONDS,
    endedSessionGraceSeconds: vars.ENDED_SESSION_GRACE_SECONDS,
    wsMaxQueue: vars.WS_MAX_QUEUE,
    wsMaxBufferedBytes: vars.WS_MAX_BUFFERED_BYTES,
    wsHeartbeatMs: vars.WS_HEARTBEAT_MS,
    wsRateLimit: vars.WS_RATE_LIMIT,
    wsMaxInvalid: vars.WS_MAX_INVALID,
    flushIntervalMs: vars.FLUSH_INTERVAL_MS,
    healthFanoutMs: vars.HEALTH_FANOUT_MS,
    shutdownGraceMs: vars.SHUTDOWN_GRACE_MS,
    instanceId: vars.INSTANCE_ID,
  };
  return Object.freeze(config);
}

function withoutPassword(url: string | null): string | null {
  if (url === null) return null;
  const parsed = new URL(url);
  if (parsed.password) parsed.password = '***';
  return parsed.href;
}

/** The config as it may be logged at start: secrets replaced, URL passwords masked. */
export function redactConfig(config: Config): Record<keyof Config, unknown> {
  return {
    ...config,
    redisUrl: withoutPassword(config.redisUrl),
    databaseUrl: withoutPassword(config.databaseUrl),
    adminToken: config.adminToken === null ? null : '[redacted]',
    tokenSecret: config.tokenSecret === null ? null : '[redacted]',
  };
}

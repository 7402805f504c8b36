import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { describe, expect, it } from 'vitest';
import { CONFIG_VARIABLES, ConfigError, loadConfig, redactConfig } from '../../server/config.js';

function problemsOf(env: Record<string, string>): readonly string[] {
  try {
    loadConfig(env);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    const configError = error as ConfigError;
    expect(configError.message.split('\n')).toEqual(configError.problems);
    return configError.problems;
  }
  throw new Error(`loadConfig accepted ${JSON.stringify(env)}`);
}

describe('loadConfig', () => {
  it('gives every default on an empty environment', () => {
    const config = loadConfig({});
    expect(config).toEqual({
      port: 8080,
      host: '127.0.0.1',
      redisUrl: null,
      databaseUrl: null,
      dataDir: './data',
      adminToken: null,
      tokenSecret: null,
      tokenTtlSeconds: 12 * 3600,
      allowedOrigins: ['http://127.0.0.1:8080', 'http://localhost:8080'],
      publicUrl: null,
      logLevel: 'info',
      redisPrefix: 'cueroom',
      replayRetentionSeconds: 300,
      endedSessionGraceSeconds: 3600,
      wsMaxQueue: 1000,
      wsMaxBufferedBytes: 4 * 1024 * 1024,
      wsHeartbeatMs: 15_000,
      wsRateLimit: 200,
      wsMaxInvalid: 20,
      flushIntervalMs: 5,
      healthFanoutMs: 1000,
      shutdownGraceMs: 10_000,
      instanceId: `${hostname()}-${process.pid}`.replace(/[^A-Za-z0-9._:-]/g, '-'),
    });
  });

  it('treats an empty value as unset', () => {
    expect(loadConfig({ PORT: '', REDIS_URL: '', ADMIN_TOKEN: '' })).toMatchObject({
      port: 8080,
      redisUrl: null,
      adminToken: null,
    });
  });

  it('returns a frozen config, origins included', () => {
    const config = loadConfig({});
    expect(Object.isFrozen(config)).toBe(true);
    expect(Object.isFrozen(config.allowedOrigins)).toBe(true);
    expect(() => {
      (config as { port: number }).port = 1;
    }).toThrow(TypeError);
  });

  it('reads every variable when set', () => {
    const config = loadConfig({
      PORT: '0',
      HOST: '0.0.0.0',
      REDIS_URL: 'redis://:pw@redis:6379/0',
      DATABASE_URL: 'postgres://cueroom:pw@postgres:5432/cueroom',
      DATA_DIR: '/var/lib/cueroom',
      ADMIN_TOKEN: 'a'.repeat(16),
      TOKEN_SECRET: 's'.repeat(32),
      TOKEN_TTL: '30m',
      ALLOWED_ORIGINS: 'https://crew.example.com, http://localhost:5173,https://crew.example.com',
      PUBLIC_URL: 'https://crew.example.com/cueroom/',
      LOG_LEVEL: 'debug',
      REDIS_PREFIX: 'cueroom:staging',
      REPLAY_RETENTION_SECONDS: '600',
      WS_MAX_QUEUE: '50',
      WS_MAX_BUFFERED_BYTES: '65536',
      WS_HEARTBEAT_MS: '5000',
      WS_RATE_LIMIT: '10',
      WS_MAX_INVALID: '3',
      FLUSH_INTERVAL_MS: '0',
      HEALTH_FANOUT_MS: '250',
      SHUTDOWN_GRACE_MS: '0',
      INSTANCE_ID: 'cueroom-1',
    });
    expect(config).toEqual({
      port: 0,
      host: '0.0.0.0',
      redisUrl: 'redis://:pw@redis:6379/0',
      databaseUrl: 'postgres://cueroom:pw@postgres:5432/cueroom',
      dataDir: '/var/lib/cueroom',
      adminToken: 'a'.repeat(16),
      tokenSecret: 's'.repeat(32),
      tokenTtlSeconds: 1800,
      allowedOrigins: ['https://crew.example.com', 'http://localhost:5173'],
      publicUrl: 'https://crew.example.com/cueroom',
      logLevel: 'debug',
      redisPrefix: 'cueroom:staging',
      replayRetentionSeconds: 600,
      endedSessionGraceSeconds: 3600,
      wsMaxQueue: 50,
      wsMaxBufferedBytes: 65536,
      wsHeartbeatMs: 5000,
      wsRateLimit: 10,
      wsMaxInvalid: 3,
      flushIntervalMs: 0,
      healthFanoutMs: 250,
      shutdownGraceMs: 0,
      instanceId: 'cueroom-1',
    });
  });

  it.each([
    ['30m', 1800],
    ['12h', 43_200],
    ['7d', 604_800],
    ['90s', 90],
  ])('reads TOKEN_TTL=%s as %i seconds', (raw, seconds) => {
    expect(loadConfig({ TOKEN_TTL: raw }).tokenTtlSeconds).toBe(seconds);
  });

  it('adds PUBLIC_URL and brackets IPv6 in the default origins', () => {
    expect(loadConfig({ HOST: '::1', PORT: '9000', PUBLIC_URL: 'https://crew.example.com/x' }).allowedOrigins).toEqual([
      'http://[::1]:9000',
      'http://localhost:9000',
      'https://crew.example.com',
    ]);
  });

  it.each([
    ['PORT', 'abc', "PORT: expected a port number 0-65535, got 'abc'"],
    ['PORT', '65536', "PORT: expected a port number 0-65535, got '65536'"],
    ['PORT', '-1', "PORT: expected a port number 0-65535, got '-1'"],
    ['PORT', '80.5', "PORT: expected a port number 0-65535, got '80.5'"],
    ['PORT', ' 8080', "PORT: expected a port number 0-65535, got ' 8080'"],
    ['PORT', '1e3', "PORT: expected a port number 0-65535, got '1e3'"],
    ['HOST', 'not a host', "HOST: expected a hostname or IP address to listen on, got 'not a host'"],
    [
      'LOG_LEVEL',
      'verbose',
      "LOG_LEVEL: expected one of fatal, error, warn, info, debug, trace, silent, got 'verbose'",
    ],
    ['LOG_LEVEL', 'INFO', "LOG_LEVEL: expected one of fatal, error, warn, info, debug, trace, silent, got 'INFO'"],
    ['TOKEN_TTL', '12', "TOKEN_TTL: expected a duration from 1m to 30d such as 30m, 12h or 7d, got '12'"],
    ['TOKEN_TTL', '1y', "TOKEN_TTL: expected a duration from 1m to 30d such as 30m, 12h or 7d, got '1y'"],
    ['TOKEN_TTL', '31d', "TOKEN_TTL: expected a duration from 1m to 30d such as 30m, 12h or 7d, got '31d'"],
    ['TOKEN_TTL', '10s', "TOKEN_TTL: expected a duration from 1m to 30d such as 30m, 12h or 7d, got '10s'"],
    [
      'ALLOWED_ORIGINS',
      'https://a.example.com,https://b.example.com/',
      "ALLOWED_ORIGINS: expected a comma-separated list of exact origins like https://crew.example.com (scheme, host and port; no path, no trailing slash, no wildcard), got 'https://b.example.com/'",
    ],
    [
      'ALLOWED_ORIGINS',
      '*',
      "ALLOWED_ORIGINS: expected a comma-separated list of exact origins like https://crew.example.com (scheme, host and port; no path, no trailing slash, no wildcard), got '*'",
    ],
    ['ALLOWED_ORIGINS', ' , ', 'ALLOWED_ORIGINS: expected at least one origin, got an empty list'],
    [
      'PUBLIC_URL',
      'crew.example.com',
      "PUBLIC_URL: expected an http:// or https:// URL without query or fragment, got 'crew.example.com'",
    ],
    [
      'REDIS_PREFIX',
      'cue{room}',
      "REDIS_PREFIX: expected 1-64 letters, digits, dots, dashes, underscores or colons, got 'cue{room}'",
    ],
    [
      'REPLAY_RETENTION_SECONDS',
      '0',
      "REPLAY_RETENTION_SECONDS: expected an integer from 1 to 86400 (seconds), got '0'",
    ],
    ['WS_MAX_QUEUE', '1k', "WS_MAX_QUEUE: expected an integer from 1 to 1000000 (frames), got '1k'"],
    [
      'WS_MAX_BUFFERED_BYTES',
      '4MiB',
      "WS_MAX_BUFFERED_BYTES: expected an integer from 65536 to 1073741824 (bytes), got '4MiB'",
    ],
    ['WS_HEARTBEAT_MS', '15s', "WS_HEARTBEAT_MS: expected an integer from 1000 to 300000 (milliseconds), got '15s'"],
    ['WS_RATE_LIMIT', '0', "WS_RATE_LIMIT: expected an integer from 1 to 100000 (messages per 10 s), got '0'"],
    ['WS_MAX_INVALID', '2.5', "WS_MAX_INVALID: expected an integer from 1 to 10000 (frames), got '2.5'"],
    ['FLUSH_INTERVAL_MS', '0x10', "FLUSH_INTERVAL_MS: expected an integer from 0 to 1000 (milliseconds), got '0x10'"],
    ['SHUTDOWN_GRACE_MS', 'true', "SHUTDOWN_GRACE_MS: expected an integer from 0 to 600000 (milliseconds), got 'true'"],
    [
      'INSTANCE_ID',
      'my instance',
      "INSTANCE_ID: expected 1-128 letters, digits, dots, dashes, underscores or colons, got 'my instance'",
    ],
  ])('rejects %s=%j with one line', (name, raw, line) => {
    expect(problemsOf({ [name]: raw })).toEqual([line]);
  });

  it('never echoes secrets or URLs that may hold a password', () => {
    const problems = problemsOf({
      ADMIN_TOKEN: 'hunter2',
      TOKEN_SECRET: 'short secret with spaces in it ok',
      REDIS_URL: 'http://user:hunter3@redis',
      DATABASE_URL: 'not a url hunter4',
    });
    expect(problems).toEqual([
      "REDIS_URL: expected a redis:// or rediss:// URL, got scheme 'http:'",
      'DATABASE_URL: expected a postgres:// or postgresql:// URL; the value does not parse as a URL (not shown: it may hold a password)',
      'ADMIN_TOKEN: expected at least 16 characters without spaces, got 7 characters (value not shown)',
      'TOKEN_SECRET: expected at least 32 characters without spaces, got 33 characters (value not shown)',
    ]);
    expect(problems.join('\n')).not.toMatch(/hunter/);
  });

  it('lists every bad variable on its own line, in schema order', () => {
    const problems = problemsOf({
      PORT: 'abc',
      LOG_LEVEL: 'loud',
      WS_MAX_QUEUE: '-5',
      TOKEN_TTL: 'forever',
      HOST: '127.0.0.1',
    });
    expect(problems).toHaveLength(4);
    expect(problems.map((line) => line.split(':')[0])).toEqual(['PORT', 'TOKEN_TTL', 'LOG_LEVEL', 'WS_MAX_QUEUE']);
    expect(problems[0]).toBe("PORT: expected a port number 0-65535, got 'abc'");
  });

  it('cuts long values short in messages', () => {
    const [line] = problemsOf({ LOG_LEVEL: 'x'.repeat(500) });
    expect(line).toBe(
      `LOG_LEVEL: expected one of fatal, error, warn, info, debug, trace, silent, got '${'x'.repeat(57)}...'`,
    );
  });

  it('ignores variables it does not know', () => {
    expect(() => loadConfig({ PATH: '/usr/bin', NODE_ENV: 'whatever' })).not.toThrow();
  });
});

describe('redactConfig', () => {
  it('hides tokens and URL passwords', () => {
    const config = loadConfig({
      ADMIN_TOKEN: 'admin-token-0123456789',
      TOKEN_SECRET: 'x'.repeat(40),
      REDIS_URL: 'redis://default:hunter2@redis:6379',
      DATABASE_URL: 'postgres://cueroom:hunter3@postgres/cueroom',
    });
    const shown = JSON.stringify(redactConfig(config));
    expect(shown).not.toMatch(/hunter|admin-token|xxxx/);
    expect(redactConfig(config)).toMatchObject({
      adminToken: '[redacted]',
      redisUrl: 'redis://default:***@redis:6379',
      databaseUrl: 'postgres://cueroom:***@postgres/cueroom',
    });
  });
});

describe('.env.example', () => {
  const example = readFileSync(new URL('../../.env.example', import.meta.url), 'utf8');

  it.each(CONFIG_VARIABLES)('documents %s', (name) => {
    expect(example).toMatch(new RegExp(`^#? ?${name}=`, 'm'));
  });

  it('documents nothing the server does not read', () => {
    const documented = [...example.matchAll(/^#? ?([A-Z][A-Z0-9_]*)=/gm)].map((match) => match[1]);
    expect(documented.sort()).toEqual([...CONFIG_VARIABLES].sort());
  });

  it('parses as it stands (its uncommented lines are valid)', () => {
    const env = Object.fromEntries(
      example
        .split('\n')
        .filter((line) => /^[A-Z][A-Z0-9_]*=/.test(line))
        .map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)]),
    );
    expect(() => loadConfig(env)).not.toThrow();
  });
});

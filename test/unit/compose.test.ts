import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { loadConfig } from '../../server/config.js';

// No Docker engine on these machines: the compose file is checked by reading it.

const root = new URL('../../', import.meta.url);

interface Service {
  image?: string;
  build?: unknown;
  command?: string | string[];
  environment?: Record<string, string | number> | string[];
  depends_on?: Record<string, { condition?: string }> | string[];
  ports?: (string | { published?: string | number; target?: number })[];
  healthcheck?: { test?: unknown };
}

// Compose supports YAML merge keys (`<<: *anchor`); so must the parse.
const compose = parse(readFileSync(new URL('docker-compose.yml', root), 'utf8'), { merge: true }) as {
  services: Record<string, Service>;
};
const services = compose.services;
const cueroom = Object.entries(services).filter(([name]) => /^cueroom-\d+$/.test(name));

function environment(service: Service): Record<string, string> {
  const env = service.environment ?? {};
  if (Array.isArray(env)) {
    return Object.fromEntries(env.map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)]));
  }
  return Object.fromEntries(Object.entries(env).map(([key, value]) => [key, String(value)]));
}

/** `${NAME:-default}` as compose resolves it with NAME unset (innermost first, for nesting). */
function withDefaults(value: string): string {
  let resolved = value;
  for (let previous = ''; previous !== resolved;) {
    previous = resolved;
    resolved = resolved.replace(/\$\{[A-Z0-9_]+:-([^${}]*)\}/g, '$1');
  }
  return resolved;
}

function command(service: Service): string[] {
  const cmd = service.command ?? [];
  return Array.isArray(cmd) ? cmd : cmd.split(/\s+/);
}

function hostPorts(service: Service): string[] {
  return (service.ports ?? []).map((port) => {
    if (typeof port === 'object') return String(port.published);
    // [ip:]host:container
    const parts = port.split(':');
    return parts[parts.length - 2] ?? '';
  });
}

describe('docker-compose.yml', () => {
  it('runs redis 7 with appendonly yes and a healthcheck', () => {
    const redis = services.redis;
    expect(redis?.image).toMatch(/^redis:7/);
    const cmd = command(redis!);
    expect(cmd[cmd.indexOf('--appendonly') + 1]).toBe('yes');
    expect(redis?.healthcheck?.test).toBeDefined();
  });

  it('runs postgres 15 with a healthcheck', () => {
    expect(services.postgres?.image).toMatch(/^postgres:15/);
    expect(services.postgres?.healthcheck?.test).toBeDefined();
  });

  it('runs two cueroom instances built from the Dockerfile', () => {
    expect(cueroom.map(([name]) => name)).toEqual(['cueroom-1', 'cueroom-2']);
    for (const [, service] of cueroom) expect(service.build).toBeDefined();
  });

  it('points both instances at the same Redis and Postgres, with the same secrets', () => {
    const [first, second] = cueroom.map(([, service]) => environment(service));
    for (const key of ['REDIS_URL', 'DATABASE_URL', 'TOKEN_SECRET', 'ADMIN_TOKEN', 'ALLOWED_ORIGINS']) {
      expect(first?.[key], key).toBeTruthy();
      expect(second?.[key], key).toBe(first?.[key]);
    }
    expect(first?.REDIS_URL).toContain('redis://redis:6379');
    expect(first?.DATABASE_URL).toContain('@postgres:5432/');
    expect(first?.HOST).toBe('0.0.0.0');
    expect(first?.INSTANCE_ID).not.toBe(second?.INSTANCE_ID);
  });

  it('gives each instance an environment the server accepts', () => {
    for (const [name, service] of cueroom) {
      const env = Object.fromEntries(
        Object.entries(environment(service)).map(([key, value]) => [key, withDefaults(value)]),
      );
      expect(() => loadConfig(env), name).not.toThrow();
      expect(env.DATABASE_URL).toBe('postgres://cueroom:cueroom@postgres:5432/cueroom');
    }
  });

  it('starts each instance only once redis and postgres are healthy', () => {
    for (const [name, service] of cueroom) {
      expect(service.depends_on, name).toMatchObject({
        redis: { condition: 'service_healthy' },
        postgres: { condition: 'service_healthy' },
      });
    }
  });

  it('publishes the instances on distinct host ports 8081 and 8082', () => {
    const ports = cueroom.flatMap(([, service]) => hostPorts(service));
    expect(ports).toEqual(['8081', '8082']);
  });
});

describe('Dockerfile', () => {
  const dockerfile = new URL('Dockerfile', root);

  it('exists and is based on node:20', () => {
    expect(existsSync(dockerfile)).toBe(true);
    const from = [...readFileSync(dockerfile, 'utf8').matchAll(/^FROM\s+(\S+)/gim)].map((match) => match[1]);
    expect(from.length).toBeGreaterThan(0);
    for (const image of from) expect(image).toMatch(/^node:20(-|$)/);
  });

  it('runs as a non-root user, exposes 8080 and checks /healthz', () => {
    const text = readFileSync(dockerfile, 'utf8');
    expect(text).toMatch(/^USER\s+(?!root\b)\S+/m);
    expect(text).toMatch(/^EXPOSE\s+8080\b/m);
    expect(text).toMatch(/^HEALTHCHECK\b[\s\S]*\/healthz/m);
  });
});

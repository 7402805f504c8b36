import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import pino from 'pino';
import type { Role } from '../../shared/roles.js';
import { WS_PATH } from '../../shared/protocol.js';
import { buildApp } from '../../server/app.js';
import { createEmbeddedBackends, type Backends } from '../../server/backends.js';
import { loadConfig, type Config } from '../../server/config.js';
import { TestConsole } from './console-client.js';

export const TEST_ORIGIN = 'http://console.test';
export const ADMIN_TOKEN = 'test-admin-token-0123456789';
const TOKEN_SECRET = 'test-token-secret-0123456789-0123456789';

/** A parsed response body: its shape is what the assertions of each test check. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- bodies are checked by the tests' assertions
type Body = any;

export interface Cueroom {
  app: FastifyInstance;
  backends: Backends;
  baseUrl: string;
  config: Config;
  /** Creates a session (admin) and returns its id. */
  createSession(title?: string, id?: string): Promise<string>;
  /** Issues an invite token (admin). */
  invite(sessionId: string, role: Role, name?: string, personId?: string): Promise<string>;
  /** Opens a console over a real WebSocket. */
  connect(token: string, options?: { since?: number; origin?: string }): Promise<TestConsole>;
  request(method: string, url: string, options?: { token?: string; body?: unknown }): Promise<{ status: number; body: Body }>;
  /** Runs a command as an ops/other console through REST. */
  command(sessionId: string, token: string, command: unknown, id?: string): Promise<{ status: number; body: Body }>;
  /** Sessions go live: preflight, then live with the override. */
  goLive(sessionId: string): Promise<void>;
  close(): Promise<void>;
}

export interface StartOptions {
  /** Build the backends (default: embedded, PGlite in `dataDir`). */
  backends?: (config: Config, log: pino.Logger) => Promise<Backends>;
  /** Data folder for the embedded mode; a temp folder removed on close when not given. */
  dataDir?: string;
  env?: Record<string, string>;
  /** The app's logger; default silent (TEST_LOG_LEVEL to see it). */
  logger?: pino.Logger;
}

export async function startCueroom(options: StartOptions = {}): Promise<Cueroom> {
  const ownDir = options.dataDir ? null : mkdtempSync(path.join(tmpdir(), 'cueroom-test-'));
  const dataDir = options.dataDir ?? ownDir!;
  const config = loadConfig({
    PORT: '0',
    DATA_DIR: dataDir,
    ADMIN_TOKEN,
    TOKEN_SECRET,
    ALLOWED_ORIGINS: TEST_ORIGIN,
    LOG_LEVEL: 'silent',
    WS_HEARTBEAT_MS: '60000',
    ...options.env,
  });
  const log = options.logger ?? pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });
  const backends = await (options.backends ?? createEmbeddedBackends)(config, log);
  const app = await buildApp({
    config: { ...config, adminToken: ADMIN_TOKEN, tokenSecret: TOKEN_SECRET, publicUrl: 'http://localhost' },
    store: backends.store,
    feed: backends.feed,
    audit: backends.audit,
    auditBacklog: backends.auditBacklog,
    ping: backends.ping,
    logger: log,
  });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const address = app.server.address();
  if (!address || typeof address === 'string') throw new Error('no address');
  const baseUrl = `http://127.0.0.1:${address.port}`;

  const request: Cueroom['request'] = async (method, url, { token, body } = {}) => {
    const response = await fetch(baseUrl + url, {
      method,
      headers: {
        ...(token ? { authorization: `Bearer ${token}` } : {}),
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    let parsed: unknown = text;
    try {
      parsed = JSON.parse(text);
    } catch {
      // Not JSON (metrics): keep the text.
    }
    return { status: response.status, body: parsed };
  };

  const cueroom: Cueroom = {
    app,
    backends,
    baseUrl,
    config,
    async createSession(title = 'Test show', id) {
      const res = await request('POST', '/v1/sessions', { token: ADMIN_TOKEN, body: { title, ...(id ? { id } : {}) } });
      if (res.status !== 201) throw new Error(`create session: ${res.status} ${JSON.stringify(res.body)}`);
      return res.body.id as string;
    },
    async invite(sessionId, role, name = `${role} person`, personId) {
      const res = await request('POST', `/v1/sessions/${sessionId}/invites`, {
        token: ADMIN_TOKEN,
        body: { role, name, ...(personId ? { personId } : {}) },
      });
      if (res.status !== 201) throw new Error(`invite: ${res.status} ${JSON.stringify(res.body)}`);
      return res.body.token as string;
    },
    connect(token, { since, origin } = {}) {
      const query = new URLSearchParams({ token });
      if (since !== undefined) query.set('since', String(since));
      return TestConsole.open(`${baseUrl.replace('http', 'ws')}${WS_PATH}?${query}`, origin ? { origin } : {});
    },
    request,
    command(sessionId, token, command, id = crypto.randomUUID()) {
      return request('POST', `/v1/sessions/${sessionId}/commands`, { token, body: { id, command } });
    },
    async goLive(sessionId) {
      const ops = await cueroom.invite(sessionId, 'ops', 'Setup ops', 'setup-ops');
      for (const command of [{ kind: 'session.start_preflight' }, { kind: 'session.go_live', override: true, reason: 'test' }]) {
        const res = await cueroom.command(sessionId, ops, command);
        if (res.status !== 200) throw new Error(`${command.kind}: ${JSON.stringify(res.body)}`);
      }
    },
    async close() {
      await app.gateway.drain();
      await app.close();
      await backends.close();
      if (ownDir) rmSync(ownDir, { recursive: true, force: true });
    },
  };
  return cueroom;
}

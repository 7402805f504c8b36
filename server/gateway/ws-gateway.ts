import { randomUUID } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import websocket from '@fastify/websocket';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import type { RawData, WebSocket } from 'ws';
import { CloseCode, ErrorCode } from '../../shared/errors.js';
import { MAX_FRAME_BYTES, WS_PATH, clientMessageSchema, type ServerMessage } from '../../shared/protocol.js';
import { crewRoleSchema, type Actor } from '../../shared/roles.js';
import type { CommandService } from '../command-service.js';
import type { Config } from '../config.js';
import { CueroomError, HTTP_STATUS, toErrorBody } from '../errors.js';
import type { Metrics } from '../metrics.js';
import type { EventFeed, SessionStore } from '../store/session-store.js';
import { isExpiredTokenError, type TokenService } from '../tokens.js';
import { ConsoleConnection } from './console-connection.js';
import { SessionHub } from './session-hub.js';

export interface GatewayDeps {
  config: Pick<
    Config,
    | 'allowedOrigins'
    | 'wsMaxQueue'
    | 'wsMaxBufferedBytes'
    | 'wsHeartbeatMs'
    | 'wsRateLimit'
    | 'wsMaxInvalid'
    | 'flushIntervalMs'
    | 'healthFanoutMs'
  >;
  store: SessionStore;
  feed: EventFeed;
  commands: CommandService;
  tokens: TokenService;
  metrics: Metrics;
}

interface ConsoleClaims {
  sessionId: string;
  role: ReturnType<typeof crewRoleSchema.parse>;
  personId: string;
  name: string;
  since: number | null;
}

declare module 'fastify' {
  interface FastifyInstance {
    gateway: Gateway;
  }
  interface FastifyRequest {
    consoleClaims: ConsoleClaims | null;
    /** The upgrade's raw response (WebSocket route only), released once the console is accepted. */
    upgradeResponse: ServerResponse | null;
  }
}

const RATE_WINDOW_MS = 10_000;
/** How long shutdown waits for consoles to answer the close frame before cutting them off. */
const CLOSE_HANDSHAKE_MS = 1_000;

function closedPromise(socket: WebSocket): Promise<void> {
  if (socket.readyState === socket.CLOSED) return Promise.resolve();
  return new Promise((resolve) => socket.once('close', () => resolve()));
}

/**
 * The consoles' WebSocket endpoint: authenticates before the upgrade, keeps one hub per
 * session with consoles here, answers commands, and keeps connections honest (rate
 * limits, heartbeats, slow-console cut-off).
 */
export class Gateway {
  private readonly hubs = new Map<string, SessionHub>();
  readonly consoles = new Set<ConsoleConnection>();
  private heartbeat: NodeJS.Timeout | null = null;
  private draining = false;
  private readonly leaving = new Set<Promise<unknown>>();

  constructor(
    private readonly deps: GatewayDeps,
    private readonly log: FastifyInstance['log'],
  ) {}

  startHeartbeat(): void {
    this.heartbeat = setInterval(() => {
      for (const console of this.consoles) {
        if (!console.alive) {
          this.log.info({ console: console.id }, 'console missed a heartbeat; terminating');
          console.closed = true;
          console.socket.terminate();
          continue;
        }
        console.alive = false;
        console.socket.ping();
      }
    }, this.deps.config.wsHeartbeatMs);
    this.heartbeat.unref();
  }

  /** Authenticates an upgrade request; throws CueroomError (the route answers with its HTTP status). */
  async authenticate(request: FastifyRequest): Promise<ConsoleClaims> {
    const origin = request.headers.origin;
    // Browsers always send Origin; other clients (bots, tests) authenticate by token alone.
    if (origin !== undefined && !this.deps.config.allowedOrigins.includes(origin)) {
      throw new CueroomError(ErrorCode.Forbidden, `Origin ${origin} is not allowed; add it to ALLOWED_ORIGINS.`);
    }
    if (this.draining) throw new CueroomError(ErrorCode.Unavailable, 'The server is restarting; reconnect shortly.');
    const query = request.query as Record<string, string | undefined>;
    if (!query.token) throw new CueroomError(ErrorCode.Unauthorized, 'Connect with ?token=<invite token>.');
    const claims = await this.deps.tokens.verify(query.token);
    const role = crewRoleSchema.safeParse(claims.role);
    if (!role.success) {
      throw new CueroomError(ErrorCode.Forbidden, `A ${claims.role} token cannot open a console; use an invite for a crew role.`);
    }
    let since: number | null = null;
    if (query.since !== undefined) {
      since = Number(query.since);
      if (!Number.isSafeInteger(since) || since < 0) {
        throw CueroomError.invalid('`since` must be the last seq seen, a whole number ≥ 0.');
      }
    }
    const state = await this.deps.store.load(claims.sid);
    if (!state) throw new CueroomError(ErrorCode.NotFound, `There is no session ${claims.sid}.`);
    return { sessionId: claims.sid, role: role.data, personId: claims.sub, name: claims.name, since };
  }

  /** Runs synchronously up to the first await: message handlers are attached before anything else. */
  accept(socket: WebSocket, claims: ConsoleClaims): void {
    const console = new ConsoleConnection(
      socket,
      randomUUID(),
      claims.sessionId,
      claims.role,
      claims.personId,
      claims.name,
      { maxBufferedBytes: this.deps.config.wsMaxBufferedBytes, maxQueuedEvents: this.deps.config.wsMaxQueue },
      () => this.deps.metrics.slowConsoles.inc(),
    );
    const actor: Actor = { id: claims.personId, name: claims.name, role: claims.role };
    const limiter = new RateLimiter(this.deps.config.wsRateLimit, RATE_WINDOW_MS);
    let invalid = 0;

    const refuse = (error: CueroomError, id?: string) => {
      invalid++;
      console.send({ type: 'error', ...(id ? { id } : {}), ...toErrorBody(error) });
      if (invalid > this.deps.config.wsMaxInvalid) console.close(CloseCode.PolicyViolation, 'too many invalid frames');
    };

    socket.on('message', (data: RawData, isBinary: boolean) => {
      let message: unknown;
      try {
        message = JSON.parse(isBinary ? Buffer.from(data as Buffer).toString('utf8') : data.toString());
      } catch {
        refuse(CueroomError.invalid('The frame is not JSON; send {"type":"command","id":…,"command":{…}}.'));
        return;
      }
      if (!limiter.take()) {
        // Parsed first so the refusal names the command: the console retries that id later.
        refuse(new CueroomError(ErrorCode.RateLimited, 'Too many messages; slow down and retry with the same command id.'), idOf(message));
        return;
      }
      const envelope = clientMessageSchema.safeParse(message);
      if (!envelope.success) {
        const id = idOf(message);
        // A command whose envelope is fine but whose body is not goes to the service,
        // which refuses it with the zod details and audits the refusal.
        if (isObject(message) && message.type === 'command' && id !== undefined) {
          this.runCommand(console, actor, id, message.command);
          return;
        }
        const unknownType = isObject(message) && message.type !== 'command' && message.type !== 'resume';
        refuse(
          unknownType
            ? CueroomError.invalid(`Unknown message type ${JSON.stringify((message as { type?: unknown }).type)}; use "command" or "resume".`)
            : CueroomError.invalid('The message is not valid.', envelope.error.issues),
          id,
        );
        return;
      }
      const msg = envelope.data;
      if (msg.type === 'command') this.runCommand(console, actor, msg.id, msg.command);
      else this.resync(console, msg.seq);
    });
    socket.on('pong', () => {
      console.alive = true;
    });
    socket.on('error', (error) => this.log.warn({ err: error, console: console.id }, 'console socket error'));
    socket.on('close', () => this.detach(console));

    this.consoles.add(console);
    this.deps.metrics.connections.inc({ role: console.role });
    console.send({
      type: 'welcome',
      sessionId: console.sessionId,
      role: console.role,
      personId: console.personId,
      name: console.name,
      connectionId: console.id,
      heartbeatMs: this.deps.config.wsHeartbeatMs,
    });
    this.resync(console, claims.since);
    this.deps.commands
      .executeSystem(console.sessionId, `presence:open:${console.id}`, {
        kind: 'presence.open',
        personId: console.personId,
        name: console.name,
        role: console.role,
        consoleId: console.id,
      })
      .catch((error: unknown) => this.log.warn({ err: error }, 'could not record presence'));
  }

  /** Closes every console with the "server restarting" code and records them as gone. */
  async drain(): Promise<void> {
    this.draining = true;
    if (this.heartbeat) clearInterval(this.heartbeat);
    const closing = [...this.consoles];
    for (const console of closing) console.close(CloseCode.ServerRestarting, 'server restarting');
    // Also the leaves of consoles that closed just before: a stale presence entry would
    // show someone on a console after the restart.
    await Promise.allSettled([...closing.map((console) => this.recordLeave(console)), ...this.leaving]);
    // A console that does not finish the close handshake (stalled, or gone) is cut off,
    // so shutdown never waits on a peer.
    await Promise.race([
      Promise.all(closing.map((console) => closedPromise(console.socket))),
      new Promise((resolve) => setTimeout(resolve, CLOSE_HANDSHAKE_MS).unref()),
    ]);
    for (const console of closing) if (console.socket.readyState !== console.socket.CLOSED) console.socket.terminate();
    for (const hub of this.hubs.values()) hub.stop();
    this.hubs.clear();
  }

  get isDraining(): boolean {
    return this.draining;
  }

  private resync(console: ConsoleConnection, since: number | null): void {
    const hub = this.hubFor(console.sessionId);
    hub
      .start()
      .then(() => hub.sync(console, since))
      .catch((error: unknown) => {
        this.log.error({ err: error, console: console.id }, 'could not bring a console up to date');
        console.close(CloseCode.ServerRestarting, 'could not load the session; reconnect');
      });
  }

  private runCommand(console: ConsoleConnection, actor: Actor, id: string, command: unknown): void {
    this.deps.commands
      .execute(console.sessionId, id, command, actor)
      .then(({ result, kind, duplicate }) => {
        this.deps.metrics.commands.inc({ kind, outcome: result.ok ? (duplicate ? 'duplicate' : 'ok') : result.error.code });
        const reply: ServerMessage = result.ok
          ? { type: 'ack', id, seq: result.seq, lastSeq: result.lastSeq }
          : { type: 'error', id, ...result.error };
        console.send(reply);
      })
      .catch((error: unknown) => {
        this.log.error({ err: error, commandId: id }, 'command failed');
        const body =
          error instanceof CueroomError
            ? toErrorBody(error)
            : toErrorBody(new CueroomError(ErrorCode.Unavailable, 'The server could not reach its store; retry with the same command id.'));
        this.deps.metrics.commands.inc({ kind: 'unknown', outcome: body.code });
        console.send({ type: 'error', id, ...body });
      });
  }

  private hubFor(sessionId: string): SessionHub {
    let hub = this.hubs.get(sessionId);
    if (!hub) {
      hub = new SessionHub(sessionId, this.deps.store, this.deps.feed, { flushIntervalMs: this.deps.config.flushIntervalMs, healthIntervalMs: this.deps.config.healthFanoutMs }, this.deps.metrics);
      this.hubs.set(sessionId, hub);
    }
    return hub;
  }

  private detach(console: ConsoleConnection): void {
    if (!this.consoles.delete(console)) return;
    console.closed = true;
    this.deps.metrics.connections.dec({ role: console.role });
    const hub = this.hubs.get(console.sessionId);
    if (hub) {
      hub.remove(console);
      if (hub.consoles.size === 0) {
        hub.stop();
        this.hubs.delete(console.sessionId);
      }
    }
    if (!this.draining) void this.recordLeave(console);
  }

  /** Records the console as gone; drain waits for every such record still in flight. */
  private recordLeave(console: ConsoleConnection): Promise<unknown> {
    const leave = this.deps.commands
      .executeSystem(console.sessionId, `presence:close:${console.id}`, {
        kind: 'presence.close',
        personId: console.personId,
        consoleId: console.id,
      })
      .catch((error: unknown) => this.log.warn({ err: error }, 'could not record a console leaving'));
    this.leaving.add(leave);
    void leave.finally(() => this.leaving.delete(leave));
    return leave;
  }
}

/** Fixed-window counter: `limit` messages per `windowMs` per connection. */
class RateLimiter {
  private windowStart = Date.now();
  private count = 0;
  constructor(
    private readonly limit: number,
    private readonly windowMs: number,
  ) {}
  take(): boolean {
    const now = Date.now();
    if (now - this.windowStart >= this.windowMs) {
      this.windowStart = now;
      this.count = 0;
    }
    return ++this.count <= this.limit;
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null;
}

function idOf(message: unknown): string | undefined {
  return isObject(message) && typeof message.id === 'string' && message.id.length <= 64 ? message.id : undefined;
}

/** The WebSocket endpoint as a named Fastify plugin. */
export const gatewayPlugin = fp(
  async (app: FastifyInstance, deps: GatewayDeps) => {
    const gateway = new Gateway(deps, app.log);
    app.decorate('gateway', gateway);
    app.decorateRequest('consoleClaims', null);
    app.decorateRequest('upgradeResponse', null);
    await app.register(websocket, {
      options: { maxPayload: MAX_FRAME_BYTES, perMessageDeflate: false },
    });
    gateway.startHeartbeat();
    app.get(
      WS_PATH,
      {
        websocket: true,
        preValidation: async (request, reply) => {
          request.upgradeResponse = reply.raw;
          try {
            request.consoleClaims = await gateway.authenticate(request);
          } catch (error) {
            const body = toErrorBody(error);
            if (!(error instanceof CueroomError)) request.log.error({ err: error }, 'upgrade failed');
            const status = isExpiredTokenError(error) ? 401 : HTTP_STATUS[body.code];
            return reply.code(status).send(body);
          }
        },
      },
      (socket, request) => {
        const upgradeListeners = socket.listeners('error') as ((error: Error) => void)[];
        gateway.accept(socket, request.consoleClaims!);
        releaseUpgrade(socket, upgradeListeners, request);
      },
    );
  },
  { name: 'cueroom-gateway' },
);

/**
 * Lets go of the upgrade's HTTP objects once a console is accepted. @fastify/websocket's
 * 'error' listener closes over the request and the reply, and the raw response it made for
 * the upgrade stays assigned to the TCP socket: either kept the request, its headers and
 * both responses alive for the life of the console, ~3 KB of heap each (a quarter of an
 * idle console). The gateway's own listener, attached by `accept`, handles socket errors.
 */
function releaseUpgrade(socket: WebSocket, upgradeListeners: ((error: Error) => void)[], request: FastifyRequest): void {
  for (const listener of upgradeListeners) socket.off('error', listener);
  const response = request.upgradeResponse;
  request.upgradeResponse = null;
  if (response?.socket) response.detachSocket(response.socket);
}

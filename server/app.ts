import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import {
  hasZodFastifySchemaValidationErrors,
  jsonSchemaTransform,
  serializerCompiler,
  validatorCompiler,
} from 'fastify-type-provider-zod';
import { ErrorCode } from '../shared/errors.js';
import { MAX_FRAME_BYTES } from '../shared/protocol.js';
import type { AuditLog } from './audit/audit-log.js';
import { CommandService } from './command-service.js';
import type { Config } from './config.js';
import { CueroomError, HTTP_STATUS, toErrorBody } from './errors.js';
import { gatewayPlugin } from './gateway/ws-gateway.js';
import { HealthMonitor } from './health/health-monitor.js';
import { consolePage } from './http/console-page.js';
import { restRoutes } from './http/routes.js';
import { reviewRoutes } from './http/review-routes.js';
import { Metrics } from './metrics.js';
import type { EventFeed, SessionStore } from './store/session-store.js';
import { TokenService } from './tokens.js';

/** The configuration with its generated parts filled in (secrets, public URL) by main.ts or a test. */
export type AppConfig = Omit<Config, 'adminToken' | 'tokenSecret' | 'publicUrl'> & {
  adminToken: string;
  tokenSecret: string;
  publicUrl: string;
};

export interface AppDeps {
  config: AppConfig;
  store: SessionStore;
  feed: EventFeed;
  audit: AuditLog;
  /** Audit records accepted but not yet in the audit database (for /metrics). */
  auditBacklog: () => number | Promise<number>;
  /** Answers when every backend does (for /readyz); throws otherwise. */
  ping: () => Promise<void>;
  logger: FastifyBaseLogger | false;
  clock?: () => number;
}

declare module 'fastify' {
  interface FastifyInstance {
    deps: AppDeps;
    commands: CommandService;
    tokens: TokenService;
    metrics: Metrics;
    health: HealthMonitor;
  }
}

/**
 * Builds the Fastify app from its dependencies; never listens (main.ts does, tests use
 * port 0) and never creates clients (they are injected, and closed by their owner).
 */
export async function buildApp(deps: AppDeps): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: deps.logger || undefined,
    logger: deps.logger ? undefined : false,
    bodyLimit: MAX_FRAME_BYTES * 16,
  });
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);

  const commands = new CommandService(deps.store, deps.clock);
  // This instance's consoles see what it applied without waiting for the store's read.
  if (deps.feed.publish) commands.onApplied((sessionId, events) => deps.feed.publish!(sessionId, events));
  const tokens = new TokenService(deps.config.tokenSecret, deps.config.tokenTtlSeconds);
  const metrics = new Metrics(deps.auditBacklog);
  app.decorate('deps', deps);
  app.decorate('commands', commands);
  app.decorate('tokens', tokens);
  app.decorate('metrics', metrics);
  const health = new HealthMonitor(commands, deps.store, {
    clock: deps.clock,
    onError: (error, action) =>
      app.log.warn({ err: error, sessionId: action.sessionId, rule: action.rule }, 'health rule action failed'),
  });
  health.start();
  app.decorate('health', health);
  app.addHook('onReady', async () => health.armLive());
  app.addHook('onClose', async () => health.stop());

  app.setErrorHandler((error, request, reply) => {
    if (hasZodFastifySchemaValidationErrors(error)) {
      const details = error.validation.map((issue) => ({
        path: issue.instancePath.split('/').filter(Boolean),
        message: issue.message ?? 'invalid',
      }));
      const where = details[0] ? `${details[0].path.join('.') || 'body'}: ${details[0].message}` : '';
      return reply.code(400).send({ code: ErrorCode.InvalidCommand, message: `The request is not valid: ${where}.`, details });
    }
    if (error instanceof CueroomError) return reply.code(HTTP_STATUS[error.code]).send(toErrorBody(error));
    const status = (error as { statusCode?: number }).statusCode;
    if (status === 413) {
      return reply.code(413).send({ code: ErrorCode.PayloadTooLarge, message: 'The request body is too large.' });
    }
    if (status && status >= 400 && status < 500) {
      return reply.code(status).send({ code: ErrorCode.InvalidCommand, message: (error as Error).message });
    }
    request.log.error({ err: error }, 'request failed');
    return reply.code(500).send(toErrorBody(error));
  });

  await app.register(swagger, {
    openapi: {
      info: {
        title: 'Cueroom',
        description:
          'The control room of a live broadcast. The WebSocket protocol of the consoles is described in docs/asyncapi.yaml.',
        version: '0.1.0',
      },
      components: {
        securitySchemes: {
          bearer: { type: 'http', scheme: 'bearer', description: 'The admin token, or an invite token of a session' },
        },
      },
      security: [{ bearer: [] }],
    },
    transform: jsonSchemaTransform,
  });
  await app.register(swaggerUi, { routePrefix: '/documentation' });
  await app.register(gatewayPlugin, {
    config: deps.config,
    store: deps.store,
    feed: deps.feed,
    commands,
    tokens,
    metrics,
  });
  await app.register(restRoutes);
  await app.register(reviewRoutes);
  await app.register(consolePage);
  return app;
}

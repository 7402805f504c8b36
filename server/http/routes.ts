import { randomUUID, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { projectState } from '../../shared/audience.js';
import { commandIdSchema } from '../../shared/commands.js';
import { ErrorCode } from '../../shared/errors.js';
import { healthSampleSchema, idSchema } from '../../shared/model.js';
import { errorBodySchema, type TokenClaims } from '../../shared/protocol.js';
import { roleSchema, type Actor, type Role } from '../../shared/roles.js';
import { CueroomError, HTTP_STATUS } from '../errors.js';
import { auditFilterQuery, toAuditFilter } from './audit-filters.js';
import type { CommandResult } from '../store/session-store.js';

type Caller = { admin: true } | { admin: false; claims: TokenClaims };

const sessionParams = z.object({ id: idSchema });
const errorResponses = { 400: errorBodySchema, 401: errorBodySchema, 403: errorBodySchema, 404: errorBodySchema };
const resultSchema = z.union([
  z.object({ ok: z.literal(true), seq: z.number().int(), lastSeq: z.number().int(), duplicate: z.boolean() }),
  z.object({ ok: z.literal(false), duplicate: z.boolean(), error: errorBodySchema }),
]);
const commandReply = z.union([resultSchema, errorBodySchema]);

/** The REST API: what integrations need, with the same command semantics as the WebSocket. */
export const restRoutes = fp(
  async (root: FastifyInstance) => {
    const app = root.withTypeProvider<ZodTypeProvider>();
    const { config } = root.deps;
    const adminToken = Buffer.from(config.adminToken);

    async function caller(request: FastifyRequest): Promise<Caller> {
      const header = request.headers.authorization;
      const token = header?.startsWith('Bearer ') ? header.slice(7).trim() : undefined;
      if (!token) throw new CueroomError(ErrorCode.Unauthorized, 'Send `Authorization: Bearer <token>` (the admin token or an invite token).');
      const given = Buffer.from(token);
      if (given.length === adminToken.length && timingSafeEqual(given, adminToken)) return { admin: true };
      return { admin: false, claims: await root.tokens.verify(token) };
    }

    async function requireAdmin(request: FastifyRequest): Promise<void> {
      const who = await caller(request);
      if (!who.admin) throw new CueroomError(ErrorCode.Forbidden, 'This needs the admin token.');
    }

    /** An invite token of this session with one of `roles`, or the admin token when `admin` is allowed. */
    async function requireSession(
      request: FastifyRequest,
      sessionId: string,
      roles: readonly Role[] | 'any',
      allowAdmin = true,
    ): Promise<Caller> {
      const who = await caller(request);
      if (who.admin) {
        if (!allowAdmin) throw new CueroomError(ErrorCode.Forbidden, 'Use an invite token of the session, not the admin token.');
        return who;
      }
      if (who.claims.sid !== sessionId) throw new CueroomError(ErrorCode.Forbidden, `This token is for session ${who.claims.sid}, not ${sessionId}.`);
      if (roles !== 'any' && !roles.includes(who.claims.role)) {
        throw new CueroomError(ErrorCode.Forbidden, `The ${who.claims.role} role cannot do this; it needs ${roles.join(' or ')}.`);
      }
      return who;
    }

    const actorOf = (claims: TokenClaims): Actor => ({ id: claims.sub, name: claims.name, role: claims.role });

    function answer(result: CommandResult, duplicate: boolean) {
      return result.ok
        ? { status: 200, body: { ok: true as const, seq: result.seq, lastSeq: result.lastSeq, duplicate } }
        : { status: HTTP_STATUS[result.error.code], body: { ok: false as const, duplicate, error: result.error } };
    }

    async function run(sessionId: string, commandId: string, command: unknown, actor: Actor) {
      const outcome = await root.commands.execute(sessionId, commandId, command, actor);
      root.metrics.commands.inc({
        kind: outcome.kind,
        outcome: outcome.result.ok ? (outcome.duplicate ? 'duplicate' : 'ok') : outcome.result.error.code,
      });
      return outcome;
    }

    app.get('/healthz', { schema: { tags: ['ops'], response: { 200: z.object({ status: z.literal('ok') }) } } }, async () => ({
      status: 'ok' as const,
    }));

    app.get(
      '/readyz',
      { schema: { tags: ['ops'], response: { 200: z.object({ status: z.literal('ready') }), 503: errorBodySchema } } },
      async (_request, reply) => {
        if (root.gateway.isDraining) {
          return reply.code(503).send({ code: ErrorCode.Unavailable, message: 'The server is shutting down.' });
        }
        try {
          await root.deps.ping();
        } catch (error) {
          root.log.warn({ err: error }, 'readiness check failed');
          return reply.code(503).send({ code: ErrorCode.Unavailable, message: 'A backend (Redis or Postgres) is not answering.' });
        }
        return { status: 'ready' as const };
      },
    );

    app.get('/metrics', { schema: { tags: ['ops'] } }, async (_request, reply) => {
      reply.header('content-type', root.metrics.registry.contentType);
      return root.metrics.registry.metrics();
    });

    app.post(
      '/v1/sessions',
      {
        schema: {
          tags: ['sessions'],
          summary: 'Create a session (admin)',
          body: z.object({
            id: idSchema.optional(),
            title: z.string().trim().min(1).max(200),
            scheduledFor: z.number().int().nonnegative().nullable().optional(),
            checklist: z.array(z.object({ id: idSchema, label: z.string().min(1).max(200) })).max(50).optional(),
          }),
          response: { 201: z.object({ id: z.string(), seq: z.number(), status: z.string(), title: z.string() }), ...errorResponses, 409: errorBodySchema },
        },
      },
      async (request, reply) => {
        await requireAdmin(request);
        const { id, ...rest } = request.body;
        const state = await root.commands.createSession({ ...rest, sessionId: id }, ADMIN_ACTOR);
        return reply.code(201).send({ id: state.id, seq: state.seq, status: state.status, title: state.title });
      },
    );

    app.get(
      '/v1/sessions',
      {
        schema: {
          tags: ['sessions'],
          summary: 'List sessions (admin)',
          response: {
            200: z.object({
              sessions: z.array(
                z.object({ id: z.string(), title: z.string(), status: z.string(), createdAt: z.number(), seq: z.number() }),
              ),
            }),
            ...errorResponses,
          },
        },
      },
      async (request) => {
        await requireAdmin(request);
        return { sessions: await root.deps.store.list() };
      },
    );

    app.get(
      '/v1/sessions/:id',
      {
        schema: {
          tags: ['sessions'],
          summary: 'Read a session: the whole state for the admin token, the role-filtered state for an invite token',
          params: sessionParams,
        },
      },
      async (request) => {
        const who = await requireSession(request, request.params.id, 'any');
        const state = await root.deps.store.load(request.params.id);
        if (!state) throw new CueroomError(ErrorCode.NotFound, `There is no session ${request.params.id}.`);
        return { seq: state.seq, state: who.admin ? state : projectState(state, who.claims.role) };
      },
    );

    app.post(
      '/v1/sessions/:id/invites',
      {
        schema: {
          tags: ['sessions'],
          summary: 'Issue an invite token for one role and person (admin or ops)',
          params: sessionParams,
          body: z.object({
            role: roleSchema,
            name: z.string().trim().min(1).max(128),
            personId: z.string().trim().min(1).max(128).optional(),
            ttlSeconds: z.number().int().min(60).max(30 * 24 * 3600).optional(),
          }),
          response: {
            201: z.object({ token: z.string(), url: z.string(), role: roleSchema, personId: z.string(), expiresAt: z.number() }),
            ...errorResponses,
          },
        },
      },
      async (request, reply) => {
        await requireSession(request, request.params.id, ['ops']);
        const state = await root.deps.store.load(request.params.id);
        if (!state) throw new CueroomError(ErrorCode.NotFound, `There is no session ${request.params.id}.`);
        const personId = request.body.personId ?? `p-${randomUUID().slice(0, 8)}`;
        const { token, expiresAt } = await root.tokens.issue(
          { sid: state.id, role: request.body.role, sub: personId, name: request.body.name },
          request.body.ttlSeconds,
        );
        const url = `${config.publicUrl}/?session=${encodeURIComponent(state.id)}#token=${token}`;
        return reply.code(201).send({ token, url, role: request.body.role, personId, expiresAt });
      },
    );

    app.post(
      '/v1/sessions/:id/commands',
      {
        schema: {
          tags: ['commands'],
          summary: 'Run a command, with the same semantics and idempotency as over the WebSocket',
          description: 'The `id` is the idempotency key: the same id is applied once and answered the same every time.',
          params: sessionParams,
          body: z.object({ id: commandIdSchema, command: z.unknown() }),
          // A refused command answers with its result; a request refused before it (auth, a
          // malformed body) answers with a plain error body.
          response: {
            200: resultSchema,
            400: commandReply,
            401: commandReply,
            403: commandReply,
            404: commandReply,
            409: commandReply,
            429: commandReply,
            503: commandReply,
          },
        },
      },
      async (request, reply) => {
        const who = await requireSession(request, request.params.id, 'any', false);
        if (who.admin) throw new Error('unreachable');
        const { result, duplicate } = await run(request.params.id, request.body.id, request.body.command, actorOf(who.claims));
        const { status, body } = answer(result, duplicate);
        return reply.code(status as 200).send(body);
      },
    );

    app.post(
      '/v1/sessions/:id/ingest/questions',
      {
        schema: {
          tags: ['ingest'],
          summary: 'Post viewer questions from chat (ingest token); deduplicated by (source, externalId)',
          params: sessionParams,
          body: z.object({
            questions: z
              .array(
                z.object({
                  text: z.string(),
                  author: z.string(),
                  source: z.string().trim().min(1).max(64).default('chat'),
                  externalId: z.string().trim().min(1).max(128).optional(),
                }),
              )
              .min(1)
              .max(500),
          }),
          response: { 200: z.object({ results: z.array(resultSchema) }), ...errorResponses },
        },
      },
      async (request) => {
        const who = await requireSession(request, request.params.id, ['ingest', 'cohost', 'ops'], false);
        if (who.admin) throw new Error('unreachable');
        const actor = actorOf(who.claims);
        const results = [];
        // One at a time: arrival order is the order the chat saw.
        for (const question of request.body.questions) {
          const commandId = question.externalId
            ? `ingest:${question.source}:${question.externalId}`.slice(0, 64)
            : `ingest:${randomUUID()}`;
          const { result, duplicate } = await run(request.params.id, commandId, { kind: 'question.submit', ...question }, actor);
          results.push(answer(result, duplicate).body);
        }
        return { results };
      },
    );

    app.post(
      '/v1/sessions/:id/ingest/health',
      {
        schema: {
          tags: ['ingest'],
          summary: 'Post stream-health samples (ingest or tech token)',
          params: sessionParams,
          body: z.object({ samples: z.array(healthSampleSchema).min(1).max(100) }),
          response: { 200: z.object({ results: z.array(resultSchema) }), ...errorResponses },
        },
      },
      async (request) => {
        const who = await requireSession(request, request.params.id, ['ingest', 'tech'], false);
        if (who.admin) throw new Error('unreachable');
        const actor = actorOf(who.claims);
        const results = [];
        for (const sample of request.body.samples) {
          const { result, duplicate } = await run(request.params.id, `health:${randomUUID()}`, { kind: 'health.sample', sample }, actor);
          results.push(answer(result, duplicate).body);
        }
        return { results };
      },
    );

    app.get(
      '/v1/sessions/:id/audit',
      {
        schema: {
          tags: ['audit'],
          summary: 'Read the audit log of a session, paged by `after` (admin, ops or observer)',
          description: 'Filters: entryType, kind, actor (id), role, from, to (epoch ms or ISO 8601; from inclusive, to exclusive).',
          params: sessionParams,
          querystring: z.object({
            after: z.coerce.number().int().nonnegative().optional(),
            limit: z.coerce.number().int().min(1).max(1000).default(100),
            ...auditFilterQuery,
          }),
        },
      },
      async (request) => {
        await requireSession(request, request.params.id, ['ops', 'observer']);
        const { after, limit, ...filter } = request.query;
        const rows = await root.deps.audit.read(request.params.id, { afterId: after, limit, ...toAuditFilter(filter) });
        const last = rows.at(-1);
        return { rows, next: rows.length === limit && last ? last.id : null };
      },
    );
  },
  { name: 'cueroom-rest', dependencies: ['cueroom-gateway'] },
);

export const ADMIN_ACTOR: Actor = { id: 'admin', name: 'Admin', role: 'ops' };

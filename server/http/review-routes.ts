import { timingSafeEqual } from 'node:crypto';
import { Readable } from 'node:stream';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { projectState } from '../../shared/audience.js';
import { ErrorCode } from '../../shared/errors.js';
import type { SessionEvent } from '../../shared/events.js';
import { idSchema } from '../../shared/model.js';
import { errorBodySchema, type TokenClaims } from '../../shared/protocol.js';
import type { Role } from '../../shared/roles.js';
import {
  AUDIT_CSV_COLUMNS,
  isAuditArchive,
  type AuditArchive,
  type AuditExportFormat,
  type AuditFilter,
} from '../audit/audit-log.js';
import { auditFilterQuery, toAuditFilter } from './audit-filters.js';
import { CueroomError } from '../errors.js';
import { reviewBuilder, reviewToCsv } from '../review/review.js';
import { parsePointInTime, stateAt } from '../review/state-at.js';

type Caller = { admin: true } | { admin: false; claims: TokenClaims };

const sessionParams = z.object({ id: idSchema });
const errorResponses = { 400: errorBodySchema, 401: errorBodySchema, 403: errorBodySchema, 404: errorBodySchema };
/** Roles that may read a session's audit log and its review, besides the admin token. */
const REVIEWERS: readonly Role[] = ['ops', 'observer'];

/**
 * The export as chunks of whole lines the database rendered (strings, or on Postgres the
 * bytes as they came); CSV with its header first.
 */
async function* exportChunks(
  audit: AuditArchive,
  filter: AuditFilter,
  format: AuditExportFormat,
): AsyncIterable<string | Buffer> {
  if (format === 'csv') yield AUDIT_CSV_COLUMNS.join(',') + '\r\n';
  yield* audit.exportText(filter, format);
}

const verifySchema = z.union([
  z.object({ intact: z.literal(true), rows: z.number(), lastSeq: z.number(), headHash: z.string().nullable() }),
  z.object({
    intact: z.literal(false),
    rows: z.number(),
    firstBrokenId: z.number().nullable(),
    firstBrokenSeq: z.number().nullable(),
    reason: z.enum(['missing_hash', 'content_altered', 'chain_broken', 'events_missing']),
    message: z.string(),
  }),
]);

/**
 * After the broadcast: the audit log's tamper check, the session as of any moment, the
 * review. Everything here is read from the permanent log (Postgres or PGlite), plus, on
 * Redis, the few events the audit shipper has not landed yet.
 */
export const reviewRoutes = fp(
  async (root: FastifyInstance) => {
    const app = root.withTypeProvider<ZodTypeProvider>();
    const adminToken = Buffer.from(root.deps.config.adminToken);

    // The same rules as server/http/routes.ts (admin token, or an invite token of the
    // session with one of the roles), kept apart so the review can change on its own.
    async function requireSession(
      request: FastifyRequest,
      sessionId: string,
      roles: readonly Role[] | 'any',
    ): Promise<Caller> {
      const header = request.headers.authorization;
      const token = header?.startsWith('Bearer ') ? header.slice(7).trim() : undefined;
      if (!token)
        throw new CueroomError(
          ErrorCode.Unauthorized,
          'Send `Authorization: Bearer <token>` (the admin token or an invite token).',
        );
      const given = Buffer.from(token);
      if (given.length === adminToken.length && timingSafeEqual(given, adminToken)) return { admin: true };
      const claims = await root.tokens.verify(token);
      if (claims.sid !== sessionId)
        throw new CueroomError(ErrorCode.Forbidden, `This token is for session ${claims.sid}, not ${sessionId}.`);
      if (roles !== 'any' && !roles.includes(claims.role)) {
        throw new CueroomError(
          ErrorCode.Forbidden,
          `The ${claims.role} role cannot do this; it needs ${roles.join(' or ')}.`,
        );
      }
      return { admin: false, claims };
    }

    async function requireAdmin(request: FastifyRequest): Promise<void> {
      const header = request.headers.authorization;
      const token = header?.startsWith('Bearer ') ? header.slice(7).trim() : undefined;
      if (!token) throw new CueroomError(ErrorCode.Unauthorized, 'Send `Authorization: Bearer <admin token>`.');
      const given = Buffer.from(token);
      if (given.length !== adminToken.length || !timingSafeEqual(given, adminToken)) {
        throw new CueroomError(ErrorCode.Forbidden, 'This needs the admin token.');
      }
    }

    /**
     * Every event of the session in seq order, in pages: the audit log, then whatever the
     * store still holds past it (on Redis the log lags by up to a shipping batch).
     */
    async function* sessionEventPages(sessionId: string): AsyncIterable<readonly SessionEvent[]> {
      let last = 0;
      for await (const page of root.deps.audit.eventPages(sessionId)) {
        last = page.at(-1)?.seq ?? last;
        yield page;
      }
      const tail = (await root.deps.store.readSince(sessionId, last))?.filter((event) => event.seq > last);
      if (tail?.length) yield tail;
    }

    /** The same, one event at a time. */
    async function* sessionEvents(sessionId: string): AsyncIterable<SessionEvent> {
      for await (const page of sessionEventPages(sessionId)) yield* page;
    }

    app.get(
      '/v1/sessions/:id/audit/verify',
      {
        schema: {
          tags: ['audit'],
          summary: "Check the session's audit hash chain (admin, ops or observer)",
          description:
            'Walks the rows in insertion order and names the first one that was changed (`content_altered`), that does not follow its predecessor (`chain_broken`: a row removed, inserted or moved) or has no hash, or the first missing event seq. Keep `headHash` to notice rows cut off the end later.',
          params: sessionParams,
          response: { 200: verifySchema, ...errorResponses, 501: errorBodySchema },
        },
      },
      async (request, reply) => {
        await requireSession(request, request.params.id, REVIEWERS);
        const audit = root.deps.audit;
        if (!isAuditArchive(audit)) {
          return reply.code(501).send({ code: ErrorCode.Internal, message: 'This audit log cannot be verified.' });
        }
        return audit.verify(request.params.id);
      },
    );

    app.get(
      '/v1/sessions/:id/state',
      {
        schema: {
          tags: ['sessions'],
          summary: 'The session as it was at a moment, folded from the audit log; role-filtered for invite tokens',
          params: sessionParams,
          querystring: z.object({
            at: z.string().min(1).max(64).describe('`seq:N` (after event N), epoch milliseconds, or an ISO 8601 time'),
          }),
        },
      },
      async (request) => {
        const who = await requireSession(request, request.params.id, 'any');
        const point = parsePointInTime(request.query.at);
        if (!point) {
          throw new CueroomError(
            ErrorCode.InvalidCommand,
            '`at` must be `seq:N`, epoch milliseconds or an ISO 8601 time.',
          );
        }
        const state = await stateAt(sessionEvents(request.params.id), point, request.params.id);
        if (!state)
          throw new CueroomError(
            ErrorCode.NotFound,
            `Session ${request.params.id} has no event at or before ${request.query.at}.`,
          );
        return { seq: state.seq, state: who.admin ? state : projectState(state, who.claims.role) };
      },
    );

    app.get(
      '/v1/sessions/:id/review',
      {
        schema: {
          tags: ['review'],
          summary:
            'The post-live review, computed from the audit log (admin, ops or observer); `format=csv` for spreadsheets',
          description:
            'Timeline; incidents with time to acknowledge and resolve per severity (median, p90, max; nearest rank) and who handled them; questions received, flagged, answered, dismissed, time to answer and the flagged ones left unanswered; time on screen, price and stock changes and sold-outs per product; health percentiles and outages (no sample for over 10 s, or 0 kbps); cues with time to acknowledge; crew presence. The CSV has one figure per row: section,key,field,value.',
          params: sessionParams,
          querystring: z.object({ format: z.enum(['json', 'csv']).default('json') }),
        },
      },
      async (request, reply) => {
        await requireSession(request, request.params.id, REVIEWERS);
        // Folded as the events are read: a long session's events are never all held at once.
        const builder = reviewBuilder();
        for await (const page of sessionEventPages(request.params.id)) for (const event of page) builder.add(event);
        const review = builder.finish();
        if (review.session.events === 0)
          throw new CueroomError(ErrorCode.NotFound, `There is no session ${request.params.id}.`);
        if (request.query.format === 'csv') {
          return reply
            .header('content-type', 'text/csv; charset=utf-8')
            .header('content-disposition', `attachment; filename="review-${request.params.id}.csv"`)
            .send(reviewToCsv(review));
        }
        return review;
      },
    );

    app.get(
      '/v1/sessions/:id/audit/export',
      {
        schema: {
          tags: ['audit'],
          summary: "Export a session's audit log as CSV or NDJSON, streamed from the database (admin, ops or observer)",
          description:
            'Filters: entryType, kind, actor (id), role, from, to (epoch ms or ISO 8601; from inclusive, to exclusive). Rows in id order, read in keyset pages, so memory stays flat however long the log. CSV columns: ' +
            AUDIT_CSV_COLUMNS.join(', ') +
            ' (payload as JSON).',
          params: sessionParams,
          querystring: z.object({ format: z.enum(['csv', 'ndjson']).default('ndjson'), ...auditFilterQuery }),
        },
      },
      async (request, reply) => {
        await requireSession(request, request.params.id, REVIEWERS);
        const audit = root.deps.audit;
        if (!isAuditArchive(audit)) throw new CueroomError(ErrorCode.Internal, 'This audit log cannot export.');
        const { format, ...query } = request.query;
        const filter = { ...toAuditFilter(query), sessionId: request.params.id };
        return reply
          .header('content-type', format === 'csv' ? 'text/csv; charset=utf-8' : 'application/x-ndjson; charset=utf-8')
          .header('content-disposition', `attachment; filename="audit-${request.params.id}.${format}"`)
          .send(Readable.from(exportChunks(audit, filter, format)));
      },
    );

    app.get(
      '/v1/audit/search',
      {
        schema: {
          tags: ['audit'],
          summary:
            'Sessions whose audit log has matching rows (admin), e.g. `kind=incident.raised&severity=sev1&from=…`',
          querystring: z.object({
            ...auditFilterQuery,
            severity: z.enum(['sev1', 'sev2', 'sev3']).optional().describe('incident rows of this severity'),
            limit: z.coerce.number().int().min(1).max(1000).default(100),
          }),
          response: {
            200: z.object({
              sessions: z.array(
                z.object({ sessionId: z.string(), rows: z.number(), firstAt: z.string(), lastAt: z.string() }),
              ),
            }),
            ...errorResponses,
          },
        },
      },
      async (request) => {
        await requireAdmin(request);
        const audit = root.deps.audit;
        if (!isAuditArchive(audit)) throw new CueroomError(ErrorCode.Internal, 'This audit log cannot search.');
        const { severity, limit, ...query } = request.query;
        const hits = await audit.searchSessions({ ...toAuditFilter(query), ...(severity ? { severity } : {}) }, limit);
        return {
          sessions: hits.map((hit) => ({
            ...hit,
            firstAt: hit.firstAt.toISOString(),
            lastAt: hit.lastAt.toISOString(),
          })),
        };
      },
    );
  },
  { name: 'cueroom-review', dependencies: ['cueroom-rest'] },
);

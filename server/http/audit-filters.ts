import { z } from 'zod';
import type { AuditFilter, AuditRow } from '../audit/audit-log.js';
import { parsePointInTime } from '../review/state-at.js';

/** A time in a query: epoch milliseconds or ISO 8601. */
export const timeParam = z
  .string()
  .max(64)
  .transform((text, ctx) => {
    const point = parsePointInTime(text);
    if (!point || !('at' in point)) {
      ctx.addIssue({ code: 'custom', message: 'use epoch milliseconds or an ISO 8601 time' });
      return z.NEVER;
    }
    return new Date(point.at);
  });
/** Query fields filtering the audit log: the paged read, the export and the search. */
export const auditFilterQuery = {
  entryType: z.enum(['event', 'command', 'refused']).optional(),
  kind: z.string().max(64).optional(),
  actor: z.string().max(128).optional().describe('actor id'),
  role: z.string().max(32).optional().describe('actor role'),
  from: timeParam.optional().describe('rows at or after this time (epoch ms or ISO 8601)'),
  to: timeParam.optional().describe('rows before this time'),
};
export type AuditFilterQuery = {
  entryType?: AuditRow['entryType'];
  kind?: string;
  actor?: string;
  role?: string;
  from?: Date;
  to?: Date;
};

/** The query fields as an AuditFilter (absent fields left out). */
export function toAuditFilter(query: AuditFilterQuery): AuditFilter {
  const filter: AuditFilter = {};
  if (query.entryType !== undefined) filter.entryType = query.entryType;
  if (query.kind !== undefined) filter.kind = query.kind;
  if (query.actor !== undefined) filter.actorId = query.actor;
  if (query.role !== undefined) filter.actorRole = query.role;
  if (query.from !== undefined) filter.from = query.from;
  if (query.to !== undefined) filter.to = query.to;
  return filter;
}

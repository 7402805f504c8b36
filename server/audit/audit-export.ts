import { csvCell } from '../review/review.js';

/**
 * A row of the audit export as the database sends it, every column as text: id, session
 * id, seq (null for commands), entry type, kind, at in epoch milliseconds, actor id, name
 * and role, command id, payload as jsonb renders it (for CSV, already a quoted cell), hash. Nothing is parsed on the way
 * out: the export is text in, text out.
 */
export type ExportRow = [
  id: string,
  sessionId: string,
  seq: string | null,
  entryType: string,
  kind: string,
  atMs: string,
  actorId: string,
  actorName: string,
  actorRole: string,
  commandId: string,
  payload: string,
  hash: string | null,
];

const isoAt = (ms: string) => new Date(Number(ms)).toISOString();

/**
 * One CSV line (AUDIT_CSV_COLUMNS), cells as `csvCell` writes them; the payload comes
 * already quoted, its quotes doubled, by the database (see `exportText`).
 */
export function csvExportLine(row: ExportRow): string {
  const [id, sessionId, seq, entryType, kind, atMs, actorId, actorName, actorRole, commandId, payload, hash] = row;
  return (
    `${id},${csvCell(sessionId)},${seq ?? ''},${csvCell(entryType)},${csvCell(kind)},${isoAt(atMs)}` +
    `,${csvCell(actorId)},${csvCell(actorName)},${csvCell(actorRole)},${csvCell(commandId)}` +
    `,${payload},${csvCell(hash)}\r\n`
  );
}

/**
 * One NDJSON line: the fields of an AuditRow plus `hash`, `at` in ISO 8601. The payload is
 * jsonb's own text (keys sorted, `": "` and `", "` between items), the text the chain hashed,
 * spliced in as it came: valid JSON, and no parse and re-serialisation per row.
 */
export function ndjsonExportLine(row: ExportRow): string {
  const [id, sessionId, seq, entryType, kind, atMs, actorId, actorName, actorRole, commandId, payload, hash] = row;
  const json = JSON.stringify;
  return (
    `{"id":${id},"sessionId":${json(sessionId)},"seq":${seq ?? 'null'},"entryType":${json(entryType)}` +
    `,"kind":${json(kind)},"at":"${isoAt(atMs)}","actorId":${json(actorId)},"actorName":${json(actorName)}` +
    `,"actorRole":${json(actorRole)},"commandId":${json(commandId)},"payload":${payload}` +
    `,"hash":${hash === null ? 'null' : json(hash)}}\n`
  );
}

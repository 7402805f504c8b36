import type { SessionEvent } from '../../shared/events.js';
import type { ErrorBody } from '../../shared/protocol.js';
import type { Actor } from '../../shared/roles.js';
import type { AuditRecord } from '../../server/store/session-store.js';

/** Audit records that look like the real thing, for the audit log and writer tests. */

export const opsActor: Actor = { id: 'person-ann', name: 'Ann “Ops” Ödegaard', role: 'ops' };
export const systemActor: Actor = { id: 'system', name: 'Cueroom', role: 'system' };

const BASE_AT = Date.UTC(2026, 10, 23, 18, 0, 0, 123);

/** Bodies of several kinds, with nulls, nested objects, arrays, unicode and absent optionals. */
function body(seq: number, sessionId: string): Record<string, unknown> {
  const at = BASE_AT + seq * 7;
  switch (seq % 6) {
    case 1:
      return {
        kind: 'session.created',
        sessionId,
        title: `Spring drop #${seq} — 🎥 live`,
        scheduledFor: null,
        checklist: [{ id: 'mic', label: 'Mic check', checked: false, checkedBy: null, checkedAt: null }],
      };
    case 2:
      return {
        kind: 'incident.raised',
        incident: {
          id: `inc-${seq}`,
          severity: 'sev2',
          category: 'encoder',
          title: 'Encoder dropping frames',
          detail: 'Quotes "inside", a backslash \\ and a newline\nhere',
          status: 'open',
          raisedBy: 'Ann',
          assignee: null,
          dedupeKey: 'encoder:drops',
          occurrences: 1,
          pushedToHost: false,
          raisedAt: at,
          acknowledgedAt: null,
          resolvedAt: null,
          reopenedAt: null,
          notes: [],
        },
        wasVisibleToHost: false,
      };
    case 3:
      return {
        kind: 'health.sampled',
        // rttMs, viewers and encoderCpu absent: optional fields must stay absent.
        sample: { ts: at, bitrateKbps: 4521.5, fps: 29.97, droppedFrames: 3 },
      };
    case 4:
      return {
        kind: 'question.submitted',
        question: {
          id: `q-${seq}`,
          text: 'Does it come in 日本語 sizes?',
          author: 'viewer42',
          source: 'chat',
          externalId: null,
          status: 'new',
          upvotes: 0,
          voters: [],
          pinned: false,
          priority: 0,
          productId: 'sku-1',
          submittedAt: at,
          flaggedAt: null,
          answeredAt: null,
          dismissedAt: null,
          order: seq,
        },
      };
    case 5:
      return {
        kind: 'cue.sent',
        cue: {
          id: `cue-${seq}`,
          text: 'Wrap in 30',
          to: ['host', 'cohost'],
          from: 'Ann',
          fromRole: 'ops',
          sentAt: at,
          acknowledgedBy: {},
          acknowledgedAt: null,
        },
      };
    default:
      return {
        kind: 'product.price_changed',
        product: {
          id: 'sku-1',
          name: 'Kettle',
          price: 4999,
          currency: 'EUR',
          stock: 12,
          talkingPoints: ['Boils in 90 s'],
          soldOut: false,
        },
        previousPrice: 5999,
      };
  }
}

/** Events seq fromSeq … fromSeq+count-1 of a session, as the domain would stamp them. */
export function sampleEvents(
  sessionId: string,
  fromSeq: number,
  count: number,
  commandId = `cmd-${sessionId}-${fromSeq}`,
): SessionEvent[] {
  return Array.from({ length: count }, (_, i) => {
    const seq = fromSeq + i;
    return {
      seq,
      at: BASE_AT + seq * 7,
      commandId,
      actor: seq % 5 === 0 ? systemActor : opsActor,
      ...body(seq, sessionId),
    } as SessionEvent;
  });
}

export function eventRecords(sessionId: string, events: readonly SessionEvent[]): AuditRecord[] {
  return events.map((event) => ({ type: 'event', sessionId, event }));
}

/** A command that produced the events with seq `seq`…`lastSeq`. */
export function commandRecord(sessionId: string, commandId: string, seq: number, lastSeq = seq): AuditRecord {
  return {
    type: 'command',
    sessionId,
    commandId,
    at: BASE_AT + seq * 7,
    actor: opsActor,
    command: { kind: 'session.set_target_bitrate', targetBitrateKbps: 4500 },
    result: { ok: true, seq, lastSeq },
  };
}

export function refusedRecord(sessionId: string, commandId: string, command: unknown, error?: ErrorBody): AuditRecord {
  return {
    type: 'refused',
    sessionId,
    commandId,
    at: BASE_AT,
    actor: opsActor,
    command,
    result: { ok: false, error: error ?? { code: 'forbidden', message: 'ops may not do that' } },
  };
}

/** A command with its events, the way a store hands them to the audit: command first. */
export function commandWithEvents(sessionId: string, fromSeq: number, count: number): AuditRecord[] {
  const commandId = `cmd-${sessionId}-${fromSeq}`;
  return [
    commandRecord(sessionId, commandId, fromSeq, fromSeq + count - 1),
    ...eventRecords(sessionId, sampleEvents(sessionId, fromSeq, count, commandId)),
  ];
}

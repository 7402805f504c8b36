import type { SessionEvent } from '../../shared/events.js';
import type { SessionState } from '../../shared/model.js';
import { evolve, initialState } from '../domain/index.js';

/** A point in a session's history: after the event with this seq, or at this time (epoch ms). */
export type PointInTime = { seq: number } | { at: number };

/**
 * Parses `?at=`: `seq:N`, a number of epoch milliseconds, or an ISO 8601 time. Null when
 * it is none of these.
 */
export function parsePointInTime(text: string): PointInTime | null {
  const trimmed = text.trim();
  const seq = /^seq:(\d{1,15})$/.exec(trimmed);
  if (seq) return { seq: Number(seq[1]) };
  if (/^\d{1,15}$/.test(trimmed)) return { at: Number(trimmed) };
  // Only ISO-looking text: Date.parse accepts much else, differently per engine.
  if (!/^\d{4}-\d{2}-\d{2}(T[\d:.]+(Z|[+-]\d{2}:?\d{2})?)?$/.test(trimmed)) return null;
  const at = Date.parse(trimmed);
  return Number.isNaN(at) ? null : { at };
}

/** Whether the event falls at or before the point. */
export function isAtOrBefore(event: SessionEvent, point: PointInTime): boolean {
  return 'seq' in point ? event.seq <= point.seq : event.at <= point.at;
}

/**
 * Folds the events up to the point, in seq order, stopping at the first one past it (so
 * the result is always the state after some seq, never a mix: event times follow seqs,
 * and one that does not, from a skewed clock, ends the prefix). Null when no event falls
 * before the point (the session did not exist yet).
 */
export async function stateAt(
  events: AsyncIterable<SessionEvent> | Iterable<SessionEvent>,
  point: PointInTime,
  sessionId: string,
): Promise<SessionState | null> {
  let state: SessionState | null = null;
  for await (const event of events) {
    if (!isAtOrBefore(event, point)) break;
    state = evolve(state ?? initialState(sessionId), event);
  }
  return state;
}

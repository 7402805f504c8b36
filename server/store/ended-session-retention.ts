import type { SessionState } from '../../shared/model.js';

/** What retention needs of the Redis store. */
export interface ExpiringStore {
  load(sessionId: string): Promise<SessionState | null>;
  expire(sessionId: string, seconds: number): Promise<void>;
}

/**
 * The hot replay buffer (Redis) is for live consoles; the audit log (Postgres) is the
 * permanent record. Once a session has ended and the audit log holds every one of its
 * events (`floorSeq`, the audit floor, reached the session's seq), its Redis keys are set
 * to expire after `graceSeconds`: consoles still open may reconnect meanwhile, and after
 * it the review, the state at any time and the export read the audit log alone.
 *
 * Called each time the floor rises, so a late event (a console closing after the end)
 * pushes the expiry back to a full grace from then. Returns whether it set the expiry.
 */
export async function expireEndedSession(
  store: ExpiringStore,
  sessionId: string,
  floorSeq: number,
  graceSeconds: number,
): Promise<boolean> {
  const state = await store.load(sessionId);
  if (!state || state.status !== 'ended' || floorSeq < state.seq) return false;
  await store.expire(sessionId, graceSeconds);
  return true;
}

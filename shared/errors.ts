/**
 * Stable error codes carried by `error` replies over WebSocket and by REST error bodies.
 * Clients branch on the code, people read the message.
 */
export const ErrorCode = {
  /** The frame or body did not parse, or a field has the wrong type; zod issues under `details`. */
  InvalidCommand: 'invalid_command',
  /** The role of the caller may not send this command. */
  Forbidden: 'forbidden',
  /** The session, incident, question, product or cue named does not exist. */
  NotFound: 'not_found',
  /** The command does not fit the current state (e.g. acknowledging a resolved incident). */
  Conflict: 'conflict',
  /** The command needs a live session (or one still open) and this one is not. */
  SessionNotLive: 'session_not_live',
  /** Too many messages; slow down. */
  RateLimited: 'rate_limited',
  /** A backend (Redis, Postgres) did not answer in time; retry with the same command id. */
  Unavailable: 'unavailable',
  /** Missing, malformed or expired token. */
  Unauthorized: 'unauthorized',
  /** Frame or body over the size limit. */
  PayloadTooLarge: 'payload_too_large',
  /** Anything else; the message is generic and the cause is in the server log. */
  Internal: 'internal',
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/** Codes a client may retry with the same command id. */
export const RETRYABLE_ERRORS: ReadonlySet<ErrorCode> = new Set([ErrorCode.Unavailable, ErrorCode.RateLimited]);

/**
 * WebSocket close codes. 4000–4099: transient, the console reconnects (with backoff) and
 * resumes from its last seq. 4100–4199: terminal, reconnecting with the same token is
 * pointless; the console shows the reason. 1009 is sent by the server for a frame over
 * the size limit (64 KiB) and is terminal too.
 */
export const CloseCode = {
  /** The server is shutting down or restarting; reconnect. */
  ServerRestarting: 4000,
  /** The console fell too far behind (outgoing queue or bufferedAmount over the limit); reconnect and resume. */
  TooSlow: 4001,
  /** No pong within the heartbeat window; reconnect. */
  HeartbeatTimeout: 4002,
  /** The console's role or token changed; reconnect with the new token. */
  Reconnect: 4003,
  /** The token is missing, malformed or its signature is wrong. */
  Unauthorized: 4100,
  /** The token has expired; ask for a new invite. */
  TokenExpired: 4101,
  /** The session no longer exists. */
  SessionNotFound: 4103,
  /** Too many malformed or excessive frames. */
  PolicyViolation: 4104,
  /** Frame over the size limit (standard code). */
  MessageTooBig: 1009,
} as const;
export type CloseCode = (typeof CloseCode)[keyof typeof CloseCode];

export function isReconnectCode(code: number): boolean {
  return (code >= 4000 && code < 4100) || code === 1001 || code === 1006 || code === 1011 || code === 1012;
}

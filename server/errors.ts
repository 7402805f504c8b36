import { ErrorCode } from '../shared/errors.js';
import type { ErrorBody } from '../shared/protocol.js';
import type { z } from 'zod';

/**
 * The one error type of Cueroom: a stable `code` for programs, a `message` for people,
 * and the `cause` for the log. `toErrorBody` turns it into the wire form used by both
 * REST and WebSocket replies.
 */
export class CueroomError extends Error {
  readonly code: ErrorCode;
  readonly details: ErrorBody['details'];

  constructor(code: ErrorCode, message: string, options: { cause?: unknown; details?: ErrorBody['details'] } = {}) {
    super(message, { cause: options.cause });
    this.name = 'CueroomError';
    this.code = code;
    this.details = options.details;
  }

  static invalid(message: string, issues?: readonly z.core.$ZodIssue[]): CueroomError {
    return new CueroomError(ErrorCode.InvalidCommand, message, {
      details: issues?.map((issue) => ({
        path: issue.path.filter((p): p is string | number => typeof p !== 'symbol'),
        message: issue.message,
      })),
    });
  }
}

/** HTTP status for each error code, used by the REST layer. */
export const HTTP_STATUS: Readonly<Record<ErrorCode, number>> = {
  invalid_command: 400,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  conflict: 409,
  session_not_live: 409,
  payload_too_large: 413,
  rate_limited: 429,
  internal: 500,
  unavailable: 503,
};

/**
 * Wire form of any error. Anything that is not a CueroomError is an internal fault: its
 * message is not leaked to clients (it goes to the log by the caller).
 */
export function toErrorBody(error: unknown): ErrorBody {
  if (error instanceof CueroomError) {
    return error.details ? { code: error.code, message: error.message, details: error.details } : { code: error.code, message: error.message };
  }
  return { code: ErrorCode.Internal, message: 'Something went wrong on the server; the crew can retry, and the log has the cause.' };
}

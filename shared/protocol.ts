import { z } from 'zod';
import { commandIdSchema, commandSchema } from './commands.js';
import { ErrorCode } from './errors.js';
import { sessionEventSchema } from './events.js';
import { sessionStateSchema } from './model.js';
import { crewRoleSchema, roleSchema } from './roles.js';

/** Path of the WebSocket endpoint. Query: `token` (invite token), optional `since` (last seq seen). */
export const WS_PATH = '/v1/ws';
/** Largest frame the server accepts; a larger one closes the socket with 1009. */
export const MAX_FRAME_BYTES = 64 * 1024;

export const clientMessageSchemas = {
  /** Run a command. `id` is the idempotency key. */
  command: z.object({ type: z.literal('command'), id: commandIdSchema, command: commandSchema }),
  /** Ask for a replay from `seq` (the last seq seen), or a snapshot when it is too old. */
  resume: z.object({ type: z.literal('resume'), seq: z.number().int().nonnegative() }),
} as const;
export const clientMessageSchema = z.discriminatedUnion('type', [
  clientMessageSchemas.command,
  clientMessageSchemas.resume,
]);
export type ClientMessage = z.infer<typeof clientMessageSchema>;
export type ClientMessageType = ClientMessage['type'];

const errorCodeSchema = z.enum(Object.values(ErrorCode) as [ErrorCode, ...ErrorCode[]]);

export const errorBodySchema = z.object({
  code: errorCodeSchema,
  message: z.string(),
  /** For `invalid_command`: the zod issues (path, message). */
  details: z.array(z.object({ path: z.array(z.union([z.string(), z.number()])), message: z.string() })).optional(),
});
export type ErrorBody = z.infer<typeof errorBodySchema>;

export const ackResultSchema = z.object({
  /** The seq of the first event the command produced. */
  seq: z.number().int().positive(),
  /** The seq of the last event it produced. */
  lastSeq: z.number().int().positive(),
});

export const serverMessageSchemas = {
  welcome: z.object({
    type: z.literal('welcome'),
    sessionId: z.string(),
    role: crewRoleSchema,
    personId: z.string(),
    name: z.string(),
    connectionId: z.string(),
    /** The server pings every `heartbeatMs`; a console that hears nothing for twice that reconnects. */
    heartbeatMs: z.number().int().positive(),
  }),
  /** The role-filtered state at `seq`. `recovered: false` says a requested resume was not possible. */
  snapshot: z.object({
    type: z.literal('snapshot'),
    seq: z.number().int().nonnegative(),
    state: sessionStateSchema,
    recovered: z.boolean(),
  }),
  /** The events missed since the `since` seq, role-filtered; the console is caught up to `seq`. */
  resumed: z.object({
    type: z.literal('resumed'),
    since: z.number().int().nonnegative(),
    seq: z.number().int().nonnegative(),
    events: z.array(sessionEventSchema),
  }),
  /**
   * Live events, several per frame. `seq` is the session seq the console is caught up to
   * after this frame, which can be past the last event shown when the rest were not for
   * this role: resume from it.
   */
  events: z.object({
    type: z.literal('events'),
    seq: z.number().int().positive(),
    events: z.array(sessionEventSchema),
  }),
  ack: z.object({ type: z.literal('ack'), id: z.string() }).extend(ackResultSchema.shape),
  error: z.object({ type: z.literal('error'), id: z.string().optional() }).extend(errorBodySchema.shape),
  /** Instance control: the console should reconnect (e.g. a new token), or stop. */
  control: z.object({ type: z.literal('control'), action: z.enum(['reconnect', 'stop']), reason: z.string() }),
} as const;
export const serverMessageSchema = z.discriminatedUnion('type', [
  serverMessageSchemas.welcome,
  serverMessageSchemas.snapshot,
  serverMessageSchemas.resumed,
  serverMessageSchemas.events,
  serverMessageSchemas.ack,
  serverMessageSchemas.error,
  serverMessageSchemas.control,
]);
export type ServerMessage = z.infer<typeof serverMessageSchema>;
export type ServerMessageOf<T extends ServerMessage['type']> = Extract<ServerMessage, { type: T }>;

/** Claims of an invite token (a JWT signed by the server). */
export const tokenClaimsSchema = z.object({
  sid: z.string(),
  role: roleSchema,
  sub: z.string(),
  name: z.string(),
});
export type TokenClaims = z.infer<typeof tokenClaimsSchema>;

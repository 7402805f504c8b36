/**
 * Writes docs/asyncapi.yaml, the AsyncAPI 3.0 description of the console WebSocket, from
 * the zod schemas of shared/protocol.ts. Run with `npm run docs:asyncapi` after changing a
 * message; test/unit/asyncapi.test.ts fails while the file and the schemas disagree.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Document, isScalar, visit } from 'yaml';
import { z } from 'zod';
import { CloseCode, ErrorCode, RETRYABLE_ERRORS, isReconnectCode } from '../../shared/errors.js';
import { MAX_FRAME_BYTES, WS_PATH, clientMessageSchemas, serverMessageSchemas } from '../../shared/protocol.js';

export const ASYNCAPI_PATH = fileURLToPath(new URL('../../docs/asyncapi.yaml', import.meta.url));

/**
 * Payload schemas are JSON Schema draft-07, the dialect AsyncAPI 3.0 tools read. Clients
 * are described by what they may send (`input`: fields with a default may be left out),
 * the server by what it sends (`output`: every field present, nothing extra).
 */
export const CLIENT_JSON_SCHEMA = { target: 'draft-07', io: 'input' } as const;
export const SERVER_JSON_SCHEMA = { target: 'draft-07', io: 'output' } as const;
export const PAYLOAD_SCHEMA_FORMAT = 'application/schema+json;version=draft-07';

type ClientType = keyof typeof clientMessageSchemas;
type ServerType = keyof typeof serverMessageSchemas;

interface MessageDoc {
  title: string;
  summary: string;
  description?: string;
}

// Records over the message types: a new message without its words here does not compile.
const clientMessages: Record<ClientType, MessageDoc> = {
  command: {
    title: 'Command',
    summary: 'Run a command on the session.',
    description:
      'The `id` is chosen by the client and is the idempotency key: the same id is applied once and answered the same every time, so a console that lost its connection resends it as is. Answered by `ack` or `error` carrying the same `id`.',
  },
  resume: {
    title: 'Resume',
    summary: 'Ask for the events after `seq`, the last seq the console saw.',
    description:
      'Answered by `resumed` with exactly the missed events, filtered for the role, or by a `snapshot` with `recovered: false` when they are no longer retained.',
  },
};

const serverMessages: Record<ServerType, MessageDoc> = {
  welcome: {
    title: 'Welcome',
    summary: 'First frame on a new connection: who the token says the console is.',
    description:
      'The server pings every `heartbeatMs`; a console that hears nothing (no frame, no ping) for twice that should reconnect.',
  },
  snapshot: {
    title: 'Snapshot',
    summary: 'The role-filtered session state at `seq`.',
    description:
      'Sent after `welcome` when the connection gave no `since`, or when the events after `since` are no longer retained; then `recovered` is false. Live events follow from `seq + 1`.',
  },
  resumed: {
    title: 'Resumed',
    summary: 'The events missed since `since`, role-filtered, in seq order.',
    description:
      'The console is caught up to `seq` (which may be past the last event shown when the rest were not for its role).',
  },
  events: {
    title: 'Events',
    summary: 'Live events, several per frame, in seq order, filtered for the role.',
    description:
      '`seq` is the session seq the console is caught up to after this frame; it can be past the last event shown when the rest were not for this role. Resume from it.',
  },
  ack: {
    title: 'Acknowledgement',
    summary: 'The command `id` was applied: the seqs of the first and last events it produced.',
  },
  error: {
    title: 'Error',
    summary: 'A command was refused, or a frame could not be read.',
    description:
      'Carries the `id` of the command when there was one. `code` is stable (see `x-error-codes`); `message` is for people; `details` lists the zod issues of an `invalid_command`.',
  },
  control: {
    title: 'Control',
    summary: 'Instance control: reconnect (e.g. with a new token) or stop.',
  },
};

const closeCodes: Record<keyof typeof CloseCode, string> = {
  ServerRestarting: 'The server is shutting down or restarting; reconnect.',
  TooSlow: 'The console fell too far behind (outgoing queue or buffered bytes over the limit); reconnect and resume.',
  HeartbeatTimeout: 'No pong within the heartbeat window; reconnect.',
  Reconnect: "The console's role or token changed; reconnect with the new token.",
  Unauthorized: 'The token is missing, malformed or its signature is wrong.',
  TokenExpired: 'The token has expired; ask for a new invite.',
  SessionNotFound: 'The session no longer exists.',
  PolicyViolation: 'Too many malformed or excessive frames.',
  MessageTooBig: `A frame over ${MAX_FRAME_BYTES / 1024} KiB (the standard code).`,
};

const errorCodes: Record<ErrorCode, string> = {
  invalid_command: 'The frame or body did not parse, or a field has the wrong type; zod issues under `details`.',
  forbidden: 'The role of the caller may not send this command.',
  not_found: 'The session, incident, question, product or cue named does not exist.',
  conflict: 'The command does not fit the current state.',
  session_not_live: 'The command needs a live session and this one is not.',
  rate_limited: 'Too many messages; slow down and retry with the same id.',
  unavailable: 'A backend did not answer in time; retry with the same id.',
  unauthorized: 'Missing, malformed or expired token.',
  payload_too_large: 'Frame or body over the size limit.',
  internal: 'Anything else; the message is generic and the cause is in the server log.',
};

function closeCodeTable(): string {
  const rows = Object.entries(CloseCode).map(
    ([name, code]) =>
      `| ${code} | ${name} | ${isReconnectCode(code) ? 'reconnect' : 'terminal'} | ${closeCodes[name as keyof typeof CloseCode]} |`,
  );
  return ['| code | name | then | meaning |', '|---|---|---|---|', ...rows].join('\n');
}

function description(): string {
  return `The WebSocket a console keeps open for the length of a broadcast. JSON text frames, one message each, of at most ${MAX_FRAME_BYTES / 1024} KiB.

**Connecting.** \`GET ${WS_PATH}?token=…[&since=N]\`. The token is the invite token (a JWT naming the session, role and person); browsers cannot set headers on a WebSocket, hence the query string (the server redacts it from logs). A bad token or a browser \`Origin\` outside ALLOWED_ORIGINS is refused with HTTP 401 or 403, before any upgrade.

**Order.** The server sends \`welcome\`, then either \`snapshot\` (state and its \`seq\`) or, when \`since\` was given and the events after it are retained, \`resumed\`; then \`events\` frames. Every event of a session has a \`seq\` (1, 2, 3… with no gaps, one order for all consoles); a console never sees a gap or a duplicate, and everything it receives is filtered for its role on the server.

**Commands.** \`command\` frames are answered by \`ack\` or \`error\` with the same \`id\`. The id is the idempotency key: resend the same id after a reconnect, never a new one.

**Close codes.** 4000–4099: transient; reconnect with backoff and resume from the last seq seen (\`since\`). 4100–4199: terminal; reconnecting with the same token is pointless, show the reason. 1009: a frame over the size limit; terminal. 1001, 1006, 1011 and 1012 (going away, abnormal closure, server error, service restart) are treated as transient.

${closeCodeTable()}`;
}

/** The JSON Schema of a client message as the document holds it. */
export function clientPayload(type: ClientType): unknown {
  return z.toJSONSchema(clientMessageSchemas[type], CLIENT_JSON_SCHEMA);
}

/** The JSON Schema of a server message as the document holds it. */
export function serverPayload(type: ServerType): unknown {
  return z.toJSONSchema(serverMessageSchemas[type], SERVER_JSON_SCHEMA);
}

const ref = (path: string) => ({ $ref: path });
const channelMessage = (type: string) => ref(`#/channels/console/messages/${type}`);

export function buildAsyncApiDocument(): Record<string, unknown> {
  const { version } = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
    version: string;
  };
  const messages: Record<string, unknown> = {};
  for (const [type, doc] of Object.entries(clientMessages) as [ClientType, MessageDoc][]) {
    messages[type] = {
      name: type,
      ...doc,
      contentType: 'application/json',
      payload: { schemaFormat: PAYLOAD_SCHEMA_FORMAT, schema: clientPayload(type) },
    };
  }
  for (const [type, doc] of Object.entries(serverMessages) as [ServerType, MessageDoc][]) {
    messages[type] = {
      name: type,
      ...doc,
      contentType: 'application/json',
      payload: { schemaFormat: PAYLOAD_SCHEMA_FORMAT, schema: serverPayload(type) },
    };
  }
  const types = [...Object.keys(clientMessages), ...Object.keys(serverMessages)];
  const console = ref('#/channels/console');

  return {
    asyncapi: '3.0.0',
    info: {
      title: 'Cueroom console protocol',
      version,
      description: description(),
    },
    defaultContentType: 'application/json',
    servers: {
      embedded: {
        host: '127.0.0.1:8080',
        protocol: 'ws',
        description: '`npm start`: one instance, the embedded default.',
        security: [ref('#/components/securitySchemes/inviteToken')],
      },
      production: {
        host: '{host}',
        protocol: 'wss',
        description: 'Behind TLS at PUBLIC_URL; any instance serves any session.',
        variables: { host: { default: 'crew.example.com' } },
        security: [ref('#/components/securitySchemes/inviteToken')],
      },
    },
    channels: {
      console: {
        address: WS_PATH,
        title: 'Console connection',
        description: 'One connection per open console, for one session and one role (both from the token).',
        messages: Object.fromEntries(types.map((type) => [type, ref(`#/components/messages/${type}`)])),
        bindings: {
          ws: {
            method: 'GET',
            query: {
              type: 'object',
              required: ['token'],
              properties: {
                token: { type: 'string', description: 'Invite token (JWT) for one session and role.' },
                since: {
                  type: 'integer',
                  minimum: 0,
                  description:
                    'The last seq seen, when reconnecting: the server answers with `resumed` instead of `snapshot` when it can.',
                },
              },
            },
            bindingVersion: '0.1.0',
          },
        },
      },
    },
    operations: {
      receiveCommand: {
        action: 'receive',
        channel: console,
        summary: 'A console runs a command.',
        messages: [channelMessage('command')],
        reply: { channel: console, messages: [channelMessage('ack'), channelMessage('error')] },
      },
      receiveResume: {
        action: 'receive',
        channel: console,
        summary: 'A console asks for what it missed.',
        messages: [channelMessage('resume')],
        reply: { channel: console, messages: [channelMessage('resumed'), channelMessage('snapshot')] },
      },
      sendWelcome: {
        action: 'send',
        channel: console,
        summary: 'Greets a new connection.',
        messages: [channelMessage('welcome')],
      },
      sendSnapshot: {
        action: 'send',
        channel: console,
        summary: 'Gives a connecting console its starting state.',
        messages: [channelMessage('snapshot')],
      },
      sendResumed: {
        action: 'send',
        channel: console,
        summary: 'Replays what a reconnecting console missed.',
        messages: [channelMessage('resumed')],
      },
      sendEvents: {
        action: 'send',
        channel: console,
        summary: 'Fans live events out, coalesced per console.',
        messages: [channelMessage('events')],
      },
      sendError: {
        action: 'send',
        channel: console,
        summary: 'Refuses a frame that is not a valid message (no command id to answer to).',
        messages: [channelMessage('error')],
      },
      sendControl: {
        action: 'send',
        channel: console,
        summary: 'Tells a console to reconnect or stop.',
        messages: [channelMessage('control')],
      },
    },
    components: {
      securitySchemes: {
        inviteToken: {
          type: 'httpApiKey',
          name: 'token',
          in: 'query',
          description: 'Invite token issued by the REST API for one session and role.',
        },
      },
      messages,
    },
    'x-close-codes': Object.entries(CloseCode).map(([name, code]) => ({
      code,
      name,
      reconnect: isReconnectCode(code),
      description: closeCodes[name as keyof typeof CloseCode],
    })),
    'x-error-codes': Object.values(ErrorCode).map((code) => ({
      code,
      retryable: RETRYABLE_ERRORS.has(code),
      description: errorCodes[code],
    })),
  };
}

/**
 * Small leaf collections (`{ type: string, const: ack }`, `[type, id]`) are written in
 * flow style: the payload schemas are long, and this keeps them readable. No YAML
 * anchors, so any tool reads the file.
 */
export function renderAsyncApi(): string {
  const doc = new Document(buildAsyncApiDocument(), { aliasDuplicateObjects: false });
  const short = (items: unknown[]) =>
    items.every((item) => isScalar(item) && String(item.value).length <= 40) &&
    items.reduce<number>((sum, item) => sum + String((item as { value: unknown }).value).length, 0) <= 80;
  visit(doc, {
    Map(_, node) {
      const prose = node.items.some((pair) => isScalar(pair.key) && pair.key.value === 'description');
      if (!prose && node.items.length <= 4 && short(node.items.flatMap((pair) => [pair.key, pair.value]))) {
        node.flow = true;
      }
    },
    Seq(_, node) {
      if (short(node.items)) node.flow = true;
    },
  });
  const banner = '# Generated by `npm run docs:asyncapi` from shared/protocol.ts: do not edit by hand.\n';
  return banner + doc.toString({ lineWidth: 0, flowCollectionPadding: false, singleQuote: true });
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  writeFileSync(ASYNCAPI_PATH, renderAsyncApi());
  console.log(`wrote ${ASYNCAPI_PATH}`);
}

import { readFileSync } from 'node:fs';
import { DiagnosticSeverity, Parser } from '@asyncapi/parser';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { z } from 'zod';
import { CloseCode, ErrorCode } from '../../shared/errors.js';
import { WS_PATH, clientMessageSchemas, serverMessageSchemas } from '../../shared/protocol.js';
import {
  ASYNCAPI_PATH,
  CLIENT_JSON_SCHEMA,
  PAYLOAD_SCHEMA_FORMAT,
  SERVER_JSON_SCHEMA,
  renderAsyncApi,
} from '../../server/cli/asyncapi.js';

const REGENERATE = 'docs/asyncapi.yaml is out of date with shared/protocol.ts: run `npm run docs:asyncapi`';

const text = readFileSync(ASYNCAPI_PATH, 'utf8');

interface Message {
  name: string;
  payload: { schemaFormat: string; schema: unknown };
}
const doc = parse(text) as {
  asyncapi: string;
  channels: { console: { address: string; messages: Record<string, unknown> } };
  components: { messages: Record<string, Message> };
  'x-close-codes': { code: number; name: string; reconnect: boolean }[];
  'x-error-codes': { code: string }[];
};

describe('docs/asyncapi.yaml', () => {
  it('is a valid AsyncAPI 3.0 document (no error diagnostics)', async () => {
    const { document, diagnostics } = await new Parser().parse(text, { source: ASYNCAPI_PATH });
    const errors = diagnostics
      .filter((diagnostic) => diagnostic.severity === DiagnosticSeverity.Error)
      .map((diagnostic) => `${diagnostic.path.join('/')}: ${diagnostic.message} (${diagnostic.code})`);
    expect(errors).toEqual([]);
    expect(document).toBeDefined();
    expect(doc.asyncapi).toMatch(/^3\.0\./);
  });

  it('describes the WebSocket at its path', () => {
    expect(doc.channels.console.address).toBe(WS_PATH);
  });

  it('has exactly one message per message type of shared/protocol.ts', () => {
    const expected = [...Object.keys(clientMessageSchemas), ...Object.keys(serverMessageSchemas)].sort();
    expect(Object.keys(doc.components.messages).sort(), REGENERATE).toEqual(expected);
    expect(Object.keys(doc.channels.console.messages).sort(), REGENERATE).toEqual(expected);
  });

  it.each(Object.keys(clientMessageSchemas) as (keyof typeof clientMessageSchemas)[])(
    'client message %s has the payload z.toJSONSchema gives',
    (type) => {
      const message = doc.components.messages[type];
      expect(message?.payload.schemaFormat).toBe(PAYLOAD_SCHEMA_FORMAT);
      expect(message?.payload.schema, REGENERATE).toEqual(
        z.toJSONSchema(clientMessageSchemas[type], CLIENT_JSON_SCHEMA),
      );
    },
  );

  it.each(Object.keys(serverMessageSchemas) as (keyof typeof serverMessageSchemas)[])(
    'server message %s has the payload z.toJSONSchema gives',
    (type) => {
      const message = doc.components.messages[type];
      expect(message?.payload.schemaFormat).toBe(PAYLOAD_SCHEMA_FORMAT);
      expect(message?.payload.schema, REGENERATE).toEqual(
        z.toJSONSchema(serverMessageSchemas[type], SERVER_JSON_SCHEMA),
      );
    },
  );

  it('lists every close code and error code', () => {
    expect(doc['x-close-codes'].map((entry) => entry.code).sort(), REGENERATE).toEqual(Object.values(CloseCode).sort());
    expect(doc['x-error-codes'].map((entry) => entry.code).sort(), REGENERATE).toEqual(Object.values(ErrorCode).sort());
    for (const entry of doc['x-close-codes']) {
      const transient = entry.code >= 4000 && entry.code < 4100;
      expect(entry.reconnect, `${entry.code} ${entry.name}`).toBe(transient);
    }
  });

  it('is exactly what npm run docs:asyncapi writes (descriptions included)', () => {
    expect(text === renderAsyncApi(), REGENERATE).toBe(true);
  });
});

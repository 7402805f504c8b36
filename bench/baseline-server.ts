/**
 * The naive ceiling the benchmark compares Cueroom with: a bare `ws` broadcast server with
 * no store, no audit, no validation beyond JSON.parse, no role filter and no coalescing.
 * A command arriving over the WebSocket (or a question or health sample over the same REST
 * ingest paths as Cueroom's) becomes one event with the room's next seq and the accept
 * time, serialized once and written to every console of the room with one `send` each.
 *
 * Speaks just enough of Cueroom's wire format for the bench's clients: `?token=` on
 * /v1/ws (the token is base64url JSON {sid, role, sub, name}, unsigned), a `snapshot`
 * frame on connect, `ack` replies, `{"type":"events","seq","events":[event]}` frames.
 *
 * Run: PORT=9000 node --import tsx bench/baseline-server.ts
 */
import http from 'node:http';
import { WebSocket, WebSocketServer } from 'ws';

interface Claims {
  sid: string;
  role: string;
  sub: string;
  name: string;
}

interface Room {
  seq: number;
  clients: Set<WebSocket>;
}

const rooms = new Map<string, Room>();

function roomOf(id: string): Room {
  let room = rooms.get(id);
  if (!room) {
    room = { seq: 0, clients: new Set() };
    rooms.set(id, room);
  }
  return room;
}

function claimsOf(token: string | null | undefined): Claims | null {
  if (!token) return null;
  try {
    const claims = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as Claims;
    return typeof claims.sid === 'string' && typeof claims.role === 'string' ? claims : null;
  } catch {
    return null;
  }
}

const EVENT_KIND: Record<string, string> = {
  'health.sample': 'health.sampled',
  'question.submit': 'question.submitted',
  'question.flag': 'question.flagged',
  'question.answer': 'question.answered',
  'question.dismiss': 'question.dismissed',
  'question.upvote': 'question.upvoted',
  'product.switch': 'product.switched',
  'product.set_price': 'product.price_changed',
  'incident.raise': 'incident.raised',
  'incident.acknowledge': 'incident.acknowledged',
  'incident.resolve': 'incident.resolved',
  'cue.send': 'cue.sent',
  'cue.acknowledge': 'cue.acknowledged',
};

/** The event body for a command: the command's fields under the matching event kind. */
function bodyOf(command: Record<string, unknown>, seq: number): Record<string, unknown> {
  const { kind, ...fields } = command;
  const eventKind = EVENT_KIND[String(kind)] ?? `${String(kind)}.done`;
  if (kind === 'question.submit') {
    return { kind: eventKind, question: { id: `q-${seq}`, status: 'new', ...fields } };
  }
  if (typeof fields.questionId === 'string' && eventKind.startsWith('question.')) {
    return { kind: eventKind, question: { id: fields.questionId, status: eventKind.slice('question.'.length) } };
  }
  return { kind: eventKind, ...fields };
}

/** Appends one event to the room and writes it to every console of the room, one send each. */
function publish(roomId: string, commandId: string, command: Record<string, unknown>, claims: Claims): number {
  const room = roomOf(roomId);
  const seq = ++room.seq;
  const event = {
    ...bodyOf(command, seq),
    seq,
    at: Date.now(),
    commandId,
    actor: { id: claims.sub, name: claims.name, role: claims.role },
  };
  const frame = JSON.stringify({ type: 'events', seq, events: [event] });
  for (const client of room.clients) {
    if (client.readyState === WebSocket.OPEN) client.send(frame);
  }
  return seq;
}

function sendJson(response: http.ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  response.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  response.end(text);
}

let ingestCounter = 0;

const server = http.createServer((request, response) => {
  const url = new URL(request.url ?? '/', 'http://127.0.0.1');
  if (request.method === 'GET' && (url.pathname === '/readyz' || url.pathname === '/healthz')) {
    sendJson(response, 200, { status: 'ready' });
    return;
  }
  const ingest = /^\/v1\/sessions\/([^/]+)\/ingest\/(questions|health)$/.exec(url.pathname);
  if (request.method !== 'POST' || !ingest) {
    sendJson(response, 404, { code: 'not_found', message: 'no such route' });
    return;
  }
  const header = request.headers.authorization ?? '';
  const claims = claimsOf(header.startsWith('Bearer ') ? header.slice(7) : null);
  if (!claims || claims.sid !== ingest[1]) {
    sendJson(response, 401, { code: 'unauthorized', message: 'bad token' });
    return;
  }
  const chunks: Buffer[] = [];
  request.on('data', (chunk: Buffer) => chunks.push(chunk));
  request.on('end', () => {
    let body: { questions?: Record<string, unknown>[]; samples?: Record<string, unknown>[] };
    try {
      body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    } catch {
      sendJson(response, 400, { code: 'invalid_command', message: 'not JSON' });
      return;
    }
    const results = [];
    if (ingest[2] === 'questions') {
      for (const question of body.questions ?? []) {
        const source = typeof question.source === 'string' ? question.source : 'chat';
        const commandId = question.externalId
          ? `ingest:${source}:${String(question.externalId)}`.slice(0, 64)
          : `ingest:${++ingestCounter}`;
        const seq = publish(ingest[1]!, commandId, { kind: 'question.submit', ...question }, claims);
        results.push({ ok: true, seq, lastSeq: seq, duplicate: false });
      }
    } else {
      for (const sample of body.samples ?? []) {
        const seq = publish(ingest[1]!, `health:${++ingestCounter}`, { kind: 'health.sample', sample }, claims);
        results.push({ ok: true, seq, lastSeq: seq, duplicate: false });
      }
    }
    sendJson(response, 200, { results });
  });
});

const wss = new WebSocketServer({ noServer: true, maxPayload: 64 * 1024, perMessageDeflate: false });

server.on('upgrade', (request, socket, head) => {
  const url = new URL(request.url ?? '/', 'http://127.0.0.1');
  const claims = url.pathname === '/v1/ws' ? claimsOf(url.searchParams.get('token')) : null;
  if (!claims) {
    socket.end('HTTP/1.1 401 Unauthorized\r\nconnection: close\r\ncontent-length: 0\r\n\r\n');
    return;
  }
  wss.handleUpgrade(request, socket, head, (ws) => {
    const room = roomOf(claims.sid);
    room.clients.add(ws);
    ws.on('error', () => undefined);
    ws.on('close', () => room.clients.delete(ws));
    ws.on('message', (data: Buffer) => {
      let message: { type?: string; id?: string; command?: Record<string, unknown> };
      try {
        message = JSON.parse(data.toString('utf8'));
      } catch {
        ws.send(JSON.stringify({ type: 'error', code: 'invalid_command', message: 'not JSON' }));
        return;
      }
      if (message.type !== 'command' || typeof message.id !== 'string' || typeof message.command !== 'object') {
        ws.send(JSON.stringify({ type: 'error', id: message.id, code: 'invalid_command', message: 'not a command' }));
        return;
      }
      const seq = publish(claims.sid, message.id, message.command ?? {}, claims);
      ws.send(JSON.stringify({ type: 'ack', id: message.id, seq, lastSeq: seq }));
    });
    ws.send(JSON.stringify({ type: 'snapshot', seq: room.seq, state: {}, recovered: false }));
  });
});

const port = Number(process.env.PORT ?? 9000);
server.listen(port, '127.0.0.1', () => {
  const address = server.address();
  console.log(`baseline broadcast server listening on ${typeof address === 'object' && address ? address.port : port}`);
});

const stop = () => {
  for (const client of wss.clients) client.terminate();
  server.close(() => process.exit(0));
  setTimeout(() => process.exit(0), 2000).unref();
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);

import { signal } from '@preact/signals';
import ReconnectingWebSocket from 'partysocket/ws';
import type { CommandInput } from '../../shared/commands.js';
import { CloseCode, ErrorCode, isReconnectCode } from '../../shared/errors.js';
import type { ClientMessage, ErrorBody, ServerMessage } from '../../shared/protocol.js';
import type { ConsoleStore } from './store.js';

const WS_PATH = '/v1/ws';
const TOKEN_KEY = 'cueroom.token';

/**
 * The invite token: from the URL fragment first (then removed from the address bar so it
 * is not shared by a screenshot or a copied link), else from this tab's sessionStorage.
 */
export function takeToken(location: Location, storage: Storage, history: History): string | null {
  const fromHash = new URLSearchParams(location.hash.slice(1)).get('token');
  if (fromHash) {
    storage.setItem(TOKEN_KEY, fromHash);
    history.replaceState(null, '', location.pathname + location.search);
    return fromHash;
  }
  return storage.getItem(TOKEN_KEY);
}

/** What a command does, in the words of the person who pressed the button. */
const DOING: Partial<Record<CommandInput['kind'], string>> = {
  'session.start_preflight': 'start preflight',
  'session.add_checklist_item': 'add to the checklist',
  'session.check_item': 'tick the checklist',
  'session.go_live': 'go live',
  'session.end': 'end the session',
  'incident.raise': 'raise an incident',
  'incident.acknowledge': 'acknowledge incidents',
  'incident.assign': 'assign incidents',
  'incident.add_note': 'add notes to incidents',
  'incident.set_severity': 'change the severity of incidents',
  'incident.push_to_host': 'put incidents on the host screen',
  'incident.resolve': 'resolve incidents',
  'incident.reopen': 'reopen incidents',
  'lineup.set': 'edit the lineup',
  'product.switch': 'switch the product on screen',
  'question.flag': 'flag questions',
  'question.answer': 'mark questions answered',
  'question.dismiss': 'dismiss questions',
  'question.pin': 'pin questions',
  'question.restore': 'restore questions',
  'cue.send': 'send cues',
  'cue.acknowledge': 'acknowledge cues',
};

/** Turns a server error into words for the person who pressed the button. */
export function explain(
  error: Pick<ErrorBody, 'code' | 'message'>,
  kind?: CommandInput['kind'],
  role?: string,
): string {
  const doing = kind ? DOING[kind] : undefined;
  switch (error.code) {
    case ErrorCode.Forbidden:
      return doing && role
        ? `Not allowed for your role: the ${role} console cannot ${doing}.`
        : `Not allowed for your role: ${error.message}`;
    case ErrorCode.SessionNotLive:
      return `Not possible at this stage of the session: ${error.message}`;
    case ErrorCode.Conflict:
      return `Already changed by someone else: ${error.message}`;
    case ErrorCode.NotFound:
      return `It is no longer there: ${error.message}`;
    case ErrorCode.InvalidCommand:
      return `Check what you typed: ${error.message}`;
    case ErrorCode.RateLimited:
      return 'Too many actions at once; wait a moment and try again.';
    case ErrorCode.Unavailable:
      return 'The server could not save this right now; try again.';
    default:
      return error.message || 'Something went wrong on the server.';
  }
}

const TERMINAL_REASONS: Record<number, string> = {
  [CloseCode.Unauthorized]: 'This invite link is not valid. Ask ops for a new one.',
  [CloseCode.TokenExpired]: 'This invite link has expired. Ask ops for a new one.',
  [CloseCode.SessionNotFound]: 'This session no longer exists.',
  [CloseCode.PolicyViolation]: 'The server closed this console after too many bad messages. Reload the page.',
  [CloseCode.MessageTooBig]: 'The server closed this console: a message was too big. Reload the page.',
};

function isTerminal(code: number): boolean {
  return (code >= 4100 || code === CloseCode.MessageTooBig) && !isReconnectCode(code);
}

export interface Pending {
  action: string;
  kind: CommandInput['kind'];
}

export function newCommandId(): string {
  return crypto.randomUUID();
}

/**
 * One console's socket: reconnects with backoff (partysocket), resumes from the last seq
 * it was caught up to, and matches acks and errors to the action that sent the command.
 */
export class Connection {
  /** Errors by action key (the button or form that caused them), in words for people. */
  readonly errors = signal<Record<string, string>>({});
  /** Actions waiting for their ack. */
  readonly pending = signal<Record<string, Pending>>({});
  private socket: ReconnectingWebSocket | null = null;
  private everConnected = false;
  private opened = 0;
  /** Frames of commands not yet answered, by id: sent again after a reconnect (same id, so applied once). */
  private unanswered = new Map<string, string>();

  constructor(
    private readonly store: ConsoleStore,
    private readonly token: string,
    private readonly base: string,
    /** The WebSocket class; default the browser's (tests pass a fake). */
    private readonly WebSocketImpl?: unknown,
  ) {}

  url(): string {
    const since = this.store.seq === null ? '' : `&since=${this.store.seq}`;
    return `${this.base}${WS_PATH}?token=${encodeURIComponent(this.token)}${since}`;
  }

  open(): void {
    const socket = new ReconnectingWebSocket(() => this.url(), [], {
      minReconnectionDelay: 300,
      maxReconnectionDelay: 5000,
      reconnectionDelayGrowFactor: 1.6,
      connectionTimeout: 4000,
      // Terminal codes (bad or expired token, session gone): reconnecting cannot help.
      shouldReconnectOnClose: (event) => !isTerminal(event.code),
      ...(this.WebSocketImpl ? { WebSocket: this.WebSocketImpl } : {}),
    });
    this.socket = socket;
    socket.addEventListener('open', () => {
      // An answer lost with the old socket would leave the button busy for ever; the server
      // answers a repeated id with the first answer, so resending is safe.
      if (this.opened++ > 0) for (const frame of this.unanswered.values()) socket.send(frame);
    });
    socket.addEventListener('message', (event) => this.receive(JSON.parse(String(event.data)) as ServerMessage));
    socket.addEventListener('close', (event) => {
      if (this.store.phase.peek() === 'stopped') return;
      if (isTerminal(event.code)) {
        this.stop(TERMINAL_REASONS[event.code] ?? `Disconnected: ${event.reason || event.code}`);
        return;
      }
      this.store.setPhase(this.everConnected ? 'reconnecting' : 'connecting');
    });
  }

  stop(reason: string): void {
    this.store.stopReason.value = reason;
    this.store.setPhase('stopped');
    this.socket?.close();
  }

  /** Sends a command; its ack or error is matched back to `action`. Returns the command id. */
  send(action: string, command: CommandInput): string {
    const id = newCommandId();
    const { [action]: _cleared, ...rest } = this.errors.peek();
    this.errors.value = rest;
    this.pending.value = { ...this.pending.peek(), [id]: { action, kind: command.kind } };
    const frame = JSON.stringify({ type: 'command', id, command } as ClientMessage);
    this.unanswered.set(id, frame);
    // Sent while offline, the command waits in partysocket's queue; the id makes a retry safe.
    this.socket?.send(frame);
    return id;
  }

  clearError(action: string): void {
    const { [action]: _cleared, ...rest } = this.errors.peek();
    this.errors.value = rest;
  }

  receive(message: ServerMessage): void {
    switch (message.type) {
      case 'welcome':
        this.store.identity.value = {
          sessionId: message.sessionId,
          role: message.role,
          personId: message.personId,
          name: message.name,
        };
        break;
      case 'snapshot': {
        // A snapshot on a reconnect means the events missed could not be replayed.
        const resumed = this.everConnected;
        this.store.applySnapshot(message.state, message.seq);
        this.everConnected = true;
        this.store.setPhase(resumed ? 'resynced' : 'live');
        break;
      }
      case 'resumed':
        this.store.applyEvents(message.events, message.seq);
        this.everConnected = true;
        this.store.setPhase('live');
        break;
      case 'events':
        this.store.applyEvents(message.events, message.seq);
        break;
      case 'ack': {
        this.unanswered.delete(message.id);
        const { [message.id]: _done, ...rest } = this.pending.peek();
        this.pending.value = rest;
        break;
      }
      case 'error': {
        const pending = message.id === undefined ? undefined : this.pending.peek()[message.id];
        if (message.id !== undefined) {
          this.unanswered.delete(message.id);
          const { [message.id]: _done, ...rest } = this.pending.peek();
          this.pending.value = rest;
        }
        const text = explain(message, pending?.kind, this.store.role ?? undefined);
        this.errors.value = { ...this.errors.peek(), [pending?.action ?? 'general']: text };
        break;
      }
      case 'control':
        if (message.action === 'stop') this.stop(message.reason);
        else this.socket?.reconnect(CloseCode.Reconnect, message.reason);
        break;
    }
  }
}

import { randomUUID } from 'node:crypto';
import WebSocket from 'ws';
import type { CommandInput } from '../../shared/commands.js';
import type { SessionEvent } from '../../shared/events.js';
import type { ServerMessage, ServerMessageOf } from '../../shared/protocol.js';

/**
 * A console over a real WebSocket, for tests: records every message, tracks the seq it is
 * caught up to, and checks the wire promises as it goes (no gap across frames it was
 * meant to see in full, no duplicate, seqs increasing).
 */
export class TestConsole {
  readonly messages: ServerMessage[] = [];
  readonly events: SessionEvent[] = [];
  seq = 0;
  closeCode: number | null = null;
  closeReason = '';
  readonly violations: string[] = [];
  private waiters: (() => void)[] = [];

  private constructor(readonly socket: WebSocket) {
    socket.on('message', (data) => this.receive(JSON.parse(data.toString()) as ServerMessage));
    socket.on('close', (code, reason) => {
      this.closeCode = code;
      this.closeReason = reason.toString();
      this.wake();
    });
    socket.on('error', () => undefined);
  }

  static open(url: string, headers: Record<string, string> = {}): Promise<TestConsole> {
    return new Promise((resolve, reject) => {
      const socket = new WebSocket(url, { headers });
      const client = new TestConsole(socket);
      socket.once('open', () => resolve(client));
      socket.once('unexpected-response', (_req, res) => reject(Object.assign(new Error(`HTTP ${res.statusCode}`), { status: res.statusCode })));
      socket.once('error', reject);
    });
  }

  private receive(message: ServerMessage): void {
    this.messages.push(message);
    switch (message.type) {
      case 'snapshot':
        this.seq = message.seq;
        break;
      case 'resumed':
      case 'events':
        for (const event of message.events) {
          if (event.seq <= this.seq) this.violations.push(`duplicate or out of order: seq ${event.seq} after ${this.seq}`);
          this.events.push(event);
          this.seq = Math.max(this.seq, event.seq);
        }
        if (message.seq < this.seq) this.violations.push(`frame seq ${message.seq} behind ${this.seq}`);
        this.seq = message.seq;
        break;
      default:
        break;
    }
    this.wake();
  }

  private wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const wake of waiters) wake();
  }

  /** Resolves with the first message (already received or future) matching `match`. */
  waitFor<T extends ServerMessage>(match: (message: ServerMessage) => message is T, timeoutMs?: number): Promise<T>;
  waitFor(match: (message: ServerMessage) => boolean, timeoutMs?: number): Promise<ServerMessage>;
  waitFor(match: (message: ServerMessage) => boolean, timeoutMs = 10_000): Promise<ServerMessage> {
    return this.until(() => this.messages.find(match), timeoutMs, 'a matching message');
  }

  /** Resolves when `check` returns something truthy, re-checked on every message. */
  until<T>(check: () => T | undefined | false | null, timeoutMs = 10_000, what = 'condition'): Promise<T> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(new Error(`timed out waiting for ${what}; last messages: ${JSON.stringify(this.messages.slice(-3)).slice(0, 600)}`));
      }, timeoutMs);
      const attempt = () => {
        const value = check();
        if (value) {
          clearTimeout(timer);
          resolve(value);
          return;
        }
        if (this.closeCode !== null && !value) {
          clearTimeout(timer);
          reject(new Error(`socket closed (${this.closeCode} ${this.closeReason}) while waiting for ${what}`));
          return;
        }
        this.waiters.push(attempt);
      };
      attempt();
    });
  }

  first<T extends ServerMessage['type']>(type: T): Promise<ServerMessageOf<T>> {
    return this.waitFor((m): m is ServerMessageOf<T> => m.type === type);
  }

  /** Sends a command and waits for its ack or error. */
  async command(command: CommandInput | Record<string, unknown>, id = randomUUID()): Promise<ServerMessageOf<'ack'> | ServerMessageOf<'error'>> {
    this.sendRaw(JSON.stringify({ type: 'command', id, command }));
    return this.reply(id);
  }

  reply(id: string): Promise<ServerMessageOf<'ack'> | ServerMessageOf<'error'>> {
    return this.waitFor(
      (m): m is ServerMessageOf<'ack'> | ServerMessageOf<'error'> => (m.type === 'ack' || m.type === 'error') && m.id === id,
    );
  }

  sendRaw(data: string | Buffer): void {
    this.socket.send(data);
  }

  waitForSeq(seq: number, timeoutMs?: number): Promise<true> {
    return this.until(() => this.seq >= seq || undefined, timeoutMs, `seq ${seq} (at ${this.seq})`) as Promise<true>;
  }

  waitClosed(timeoutMs = 10_000): Promise<number> {
    return this.until(() => this.closeCode ?? undefined, timeoutMs, 'close') as Promise<number>;
  }

  close(): void {
    this.socket.close();
  }

  kinds(): string[] {
    return this.events.map((event) => event.kind);
  }
}

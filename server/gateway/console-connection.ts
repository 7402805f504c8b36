import type { WebSocket } from 'ws';
import { CloseCode } from '../../shared/errors.js';
import type { SessionEvent } from '../../shared/events.js';
import type { ServerMessage } from '../../shared/protocol.js';
import type { CrewRole } from '../../shared/roles.js';

export interface ConsoleLimits {
  /** Bytes the socket may hold unsent before the console counts as too slow (default 4 MiB). */
  maxBufferedBytes: number;
  /** Events a console may have waiting while it catches up (snapshot or replay in flight). */
  maxQueuedEvents: number;
}

/**
 * One open console: its identity (fixed for the life of the socket), where it is in the
 * session's seq, and the events held back while its snapshot or replay is being built.
 */
export class ConsoleConnection {
  /** The session seq this console is caught up to (events shown or filtered out for its role). */
  cursor = 0;
  /** True while a snapshot or replay is being prepared; live events wait in `held` meanwhile. */
  syncing = true;
  held: SessionEvent[] = [];
  closed = false;
  /** Set by the heartbeat: cleared on ping, set again by the pong. */
  alive = true;

  constructor(
    readonly socket: WebSocket,
    readonly id: string,
    readonly sessionId: string,
    readonly role: CrewRole,
    readonly personId: string,
    readonly name: string,
    private readonly limits: ConsoleLimits,
    private readonly onTooSlow: (console: ConsoleConnection) => void,
  ) {}

  hold(events: readonly SessionEvent[]): void {
    if (this.held.length + events.length > this.limits.maxQueuedEvents) {
      this.tooSlow();
      return;
    }
    for (const event of events) this.held.push(event);
  }

  /**
   * Writes one text frame (a string, or its UTF-8 bytes when the same frame goes to many
   * consoles); a console over its buffer limit is closed instead (it resumes on reconnect).
   */
  sendFrame(frame: string | Buffer): boolean {
    if (this.closed) return false;
    if (this.socket.bufferedAmount > this.limits.maxBufferedBytes) {
      this.tooSlow();
      return false;
    }
    this.socket.send(frame, { binary: false });
    return true;
  }

  send(message: ServerMessage): boolean {
    return this.sendFrame(JSON.stringify(message));
  }

  close(code: number, reason: string): void {
    if (this.closed) return;
    this.closed = true;
    this.held = [];
    this.socket.close(code, reason);
  }

  private tooSlow(): void {
    this.onTooSlow(this);
    this.close(CloseCode.TooSlow, 'too slow: reconnect and resume');
  }
}

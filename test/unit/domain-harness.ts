import { expect } from 'vitest';
import { commandSchema, systemCommandSchemas, type CommandInput, type SystemCommand } from '../../shared/commands.js';
import { sessionEventSchema, type SessionEvent } from '../../shared/events.js';
import type { SessionState } from '../../shared/model.js';
import type { Actor } from '../../shared/roles.js';
import {
  cloneState,
  createSessionEvent,
  decide,
  evolve,
  foldEvents,
  stamp,
  type Decision,
} from '../../server/domain/index.js';
import type { CueroomError } from '../../server/errors.js';

export const ops: Actor = { id: 'u-ops', name: 'Olga', role: 'ops' };
export const tech: Actor = { id: 'u-tech', name: 'Tariq', role: 'tech' };
export const host: Actor = { id: 'u-host', name: 'Hana', role: 'host' };
export const cohost: Actor = { id: 'u-cohost', name: 'Cody', role: 'cohost' };
export const observer: Actor = { id: 'u-obs', name: 'Omar', role: 'observer' };
export const ingest: Actor = { id: 'chatbot', name: 'Chat bot', role: 'ingest' };
export const system: Actor = { id: 'cueroom', name: 'Cueroom', role: 'system' };

export const T0 = 1_700_000_000_000;

/**
 * A session driven the way the server drives one: parse → decide → stamp → evolve. Every
 * step also checks what must always hold: decide leaves the state alone, accepted commands
 * produce at least one event, events match the wire schema, seqs follow without gaps.
 */
export class Room {
  readonly events: SessionEvent[] = [];
  state: SessionState;
  now = T0;
  private nextCommand = 1;

  constructor(options: { checklist?: { id: string; label: string }[] } = {}) {
    const created = stamp(
      [createSessionEvent({ sessionId: 's-test', title: 'Spring launch', scheduledFor: T0 + 3_600_000, ...options })],
      0,
      { now: this.now, commandId: 'create:s-test' },
      ops,
    );
    this.state = foldEvents(created);
    this.events.push(...created);
  }

  /** Runs a command (parsed with the wire schema, so defaults apply) and folds what it produced. */
  run(actor: Actor, input: CommandInput | SystemCommand, commandId?: string): Decision {
    this.now += 1000;
    const id = commandId ?? `cmd-${String(this.nextCommand++).padStart(4, '0')}`;
    const command = Object.hasOwn(systemCommandSchemas, input.kind)
      ? (input as SystemCommand)
      : commandSchema.parse(input);
    const before = cloneState(this.state);
    const decision = decide(this.state, command, actor, { now: this.now, commandId: id });
    expect(this.state, 'decide must not touch the state').toEqual(before);
    if (!decision.ok) return decision;
    expect(decision.events.length).toBeGreaterThan(0);
    const events = stamp(decision.events, this.state.seq, { now: this.now, commandId: id }, actor);
    for (const event of events) {
      const parsed = sessionEventSchema.safeParse(event);
      expect(parsed.error?.issues ?? [], `${event.kind} matches the wire schema`).toEqual([]);
      expect(event.seq).toBe(this.state.seq + 1);
      evolve(this.state, event);
      this.events.push(event);
    }
    return decision;
  }

  /** Runs a command that must be accepted; returns the events it produced. */
  ok(actor: Actor, input: CommandInput | SystemCommand, commandId?: string): SessionEvent[] {
    const from = this.events.length;
    const decision = this.run(actor, input, commandId);
    if (!decision.ok)
      throw new Error(`expected ${input.kind} to be accepted, got ${decision.error.code}: ${decision.error.message}`);
    return this.events.slice(from);
  }

  /** Runs a command that must be refused; returns the error. The state must not move. */
  refused(actor: Actor, input: CommandInput | SystemCommand): CueroomError {
    const seq = this.state.seq;
    const decision = this.run(actor, input);
    if (decision.ok)
      throw new Error(`expected ${input.kind} to be refused, got ${decision.events.map((e) => e.kind).join(', ')}`);
    expect(this.state.seq).toBe(seq);
    return decision.error;
  }

  /** The only event a command produced. */
  one(actor: Actor, input: CommandInput | SystemCommand, commandId?: string): SessionEvent {
    const events = this.ok(actor, input, commandId);
    expect(events).toHaveLength(1);
    return events[0]!;
  }

  /** Preflight with every checklist item checked, then live. */
  goLive(): this {
    if (this.state.status === 'scheduled') this.ok(ops, { kind: 'session.start_preflight' });
    for (const item of this.state.checklist) {
      if (!item.checked) this.ok(tech, { kind: 'session.check_item', itemId: item.id });
    }
    this.ok(ops, { kind: 'session.go_live' });
    return this;
  }

  /** Loads a small lineup (p1 on screen afterwards if `switchTo` is given and the session is live). */
  lineup(): this {
    this.ok(ops, {
      kind: 'lineup.set',
      products: [
        { id: 'p1', name: 'Kettle', price: 4900, stock: 10, talkingPoints: ['Boils in 90 s'] },
        { id: 'p2', name: 'Teapot', price: 2900, stock: 3 },
        { id: 'p3', name: 'Mug set', price: 1500, stock: 0 },
      ],
    });
    return this;
  }
}

/** Folding everything from scratch gives the state built step by step. */
export function expectReplayMatches(room: Room): void {
  expect(foldEvents(room.events)).toEqual(room.state);
}

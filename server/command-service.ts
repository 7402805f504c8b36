import { randomUUID } from 'node:crypto';
import type { z } from 'zod';
import { commandIdSchema, commandSchema, commandSchemas, type Command, type SystemCommand } from '../shared/commands.js';
import { ErrorCode } from '../shared/errors.js';
import { isAllowed } from '../shared/permissions.js';
import type { Actor } from '../shared/roles.js';
import type { SessionEvent } from '../shared/events.js';
import type { SessionState } from '../shared/model.js';
import { cloneState, createSessionEvent, decide, stamp } from './domain/index.js';
import { CueroomError, toErrorBody } from './errors.js';
import type { CommandRecord, CommandResult, SessionStore } from './store/session-store.js';

/** How often a command is decided again after losing a race for the session's next seq. */
const MAX_ATTEMPTS = 10;
/** Upper bound of the random pause before deciding again, times the attempt number, in ms. */
const CONFLICT_BACKOFF_MS = 5;

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export interface CommandOutcome {
  result: CommandResult;
  /** The command kind, or 'unknown' when it did not parse (for metrics). */
  kind: string;
  /** True when the command id had been seen and the stored result was returned. */
  duplicate: boolean;
}

export interface CreateSessionInput {
  sessionId?: string;
  title: string;
  scheduledFor?: number | null;
  checklist?: { id: string; label: string }[];
}

/**
 * The path of one command: parse → authorize → decide → store.apply, with idempotency by
 * command id and a bounded decide-again loop on version conflicts. Used unchanged by the
 * WebSocket gateway and the REST API, so both answer the same way.
 */
export class CommandService {
  /** Tail of the queue of commands per session on this instance. */
  private readonly queues = new Map<string, Promise<void>>();
  private readonly appliedListeners = new Set<AppliedListener>();

  constructor(
    private readonly store: SessionStore,
    private readonly clock: () => number = Date.now,
  ) {}

  /**
   * Runs `input` (unparsed) for `actor` on a session. Never throws for bad input: refusals
   * come back as results and are audited. Throws only when a backend fails (unavailable).
   */
  async execute(sessionId: string, commandId: unknown, input: unknown, actor: Actor): Promise<CommandOutcome> {
    const kind = kindOf(input);
    const id = commandIdSchema.safeParse(commandId);
    if (!id.success) {
      const error = CueroomError.invalid('Every command needs an `id` (8–64 letters, digits, . _ : -), e.g. a UUID.', id.error.issues);
      return this.refuse({ sessionId, commandId: `invalid:${randomUUID()}`, at: this.clock(), actor, command: input }, error, kind);
    }
    const record: CommandRecord = { sessionId, commandId: id.data, at: this.clock(), actor, command: input };
    // A retried id is recognized where it is written: `apply` and `refuse` are idempotent
    // and answer with the first result (no read of the results up front on every command).
    const parsed = commandSchema.safeParse(input);
    if (!parsed.success) {
      return this.refuse(record, CueroomError.invalid(describeIssues(parsed.error.issues), parsed.error.issues), kind);
    }
    const command = parsed.data;
    record.command = command;
    if (actor.role === 'system' || !isAllowed(actor.role, command.kind)) {
      const who = actor.role === 'system' ? 'the server' : `the ${actor.role} role`;
      return this.refuse(record, new CueroomError(ErrorCode.Forbidden, `${command.kind} is not allowed for ${who}.`), kind);
    }
    return this.run(record, command, kind);
  }

  /** Commands the server issues for itself (presence); no permission check, same path otherwise. */
  async executeSystem(sessionId: string, commandId: string, command: SystemCommand): Promise<CommandOutcome> {
    const record: CommandRecord = { sessionId, commandId, at: this.clock(), actor: SYSTEM_ACTOR, command };
    return this.run(record, command, command.kind);
  }

  /**
   * Calls `listener` with the events of every command applied through this instance (the
   * health rules see each sample here, before any fan-out coalescing). Returns the unsubscribe.
   */
  onApplied(listener: AppliedListener): () => void {
    this.appliedListeners.add(listener);
    return () => this.appliedListeners.delete(listener);
  }

  /** Creates a session with its first event; an existing id is a conflict. */
  async createSession(input: CreateSessionInput, actor: Actor): Promise<SessionState> {
    const sessionId = input.sessionId ?? `s-${randomUUID().slice(0, 8)}`;
    const now = this.clock();
    const commandId = `create:${sessionId}`;
    const body = createSessionEvent({
      sessionId,
      title: input.title,
      scheduledFor: input.scheduledFor ?? null,
      checklist: input.checklist,
    });
    const events = stamp([body], 0, { now, commandId }, actor);
    const outcome = await this.store.apply({
      record: { sessionId, commandId, at: now, actor, command: { kind: 'session.create', ...input, sessionId } },
      expectedSeq: 0,
      events,
    });
    if (outcome.status !== 'applied') {
      throw new CueroomError(ErrorCode.Conflict, `A session with id ${sessionId} already exists.`);
    }
    const state = await this.store.load(sessionId);
    if (!state) throw new CueroomError(ErrorCode.Unavailable, 'The session was created but could not be read back; retry.');
    return cloneState(state);
  }

  /**
   * Commands of one session run one at a time on this instance: racing them against each
   * other would only burn compare-and-set retries. Across instances the store's
   * compare-and-set decides, and the loser decides again after a short, jittered pause.
   */
  private run(record: CommandRecord, command: Command | SystemCommand, kind: string): Promise<CommandOutcome> {
    const previous = this.queues.get(record.sessionId) ?? Promise.resolve();
    const next = previous.then(() => this.runNow(record, command, kind));
    const tail = next.then(
      () => undefined,
      () => undefined,
    );
    this.queues.set(record.sessionId, tail);
    void tail.then(() => {
      if (this.queues.get(record.sessionId) === tail) this.queues.delete(record.sessionId);
    });
    return next;
  }

  /**
   * Decides on the state this instance already holds (`peek`), when it has one, and lets
   * the store's compare-and-set say whether it was current: with one instance serving a
   * session, a command is then one round trip to the store. A conflict, or a refusal
   * decided on a state that might be stale, is decided again on a freshly loaded state.
   */
  private async runNow(record: CommandRecord, command: Command | SystemCommand, kind: string): Promise<CommandOutcome> {
    let fresh = false;
    // One more turn than MAX_ATTEMPTS: the first, on a peeked state, may only find it stale.
    for (let attempt = 0; attempt <= MAX_ATTEMPTS; attempt++) {
      // Only a conflict on a fresh state is a real race with another instance: back off.
      if (attempt > 0 && fresh) await pause(Math.random() * CONFLICT_BACKOFF_MS * attempt);
      const peeked = attempt === 0 ? (this.store.peek?.(record.sessionId) ?? null) : null;
      fresh = peeked === null;
      const state = peeked ?? (await this.store.load(record.sessionId));
      if (!state) {
        // Not audited: there is no session to file it under, and unknown ids must not create keys.
        return {
          result: { ok: false, error: toErrorBody(new CueroomError(ErrorCode.NotFound, `There is no session ${record.sessionId}.`)) },
          kind,
          duplicate: false,
        };
      }
      const decision = decide(state, command, record.actor, { now: record.at, commandId: record.commandId });
      if (!decision.ok) {
        if (!fresh) continue; // maybe refused for what another instance already changed
        return this.refuse(record, decision.error, kind);
      }
      const events = stamp(decision.events, state.seq, { now: record.at, commandId: record.commandId }, record.actor);
      const outcome = await this.store.apply({ record, expectedSeq: state.seq, events });
      if (outcome.status === 'applied') {
        for (const listener of this.appliedListeners) {
          try {
            listener(record.sessionId, events);
          } catch {
            // A listener's failure is its own; the command was applied and is answered as such.
          }
        }
        return { result: outcome.result, kind, duplicate: false };
      }
      if (outcome.status === 'duplicate') return { result: outcome.result, kind, duplicate: true };
    }
    return this.refuse(
      record,
      new CueroomError(ErrorCode.Unavailable, 'The session is too busy right now; retry with the same command id.'),
      kind,
      false,
    );
  }

  private async refuse(record: CommandRecord, error: CueroomError, kind: string, remember = true): Promise<CommandOutcome> {
    // A retry of a command that went through before may be refused now (its effect is
    // there): it gets its first answer. Refusals are rare, so this read costs little.
    if (remember) {
      const seen = await this.store.result(record.sessionId, record.commandId);
      if (seen) return { result: seen, kind, duplicate: true };
    }
    const body = toErrorBody(error);
    // A transient refusal is not remembered: the retry with the same id must get a real chance.
    const result = remember ? await this.store.refuse(record, body) : { ok: false as const, error: body };
    return { result, kind, duplicate: false };
  }
}

export type AppliedListener = (sessionId: string, events: readonly SessionEvent[]) => void;

export const SYSTEM_ACTOR: Actor = { id: 'cueroom', name: 'Cueroom', role: 'system' };

function kindOf(input: unknown): string {
  if (input && typeof input === 'object' && 'kind' in input && typeof input.kind === 'string' && input.kind.length <= 64) {
    return Object.hasOwn(commandSchemas, input.kind) ? input.kind : 'unknown';
  }
  return 'unknown';
}

function describeIssues(issues: readonly z.core.$ZodIssue[]): string {
  const first = issues[0];
  if (!first) return 'The command is not valid.';
  const where = first.path.length ? `${first.path.map(String).join('.')}: ` : '';
  const more = issues.length > 1 ? ` (and ${issues.length - 1} more problem${issues.length > 2 ? 's' : ''})` : '';
  return `The command is not valid: ${where}${first.message}${more}.`;
}

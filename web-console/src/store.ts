import { batch, signal } from '@preact/signals';
import { incidentVisibleToHost, questionVisibleToHost } from '../../shared/audience.js';
import type { SessionEvent } from '../../shared/events.js';
import type { SessionState } from '../../shared/model.js';
import type { CrewRole } from '../../shared/roles.js';
import { evolve, initialState } from '../../server/domain/evolve.js';

/*
 * The console folds its role-filtered events with the server's own reducer, then
 * publishes the state in slices: a health sample re-renders the health panel only, never
 * the 500-question queue. Each slice signal gets a new object only when an event touched it.
 */

export type ConnectionPhase = 'connecting' | 'live' | 'reconnecting' | 'resynced' | 'stopped';

export interface Identity {
  sessionId: string;
  role: CrewRole;
  personId: string;
  name: string;
}

export interface ActivityEntry {
  seq: number;
  at: number;
  kind: SessionEvent['kind'];
  actor: string;
  summary: string;
}

const ACTIVITY_LIMIT = 200;

type Slice = 'session' | 'lineup' | 'questions' | 'incidents' | 'cues' | 'health' | 'presence';

function sliceOf(kind: SessionEvent['kind']): Slice {
  const family = kind.slice(0, kind.indexOf('.'));
  switch (family) {
    case 'lineup':
    case 'product':
      return 'lineup';
    case 'question':
      return 'questions';
    case 'incident':
      return 'incidents';
    case 'cue':
      return 'cues';
    case 'health':
      return 'health';
    case 'presence':
      return 'presence';
    default:
      return kind === 'session.target_bitrate_set' ? 'health' : 'session';
  }
}

export function summarize(event: SessionEvent): string {
  switch (event.kind) {
    case 'session.created':
      return `created “${event.title}”`;
    case 'session.status_changed':
      return `session ${event.from} → ${event.to}${event.override ? ` (override: ${event.reason ?? 'no reason'})` : ''}`;
    case 'session.checklist_item_added':
      return `added checklist item “${event.item.label}”`;
    case 'session.checklist_item_checked':
      return `${event.item.checked ? 'checked' : 'unchecked'} “${event.item.label}”`;
    case 'session.target_bitrate_set':
      return `target bitrate ${event.targetBitrateKbps} kbps`;
    case 'lineup.set':
      return `lineup set (${event.products.length} products)`;
    case 'product.switched':
      return `switched to ${event.next.name}`;
    case 'product.price_changed':
      return `${event.product.name} price ${event.previousPrice} → ${event.product.price}`;
    case 'product.stock_changed':
      return `${event.product.name} stock ${event.previousStock} → ${event.product.stock}`;
    case 'product.sold_out':
      return `${event.product.name} sold out`;
    case 'cue.sent':
      return `cue to ${event.cue.to.join(', ')}: “${event.cue.text}”`;
    case 'cue.acknowledged':
      return `cue “${event.cue.text}” acknowledged`;
    case 'health.sampled':
      return `health ${Math.round(event.sample.bitrateKbps)} kbps, ${event.sample.fps} fps`;
    case 'presence.joined':
    case 'presence.changed':
    case 'presence.left':
      return `${event.entry.name} ${event.kind === 'presence.left' ? 'left' : event.kind === 'presence.joined' ? 'joined' : 'consoles changed'}`;
    default:
      if ('incident' in event) return `incident ${event.kind.slice(9).replace('_', ' ')}: ${event.incident.title}`;
      if ('question' in event) return `question ${event.kind.slice(9)}: “${event.question.text.slice(0, 60)}”`;
      return event.kind;
  }
}

export class ConsoleStore {
  readonly identity = signal<Identity | null>(null);
  readonly phase = signal<ConnectionPhase>('connecting');
  /** When the phase last changed (ms since epoch), for "live for 2 min". */
  readonly phaseSince = signal<number>(Date.now());
  readonly stopReason = signal<string | null>(null);

  readonly session = signal<
    Pick<SessionState, 'id' | 'title' | 'status' | 'checklist' | 'liveAt' | 'preflightAt' | 'endedAt' | 'seq'>
  >(initialState(''));
  readonly lineup = signal<{ products: SessionState['lineup']; currentProductId: string | null }>({
    products: [],
    currentProductId: null,
  });
  readonly questions = signal<SessionState['questions']>({});
  readonly incidents = signal<SessionState['incidents']>({});
  readonly cues = signal<SessionState['cues']>({});
  readonly health = signal<SessionState['health']>(initialState('').health);
  readonly presence = signal<SessionState['presence']>({});
  readonly activity = signal<ActivityEntry[]>([]);

  /** The last session seq this console is caught up to; what a reconnect resumes from. */
  seq: number | null = null;
  private state: SessionState = initialState('');

  get role(): CrewRole | null {
    return this.identity.value?.role ?? null;
  }

  setPhase(phase: ConnectionPhase, now = Date.now()): void {
    if (this.phase.peek() === phase) return;
    batch(() => {
      this.phase.value = phase;
      this.phaseSince.value = now;
    });
  }

  /** Replaces everything with a snapshot (first connect, or a resume that was not possible). */
  applySnapshot(state: SessionState, seq: number): void {
    this.state = structuredClone(state);
    this.seq = seq;
    this.publish(new Set<Slice>(['session', 'lineup', 'questions', 'incidents', 'cues', 'health', 'presence']));
  }

  /** Folds events; `seq` is what the frame says the console is caught up to. */
  applyEvents(events: readonly SessionEvent[], seq: number): void {
    const touched = new Set<Slice>();
    const role = this.role;
    const added: ActivityEntry[] = [];
    for (const event of events) {
      // A replay can overlap what a frame already delivered: never fold an event twice.
      if (this.seq !== null && event.seq <= this.seq) continue;
      evolve(this.state, event);
      touched.add(sliceOf(event.kind));
      // audience.ts: the host hears the change that takes an entity off its screen and drops it.
      if (role === 'host') {
        if ('incident' in event && !incidentVisibleToHost(event.incident))
          delete this.state.incidents[event.incident.id];
        if ('question' in event && !questionVisibleToHost(event.question))
          delete this.state.questions[event.question.id];
      }
      if (event.kind !== 'health.sampled') {
        added.push({
          seq: event.seq,
          at: event.at,
          kind: event.kind,
          actor: event.actor.name,
          summary: summarize(event),
        });
      }
    }
    if (this.seq === null || seq > this.seq) this.seq = seq;
    this.state.seq = Math.max(this.state.seq, seq);
    batch(() => {
      this.publish(touched);
      if (added.length > 0)
        this.activity.value = [...added.reverse(), ...this.activity.peek()].slice(0, ACTIVITY_LIMIT);
    });
  }

  private publish(touched: Set<Slice>): void {
    const s = this.state;
    batch(() => {
      if (touched.has('session')) {
        this.session.value = {
          id: s.id,
          title: s.title,
          status: s.status,
          checklist: [...s.checklist],
          liveAt: s.liveAt,
          preflightAt: s.preflightAt,
          endedAt: s.endedAt,
          seq: s.seq,
        };
      }
      if (touched.has('lineup')) this.lineup.value = { products: [...s.lineup], currentProductId: s.currentProductId };
      if (touched.has('questions')) this.questions.value = { ...s.questions };
      if (touched.has('incidents')) this.incidents.value = { ...s.incidents };
      if (touched.has('cues')) this.cues.value = { ...s.cues };
      if (touched.has('health')) this.health.value = { ...s.health, window: [...s.health.window] };
      if (touched.has('presence')) this.presence.value = { ...s.presence };
    });
  }
}

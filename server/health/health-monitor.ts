import { DEFAULT_HEALTH_RULES, type HealthRuleName } from '../../shared/health.js';
import type { SessionEvent } from '../../shared/events.js';
import type { HealthSample, IncidentSignal, SessionState } from '../../shared/model.js';
import type { CommandService } from '../command-service.js';
import type { SessionStore } from '../store/session-store.js';
import { HealthRuleEngine, type HealthAction, type RuleContext } from './rule-engine.js';

export interface HealthMonitorOptions {
  /** The clock of the rules (default Date.now); timers are real timers either way. */
  clock?: () => number;
  /** Where failures to raise or clear go (default: nowhere). */
  onError?: (error: unknown, action: HealthAction) => void;
}

/**
 * Runs the health rules of the sessions whose samples this instance receives, and turns
 * their breaches, recoveries and resolutions into system commands (audited, and fanned
 * out like any other command).
 *
 * Ownership (docs/adr/0005-health-rules.md): the instance that receives a session's
 * samples owns its watchdog; there is no Redis lease. Before the watchdog fires it reads
 * the session's latest sample from the store, so samples that reached another instance
 * keep it quiet, and two instances breaching at once still make one incident (the
 * domain answers a second breach of a breaching dedupe key with a conflict).
 */
export class HealthMonitor {
  readonly engine: HealthRuleEngine;
  private readonly clock: () => number;
  private readonly timers = new Map<string, { at: number; timer: NodeJS.Timeout }>();
  /** Work per session runs in order: a clear must never overtake its breach. */
  private readonly chains = new Map<string, Promise<void>>();
  /** ts of the newest sample this instance judged, per session. */
  private readonly lastTs = new Map<string, number>();
  private unsubscribe: (() => void) | null = null;
  private counter = 0;
  private stopped = false;

  constructor(
    private readonly commands: CommandService,
    private readonly store: SessionStore,
    private readonly options: HealthMonitorOptions = {},
  ) {
    this.clock = options.clock ?? Date.now;
    this.engine = new HealthRuleEngine(this.clock);
  }

  start(): void {
    this.unsubscribe ??= this.commands.onApplied((sessionId, events) => this.onEvents(sessionId, events));
  }

  stop(): void {
    this.stopped = true;
    this.unsubscribe?.();
    this.unsubscribe = null;
    for (const { timer } of this.timers.values()) clearTimeout(timer);
    this.timers.clear();
  }

  /**
   * Arms the watchdog of every live session from now (call once the instance serves): a
   * session whose agent stopped while no instance was running would otherwise never be
   * reported down. With several instances each arms its own; before firing each reads the
   * store's latest sample, so only a session silent everywhere raises (once: dedupe key).
   */
  async armLive(): Promise<void> {
    for (const summary of await this.store.list()) {
      if (summary.status !== 'live') continue;
      this.enqueue(summary.id, async () => {
        const state = await this.store.load(summary.id);
        if (!state || state.status !== 'live') return;
        await this.ensureSeeded(summary.id);
        this.lastTs.set(summary.id, Math.max(this.lastTs.get(summary.id) ?? 0, state.health.latest?.ts ?? 0));
        this.engine.expectSamples(summary.id, contextOf(state));
      });
    }
  }

  /** Resolves once every queued evaluation has run (for tests and shutdown). */
  async idle(): Promise<void> {
    while (this.chains.size > 0) await Promise.all(this.chains.values());
  }

  private onEvents(sessionId: string, events: readonly SessionEvent[]): void {
    for (const event of events) {
      switch (event.kind) {
        case 'health.sampled': {
          const sample = event.sample;
          this.enqueue(sessionId, async () => {
            await this.ensureSeeded(sessionId);
            this.lastTs.set(sessionId, Math.max(this.lastTs.get(sessionId) ?? 0, sample.ts));
            await this.dispatch(this.engine.observe(sessionId, sample));
          });
          break;
        }
        case 'health.rules_set':
          this.engine.setContext(sessionId, { rules: event.rules });
          this.enqueue(sessionId, async () => undefined);
          break;
        case 'session.target_bitrate_set':
          this.engine.setContext(sessionId, { targetBitrateKbps: event.targetBitrateKbps });
          break;
        case 'session.status_changed':
          if (event.to === 'ended') this.forget(sessionId);
          break;
        default:
          break;
      }
    }
  }

  private forget(sessionId: string): void {
    this.engine.forget(sessionId);
    this.lastTs.delete(sessionId);
    const entry = this.timers.get(sessionId);
    if (entry) clearTimeout(entry.timer);
    this.timers.delete(sessionId);
  }

  private enqueue(sessionId: string, work: () => Promise<void>): void {
    const previous = this.chains.get(sessionId) ?? Promise.resolve();
    const next = previous
      .then(work)
      .catch(() => undefined)
      .then(() => this.schedule(sessionId));
    this.chains.set(sessionId, next);
    void next.then(() => {
      if (this.chains.get(sessionId) === next) this.chains.delete(sessionId);
    });
  }

  /** The first sample after a start (or a restart): rules and open signal incidents from the state. */
  private async ensureSeeded(sessionId: string): Promise<void> {
    if (this.engine.has(sessionId)) return;
    const state = await this.store.load(sessionId);
    if (!state) return;
    const open = Object.values(state.incidents)
      .filter((incident) => incident.status !== 'resolved' && incident.signal)
      .map((incident) => ({ rule: incident.signal!.rule, breaching: incident.signal!.breaching }));
    this.engine.seed(sessionId, contextOf(state), open);
  }

  private schedule(sessionId: string): void {
    if (this.stopped) return;
    const at = this.engine.nextDeadline(sessionId);
    const current = this.timers.get(sessionId);
    if (current && current.at === at) return;
    if (current) clearTimeout(current.timer);
    this.timers.delete(sessionId);
    if (at === null) return;
    const timer = setTimeout(
      () => {
        this.timers.delete(sessionId);
        this.enqueue(sessionId, () => this.onDeadline(sessionId));
      },
      Math.max(0, at - this.clock()),
    );
    timer.unref();
    this.timers.set(sessionId, { at, timer });
  }

  private async onDeadline(sessionId: string): Promise<void> {
    const state = await this.store.load(sessionId);
    if (!state || state.status === 'ended') {
      this.forget(sessionId);
      return;
    }
    // A newer sample reached another instance: the stream is not silent, only not here.
    const latest = state.health.latest;
    if (latest && latest.ts > (this.lastTs.get(sessionId) ?? 0)) {
      this.lastTs.set(sessionId, latest.ts);
      await this.dispatch(this.engine.observe(sessionId, latest, contextOf(state)));
      return;
    }
    await this.dispatch(this.engine.tick(sessionId));
  }

  private async dispatch(actions: HealthAction[]): Promise<void> {
    for (const action of actions) {
      try {
        await this.run(action);
      } catch (error) {
        this.options.onError?.(error, action);
      }
    }
  }

  private async run(action: HealthAction): Promise<void> {
    const { sessionId, rule, dedupeKey } = action;
    const commandId = `sig:${rule}:${action.type}:${action.at}:${++this.counter}`.slice(0, 64);
    switch (action.type) {
      case 'breach': {
        const state = await this.store.load(sessionId);
        if (!state) return;
        await this.commands.executeSystem(sessionId, commandId, {
          kind: 'signal.breach',
          dedupeKey,
          severity: action.severity,
          category: action.category,
          title: action.title,
          detail: action.detail,
          signal: signalOf(state, rule, action.sample, action.at),
        });
        return;
      }
      case 'clear':
        await this.commands.executeSystem(sessionId, commandId, { kind: 'signal.clear', dedupeKey, rule });
        return;
      case 'resolve':
        await this.commands.executeSystem(sessionId, commandId, {
          kind: 'signal.resolve',
          dedupeKey,
          rule,
          resolution: action.resolution,
        });
        return;
    }
  }
}

function contextOf(state: SessionState): RuleContext {
  return { rules: state.health.rules ?? DEFAULT_HEALTH_RULES, targetBitrateKbps: state.health.targetBitrateKbps };
}

/** What was on air when the rule breached: the product on screen, the audience, who can fix it. */
function signalOf(state: SessionState, rule: HealthRuleName, sample: HealthSample | null, at: number): IncidentSignal {
  const product = state.lineup.find((p) => p.id === state.currentProductId) ?? null;
  const viewers = sample?.viewers ?? state.health.latest?.viewers ?? null;
  return {
    rule,
    breaching: true,
    since: at,
    clearedAt: null,
    sample,
    context: {
      productId: product?.id ?? null,
      productName: product?.name ?? null,
      viewers,
      techOnDuty: Object.values(state.presence)
        .filter((entry) => entry.role === 'tech')
        .map((entry) => entry.name),
    },
  };
}

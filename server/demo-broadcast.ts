import { randomUUID } from 'node:crypto';
import type { CommandInput } from '../shared/commands.js';
import type { HealthSample, Product, SessionState } from '../shared/model.js';
import type { Role } from '../shared/roles.js';

export interface DemoBroadcastOptions {
  /** Cueroom's base URL, e.g. http://localhost:3000. */
  baseUrl: string;
  /** The admin token: the driver issues its own invite tokens through the public API. */
  adminToken: string;
  sessionId: string;
  /** One script second, in ms. Default 1000 (real time). */
  tickMs?: number;
  /** Random numbers in [0, 1); inject a seeded one for a repeatable run. Default Math.random. */
  random?: () => number;
  /** Where failed requests are reported (the driver carries on). Default: nowhere. */
  onError?: (error: Error) => void;
}

/** The script repeats every this many seconds once live. */
export const DEMO_CYCLE_S = 180;

const QUESTIONS = [
  'Does the kettle switch off by itself when it boils?',
  'Is the glass hard to clean?',
  'How loud is the grinder?',
  'Can the mugs go in the microwave?',
  'Do you ship to Canada?',
  'Is there a warranty on the grinder?',
  'What colours do the mugs come in?',
  'How long does delivery take?',
  'Can I grind for espresso with it?',
  'Is the discount only during the show?',
  'Does the kettle have a limescale filter?',
  'What is the capacity in cups?',
];
const VIEWERS = ['maya_k', 'tobi', 'lin88', 'ravi', 'sofia.b', 'jon', 'ana_m', 'dev_ops_dad', 'grace', 'omar77'];

type Bot = 'ops' | 'cohost' | 'tech' | 'host' | 'ingest';
const BOTS: Readonly<Record<Bot, string>> = {
  ops: 'Demo ops bot',
  cohost: 'Demo cohost bot',
  tech: 'Demo tech bot',
  host: 'Demo host bot',
  ingest: 'Demo encoder and chat',
};

/**
 * Drives one session through the public REST API the way a real show goes: preflight
 * checked and live, health samples every second with a bitrate dip and a short outage
 * (so the health rules raise and resolve incidents), viewer questions in bursts with
 * upvotes, flags and answers, product switches, a flash sale with falling stock until it
 * sells out, a cue, and an incident raised, acknowledged and resolved by hand.
 *
 * The script is a function of the script second (`step(t)`), so a test can run it
 * second by second without waiting, and the benchmark can run many at once.
 */
export class DemoBroadcast {
  private readonly tickMs: number;
  private readonly random: () => number;
  private tokens: Partial<Record<Bot, string>> = {};
  private timer: NodeJS.Timeout | null = null;
  private t = 0;
  private busy = false;
  private questionCount = 0;
  private asked: string[] = [];
  private flagged: string[] = [];
  private viewers = 180;
  private onAir: Product | null = null;
  private sale: { productId: string; price: number; stock: number } | null = null;
  private manualIncident: string | null = null;
  private cueId: string | null = null;

  constructor(private readonly options: DemoBroadcastOptions) {
    this.tickMs = options.tickMs ?? 1000;
    this.random = options.random ?? Math.random;
  }

  /** Issues the driver's invite tokens (one per bot role). */
  async prepare(): Promise<void> {
    for (const bot of Object.keys(BOTS) as Bot[]) {
      const res = await this.http('POST', `/v1/sessions/${this.options.sessionId}/invites`, this.options.adminToken, {
        role: bot satisfies Role,
        name: BOTS[bot],
        personId: `demo-bot-${bot}`,
      });
      this.tokens[bot] = (res as { token: string }).token;
    }
  }

  /** Runs the script in real time (one step per tick) until `stop`. */
  async start(): Promise<void> {
    await this.prepare();
    this.timer = setInterval(() => {
      if (this.busy) return; // a slow server skips a second rather than piling up
      this.busy = true;
      void this.step(this.t++)
        .catch((error: Error) => this.options.onError?.(error))
        .finally(() => (this.busy = false));
    }, this.tickMs);
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** Script second `t`: 0–4 preflight, then a show that repeats every DEMO_CYCLE_S seconds. */
  async step(t: number): Promise<void> {
    if (t === 2) await this.checkAndGoLive();
    if (t < 5) {
      await this.sample(t, false);
      return;
    }
    const c = (t - 5) % DEMO_CYCLE_S;
    const jobs: Promise<unknown>[] = [];

    // Health: a dip (bitrate under 60 % of target for 15 s) and a 20 s outage each cycle.
    const dip = c >= 60 && c < 75;
    const outage = c >= 120 && c < 140;
    if (!outage) jobs.push(this.sample(t, dip));

    // Questions in bursts, upvotes between them; the cohost flags, the host answers.
    if (c % 12 === 3) jobs.push(this.askBurst(2 + Math.floor(this.random() * 5)));
    else if (this.asked.length > 0 && this.random() < 0.7) jobs.push(this.upvote());
    if (c % 20 === 10 && this.asked.length > 0) jobs.push(this.flag());
    if (c % 20 === 18 && this.flagged.length > 0) jobs.push(this.answer());

    // Products on screen, and the flash sale.
    if (c % 45 === 0) jobs.push(this.switchProduct());
    if (c === 90) jobs.push(this.startSale());
    if (c > 90 && c < 120 && c % 3 === 0) jobs.push(this.sellSome());
    if (c === 170) jobs.push(this.endSale());
    if (c === 85) jobs.push(this.cue());
    if (c === 88) jobs.push(this.acknowledgeCue());

    // An incident handled by hand.
    if (c === 30) jobs.push(this.raiseIncident());
    if (c === 38) jobs.push(this.onIncident('incident.acknowledge'));
    if (c === 46) jobs.push(this.onIncident('incident.add_note', { text: 'Swapped the host mic cable; monitoring.' }));
    if (c === 55) jobs.push(this.onIncident('incident.resolve', { resolution: 'Echo gone after the cable swap.' }));

    await Promise.all(jobs);
  }

  private async checkAndGoLive(): Promise<void> {
    const state = await this.state();
    if (state.status === 'scheduled') await this.command('ops', { kind: 'session.start_preflight' });
    if (state.status === 'live') return;
    for (const item of state.checklist) {
      if (!item.checked) await this.command('tech', { kind: 'session.check_item', itemId: item.id });
    }
    await this.command('tech', { kind: 'session.set_target_bitrate', targetBitrateKbps: 4500 });
    await this.command('ops', { kind: 'session.go_live' });
  }

  private async sample(t: number, dip: boolean): Promise<void> {
    this.viewers = Math.max(0, Math.round(this.viewers + (1500 - this.viewers) * 0.02 + (this.random() - 0.5) * 20));
    const jitter = 1 + (this.random() - 0.5) * 0.06;
    const sample: HealthSample = {
      ts: Date.now(),
      bitrateKbps: Math.round((dip ? 1600 : 4500) * jitter),
      fps: dip ? 24 : 30,
      droppedFrames: dip ? Math.floor(this.random() * 4) : this.random() < 0.05 ? 1 : 0,
      rttMs: Math.round(38 + this.random() * 12),
      viewers: this.viewers,
      encoderCpu: Math.round(40 + this.random() * 15),
      destinations: [
        { id: 'youtube', status: dip ? 'ok' : 'good' },
        { id: 'ivs', status: t % 97 === 0 ? 'STARVING' : 'HEALTHY' },
      ],
    };
    await this.http('POST', `/v1/sessions/${this.options.sessionId}/ingest/health`, this.tokens.ingest, {
      samples: [sample],
    });
  }

  private async askBurst(count: number): Promise<void> {
    const questions = Array.from({ length: count }, () => {
      const n = ++this.questionCount;
      return {
        text: QUESTIONS[n % QUESTIONS.length]!,
        author: this.pick(VIEWERS),
        source: 'chat',
        externalId: `demo-${n}`,
      };
    });
    await this.http('POST', `/v1/sessions/${this.options.sessionId}/ingest/questions`, this.tokens.ingest, {
      questions,
    });
    // Question ids are derived from the ingest command id (routes.ts): source and external id.
    for (const q of questions) this.asked.push(`ingest:chat:${q.externalId}`);
  }

  private upvote(): Promise<unknown> {
    const recent = this.asked.slice(-8);
    return this.command(
      'ingest',
      { kind: 'question.upvote', questionId: this.pick(recent), voter: this.pick(VIEWERS) },
      true,
    );
  }

  private flag(): Promise<unknown> {
    const questionId = this.asked.shift()!;
    this.flagged.push(questionId);
    return this.command('cohost', { kind: 'question.flag', questionId }, true);
  }

  private answer(): Promise<unknown> {
    return this.command('host', { kind: 'question.answer', questionId: this.flagged.shift()! }, true);
  }

  private async switchProduct(): Promise<void> {
    const state = await this.state();
    const choices = state.lineup.filter((p) => p.id !== state.currentProductId && !p.soldOut);
    if (choices.length === 0) return;
    this.onAir = this.pick(choices);
    await this.command('cohost', { kind: 'product.switch', productId: this.onAir.id });
  }

  private async startSale(): Promise<void> {
    const state = await this.state();
    const product = state.lineup.find((p) => p.id === state.currentProductId) ?? state.lineup[0];
    if (!product) return;
    this.sale = { productId: product.id, price: product.price, stock: product.stock };
    await this.command('cohost', {
      kind: 'cue.send',
      to: ['host'],
      text: `Flash sale on ${product.name}: 30 % off now!`,
    });
    await this.command('ops', {
      kind: 'product.set_price',
      productId: product.id,
      price: Math.round(product.price * 0.7),
    });
  }

  private async sellSome(): Promise<void> {
    if (!this.sale) return;
    const state = await this.state();
    const product = state.lineup.find((p) => p.id === this.sale!.productId);
    if (!product || product.stock === 0) return;
    const sold = Math.max(1, Math.ceil(product.stock * (0.15 + this.random() * 0.2)));
    await this.command('ingest', {
      kind: 'product.set_stock',
      productId: product.id,
      stock: Math.max(0, product.stock - sold),
    });
  }

  private async endSale(): Promise<void> {
    if (!this.sale) return;
    const { productId, price, stock } = this.sale;
    this.sale = null;
    await this.command('ops', { kind: 'product.set_price', productId, price });
    await this.command('ops', { kind: 'product.set_stock', productId, stock });
  }

  private async cue(): Promise<void> {
    this.cueId = `demo-cue-${randomUUID().slice(0, 8)}`;
    await this.command('cohost', {
      kind: 'cue.send',
      cueId: this.cueId,
      to: ['host'],
      text: 'Flash sale in 5 seconds',
    });
  }

  private async acknowledgeCue(): Promise<void> {
    if (this.cueId) await this.command('host', { kind: 'cue.acknowledge', cueId: this.cueId }, true);
  }

  private async raiseIncident(): Promise<void> {
    this.manualIncident = `demo-echo-${randomUUID().slice(0, 8)}`;
    await this.command('tech', {
      kind: 'incident.raise',
      incidentId: this.manualIncident,
      severity: 'sev3',
      category: 'audio',
      title: 'Echo on the host mic',
      detail: 'Viewers report an echo in chat.',
      pushToHost: true,
    });
  }

  private async onIncident(
    kind: 'incident.acknowledge' | 'incident.add_note' | 'incident.resolve',
    extra: Record<string, string> = {},
  ): Promise<void> {
    if (!this.manualIncident) return;
    await this.command('tech', { kind, incidentId: this.manualIncident, ...extra } as CommandInput, true);
  }

  private pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.random() * items.length)]!;
  }

  private async state(): Promise<SessionState> {
    const body = await this.http('GET', `/v1/sessions/${this.options.sessionId}`, this.tokens.ops);
    return (body as { state: SessionState }).state;
  }

  /** Runs a command; `lenient` accepts a refusal (e.g. a question answered meanwhile by a person). */
  private async command(bot: Bot, command: CommandInput, lenient = false): Promise<unknown> {
    const path = `/v1/sessions/${this.options.sessionId}/commands`;
    return this.http('POST', path, this.tokens[bot], { id: `demo-${randomUUID()}`, command }, lenient);
  }

  private async http(
    method: string,
    path: string,
    token: string | undefined,
    body?: unknown,
    lenient = false,
  ): Promise<unknown> {
    const response = await fetch(this.options.baseUrl.replace(/\/$/, '') + path, {
      method,
      headers: {
        authorization: `Bearer ${token ?? ''}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    if (!response.ok && !(lenient && response.status === 409) && !(lenient && response.status === 404)) {
      throw new Error(`${method} ${path}: ${response.status} ${text.slice(0, 300)}`);
    }
    return text ? JSON.parse(text) : null;
  }
}

/**
 * The two scenarios of the benchmark, each run against one Target:
 *  - big room: one live session, N consoles, one tech console posting health samples at
 *    rising rates; every observer, tech and ops console receives every sample.
 *  - busy night: many live sessions of 8 consoles with health, viewer questions over REST
 *    ingest, triage, product switches, incidents and cues; then the audit log is checked.
 */
import { performance } from 'node:perf_hooks';
import pg from 'pg';
import {
  BenchConsole,
  CountingConsole,
  Samples,
  Stats,
  bucketQuantileMs,
  cpuMeter,
  mapLimit,
  paced,
  namedCpuMeter,
  procCpuSeconds,
  procRssBytes,
  redisCommandCalls,
  scrapeMetrics,
  selfCpuSeconds,
  sendTimes,
  systemCpuMeter,
  sleep,
  waitUntil,
  watchRss,
  type AnyConsole,
  type Json,
  type Summary,
} from './load.js';
import { LINEUP, commandId, type QuestionInput, type Target } from './targets.js';

const MB = 1024 * 1024;

export interface Progress {
  (line: string): void;
}

interface ConsoleSpec {
  sessionId: string;
  role: string;
  name: string;
  personId: string;
  mode: 'full' | 'count';
  onEvent?: (event: Json, console: BenchConsole) => void;
}

/** Issues the invites and opens the consoles, `batch` at a time, each awaited up to its snapshot. */
async function openConsoles(
  target: Target,
  specs: ConsoleSpec[],
  stats: Stats,
  batch: number,
): Promise<{ consoles: AnyConsole[]; seconds: number; inviteSeconds: number }> {
  const t0 = performance.now();
  const tokens = await mapLimit(specs, 32, (spec) =>
    target.invite(spec.sessionId, spec.role, spec.name, spec.personId),
  );
  const inviteSeconds = (performance.now() - t0) / 1000;
  const t1 = performance.now();
  const consoles: AnyConsole[] = [];
  for (let i = 0; i < specs.length; i += batch) {
    const opened = specs.slice(i, i + batch).map((spec, j): AnyConsole => {
      const url = target.wsUrl(tokens[i + j]!);
      if (spec.mode === 'count') return CountingConsole.open(url, { role: spec.role, stats, readyTimeoutMs: 60_000 });
      return BenchConsole.open({
        url,
        role: spec.role,
        strictSeq: target.name === 'baseline' || spec.role === 'observer',
        sessionId: spec.sessionId,
        stats,
        onEvent: spec.onEvent,
        readyTimeoutMs: 60_000,
      });
    });
    consoles.push(...opened);
    await Promise.all(opened.map((c) => c.ready));
  }
  return { consoles, seconds: (performance.now() - t1) / 1000, inviteSeconds };
}

/** Waits until no console has received anything for `quietMs` (bounded by `timeoutMs`). */
async function settle(stats: () => Stats, quietMs: number, timeoutMs: number): Promise<number> {
  const t0 = performance.now();
  let last = -1;
  let since = performance.now();
  await waitUntil(
    () => {
      const now = stats().deliveries + stats().frames;
      if (now !== last) {
        last = now;
        since = performance.now();
        return false;
      }
      return performance.now() - since >= quietMs;
    },
    timeoutMs,
    100,
  );
  return (performance.now() - t0) / 1000;
}

function useStats(consoles: readonly AnyConsole[], stats: Stats): void {
  for (const c of consoles) c.options.stats = stats;
}

async function medianRss(pid: number, samples = 5, everyMs = 300): Promise<number> {
  const values: number[] = [];
  for (let i = 0; i < samples; i++) {
    values.push(procRssBytes(pid));
    if (i < samples - 1) await sleep(everyMs);
  }
  values.sort((a, b) => a - b);
  return values[Math.floor(values.length / 2)]!;
}

/** CPU of Redis and Postgres (every process of those names on the machine) and the server's own metrics over a window. */
async function sideMeters(baseUrl: string, redisUrl: string | null) {
  const redis = namedCpuMeter(['redis-server']);
  const postgres = namedCpuMeter(['postgres']);
  const before = await scrapeMetrics(baseUrl);
  const callsBefore = redisUrl ? redisCommandCalls(redisUrl) : null;
  return async () => {
    const redisPct = redis().percent;
    const postgresPct = postgres().percent;
    const callsAfter = redisUrl ? redisCommandCalls(redisUrl) : null;
    /** Redis commands run during the window (by anyone on that Redis), most frequent first. */
    const redisCalls: Record<string, number> = {};
    if (callsBefore && callsAfter) {
      const deltas = [...callsAfter].map(([name, n]) => [name, n - (callsBefore.get(name) ?? 0)] as const);
      for (const [name, n] of deltas.filter(([, n]) => n > 0).sort((a, b) => b[1] - a[1])) redisCalls[name] = n;
    }
    const after = await scrapeMetrics(baseUrl);
    const metrics =
      before && after
        ? {
            eventLoopP99Ms: after.eventLoopP99Ms ?? Number.NaN,
            eventLoopMaxMs: after.eventLoopMaxMs ?? Number.NaN,
            gcSeconds: after.gcSeconds - before.gcSeconds,
            auditBacklog: after.auditBacklog ?? Number.NaN,
            // The server's own accepted → frame written (cueroom_fanout_latency_seconds):
            // what the consoles measure, less the socket, the kernel and the load generator.
            fanoutP50Ms: after.fanoutBuckets
              ? bucketQuantileMs(before.fanoutBuckets, after.fanoutBuckets, 0.5)
              : Number.NaN,
            fanoutP99Ms: after.fanoutBuckets
              ? bucketQuantileMs(before.fanoutBuckets, after.fanoutBuckets, 0.99)
              : Number.NaN,
          }
        : null;
    return { redisPct, postgresPct, metrics, redisCalls };
  };
}

export type SideFigures = Awaited<ReturnType<Awaited<ReturnType<typeof sideMeters>>>>;

/** Other work above this share of a CPU during a big-room step makes it run again. */
const DISTURBED_PCT = 30;

/** CPU busy on the machine beyond the server, the generator, Redis and Postgres (kernel work, other processes). */
export function otherCpu(r: {
  serverCpuPct: number;
  clientCpuPct: number;
  cpusPct: number[];
  side: SideFigures;
}): number {
  return r.cpusPct.reduce((a, b) => a + b, 0) - r.serverCpuPct - r.clientCpuPct - r.side.redisPct - r.side.postgresPct;
}

const errorsOf = (stats: Stats) => Object.fromEntries([...stats.errors].sort((a, b) => b[1] - a[1]));
const closesOf = (stats: Stats) => Object.fromEntries(stats.closes);

// =======================================================================================
// Big room

export interface BigRoomOptions {
  consoles: number;
  steps: number[];
  stepSeconds: number;
  /** Every how many-th console parses its frames fully (latency, gap checks); the rest count. */
  probeEvery: number;
  connectBatch: number;
  drainMs: number;
  /** Waits for the machine to be idle (bounded); called before each step. */
  quiet: () => Promise<unknown>;
}

export interface StepResult {
  rate: number;
  published: number;
  acked: number;
  errors: Record<string, number>;
  expectedDeliveries: number;
  /** Deliveries offered per second: rate × consoles that receive health samples. */
  offeredPerSec: number;
  /** Deliveries that arrived within the step's window, per second of the window. */
  deliveriesPerSec: number;
  /** Deliveries of the step's events that arrived at all (window + drain), in % of expected. */
  completePct: number;
  drainSeconds: number;
  accepted: Summary;
  sent: Summary;
  ackRtt: Summary;
  serverCpuPct: number;
  clientCpuPct: number;
  /** Busy % of each CPU of the machine over the window (the server's, the generator's, and Redis/Postgres wherever they ran). */
  cpusPct: number[];
  /** Redis and Postgres CPU, and the server's event-loop delay and GC time, over the window. */
  side: SideFigures;
  serverRssMB: number;
  serverPeakRssMB: number;
  framesPerSec: number;
  bytesPerFrame: number;
  gaps: number;
  duplicates: number;
  closes: Record<string, number>;
  /** CPU used during the step by neither the server, the generator, Redis nor Postgres. */
  otherCpuPct: number;
  /** 2 when the first attempt was disturbed by other work and the step was measured again. */
  attempt: number;
}

export interface BigRoomResult {
  target: string;
  label: string;
  consoles: number;
  roles: Record<string, number>;
  probes: number;
  /** Consoles that receive each price change. */
  audience: number;
  inviteSeconds: number;
  connectSeconds: number;
  /** Deliveries during connect (presence events to ops and observers). */
  connectDeliveries: number;
  settleSeconds: number;
  rssIdleMB: number;
  steps: StepResult[];
}

export async function bigRoom(
  target: Target,
  options: BigRoomOptions,
  tag: string,
  log: Progress,
): Promise<BigRoomResult> {
  const pid = target.server.pid;
  const sessionId = `br-${tag}`;
  await target.createLiveSession(sessionId, 'Bench big room');

  const roles: Record<string, number> = { host: 1, cohost: 2, tech: 4, ops: 2 };
  roles.observer = Math.max(1, options.consoles - 9);
  const specs: ConsoleSpec[] = [];
  for (const [role, count] of Object.entries(roles)) {
    for (let i = 0; i < count; i++) {
      const n = specs.length;
      // The publisher (first ops) and every probeEvery-th console parse their frames.
      const full = (role === 'ops' && i === 0) || n % options.probeEvery === 0;
      specs.push({
        sessionId,
        role,
        name: `${role} ${i + 1}`,
        personId: `${role}-${i + 1}`,
        mode: full ? 'full' : 'count',
      });
    }
  }
  let stats = new Stats();
  log(`  ${target.name}: inviting and connecting ${specs.length} consoles…`);
  const {
    consoles,
    seconds: connectSeconds,
    inviteSeconds,
  } = await openConsoles(target, specs, stats, options.connectBatch);
  const settleSeconds = await settle(() => stats, 1000, 60_000);
  const connectDeliveries = stats.deliveries;
  log(
    `  ${target.name}: connected in ${connectSeconds.toFixed(1)} s (invites ${inviteSeconds.toFixed(1)} s), ` +
      `${connectDeliveries} deliveries while connecting, settled after ${settleSeconds.toFixed(1)} s`,
  );
  const publisher = consoles[specs.findIndex((s) => s.role === 'ops')] as BenchConsole;
  const probes = specs.filter((s) => s.mode === 'full').length;

  // A price change reaches host, cohosts, ops and observers, unpaced (health samples are paced
  // per console by HEALTH_FANOUT_MS, so they cannot show the fan-out); a new price every time.
  let price = 1000;
  const sample = () => ({ kind: 'product.set_price', productId: LINEUP[0]!.id, price: ++price });

  // Consoles that receive each price change: by the audience table on Cueroom, all on the baseline.
  const audience = specs.filter((spec) => target.receives('product.price_changed', spec.role)).length;
  // Warm-up: 20 samples at 20/s, awaited until every console has them.
  stats = new Stats();
  useStats(consoles, stats);
  const warm = await paced(20, 1000, () => publisher.command(commandId(`${tag}-w`), sample()));
  const warmed = await waitUntil(() => stats.deliveries >= warm * audience, 30_000, 20);
  await settle(() => stats, 500, 10_000);
  const rssIdleMB = (await medianRss(pid)) / MB;
  log(
    `  ${target.name}: warm-up ${warm} samples, ${stats.deliveries} of ${warm * audience} deliveries` +
      `${warmed ? '' : ' (not all within 30 s)'}, server RSS ${rssIdleMB.toFixed(0)} MB`,
  );

  const steps: StepResult[] = [];
  const runStep = async (rate: number, attempt: number): Promise<StepResult> => {
    stats = new Stats();
    useStats(consoles, stats);
    sendTimes.clear();
    const serverCpu = cpuMeter(() => procCpuSeconds(pid));
    const selfCpu = cpuMeter(selfCpuSeconds);
    const machineCpu = systemCpuMeter();
    const side = await sideMeters(target.server.baseUrl, target.redisUrl);
    const rss = watchRss(pid);
    const windowMs = options.stepSeconds * 1000;
    const published = await paced(rate, windowMs, () => publisher.command(commandId(`${tag}-r${rate}`), sample()));
    const server = serverCpu();
    const self = selfCpu();
    const cpus = machineCpu();
    const sides = await side();
    const inWindow = stats.deliveries;
    const framesInWindow = stats.frames;
    const bytesInWindow = stats.bytes;
    const peak = rss.stop();
    const rssNow = procRssBytes(pid);
    const expected = published * audience;
    const t0 = performance.now();
    await waitUntil(() => stats.deliveries >= expected && publisher.pendingCount === 0, options.drainMs, 20);
    const drainSeconds = (performance.now() - t0) / 1000;
    const result: StepResult = {
      rate,
      published,
      acked: stats.acksOk,
      errors: errorsOf(stats),
      expectedDeliveries: expected,
      offeredPerSec: rate * audience,
      deliveriesPerSec: inWindow / server.wallSeconds,
      completePct: expected ? (100 * stats.deliveries) / expected : Number.NaN,
      drainSeconds,
      accepted: stats.accepted.summary(),
      sent: stats.sent.summary(),
      ackRtt: stats.ackRtt.summary(),
      serverCpuPct: server.percent,
      clientCpuPct: self.percent,
      cpusPct: cpus,
      side: sides,
      serverRssMB: rssNow / MB,
      serverPeakRssMB: peak / MB,
      framesPerSec: framesInWindow / server.wallSeconds,
      bytesPerFrame: framesInWindow ? bytesInWindow / framesInWindow : Number.NaN,
      gaps: stats.gapReport().missing,
      duplicates: stats.duplicates,
      closes: closesOf(stats),
      otherCpuPct: otherCpu({ serverCpuPct: server.percent, clientCpuPct: self.percent, cpusPct: cpus, side: sides }),
      attempt,
    };
    log(
      `  ${target.name} ${rate}/s: ${Math.round(result.deliveriesPerSec)} deliveries/s of ${result.offeredPerSec} offered, ` +
        `complete ${result.completePct.toFixed(1)}%, accepted→received p50 ${result.accepted.p50} p99 ${result.accepted.p99} ` +
        `max ${result.accepted.max} ms, server CPU ${result.serverCpuPct.toFixed(0)}%, client CPU ${result.clientCpuPct.toFixed(0)}%, ` +
        `CPUs busy ${cpus.map((c) => `${c.toFixed(0)}%`).join(' ')}, Redis ${sides.redisPct.toFixed(0)}%, Postgres ${sides.postgresPct.toFixed(0)}%` +
        (sides.metrics ? `, event loop p99 ${sides.metrics.eventLoopP99Ms.toFixed(0)} ms` : '') +
        (stats.errorCount() ? `, errors ${JSON.stringify(result.errors)}` : ''),
    );
    return result;
  };
  for (const rate of options.steps) {
    let result: StepResult | null = null;
    // A step disturbed by other work on the machine is measured again, once.
    for (let attempt = 1; attempt <= 2; attempt++) {
      await options.quiet();
      result = await runStep(rate, attempt);
      if (result.otherCpuPct <= DISTURBED_PCT || attempt === 2) break;
      log(
        `  ${target.name} ${rate}/s: other work took ${result.otherCpuPct.toFixed(0)}% CPU during the step; measuring it again`,
      );
    }
    steps.push(result!);
    // A step that could not finish (consoles cut off, or the server far behind) ends the ramp.
    const cutOff = Object.entries(result!.closes).reduce((n, [, v]) => n + v, 0);
    if (cutOff > consoles.length / 10 || result!.completePct < 50) {
      log(
        `  ${target.name}: stopping the ramp (${cutOff} consoles closed, ${result!.completePct.toFixed(0)}% delivered)`,
      );
      break;
    }
  }
  useStats(consoles, new Stats());
  for (const c of consoles) c.close();
  // Let the server record the consoles leaving before it is stopped.
  await sleep(3000);
  return {
    target: target.name,
    label: target.label,
    consoles: specs.length,
    roles,
    probes,
    audience,
    inviteSeconds,
    connectSeconds,
    connectDeliveries,
    settleSeconds,
    rssIdleMB,
    steps,
  };
}

// =======================================================================================
// Busy night

export interface BusyNightOptions {
  sessions: number;
  seconds: number;
  healthPerSec: number;
  questionsPerSec: number;
  /** Extra idle consoles opened to measure memory per console. */
  idleConsoles: number;
  connectBatch: number;
  /** Postgres URL to check the audit log, or null (the baseline has none). */
  databaseUrl: string | null;
  auditTimeoutMs: number;
}

export interface AuditCheck {
  ackedCommands: number;
  rowsFound: number;
  missing: number;
  missingExamples: string[];
  /** Seconds from the end of the load until every acked command had its row (or the check gave up). */
  convergeSeconds: number;
  lag: { rows: number; p50: number; p99: number; max: number } | null;
  /** When the last row of the load window was written, in seconds after the load stopped. */
  lastRowSeconds?: number;
  error?: string;
}

export interface BusyNightResult {
  target: string;
  label: string;
  sessions: number;
  consoles: number;
  inviteSeconds: number;
  connectSeconds: number;
  idle: { consoles: number; rssBeforeMB: number; rssAfterMB: number; perConsoleKB: number; connectSeconds: number };
  seconds: number;
  /** Commands started on a schedule, by kind (triage and acknowledgements come on top). */
  offered: Record<string, number>;
  /** Every command the bench sent in the window (scheduled and in reaction), per second. */
  offeredPerSec: number;
  acceptedPerSec: number;
  acked: number;
  errors: Record<string, number>;
  deliveries: number;
  deliveriesPerSec: number;
  /** Every event but health samples. */
  accepted: Summary;
  sent: Summary;
  /** Health samples only (paced per console by Cueroom). */
  acceptedHealth: Summary;
  sentHealth: Summary;
  ackRtt: Summary;
  restRtt: Summary;
  /** Ingest requests made (fewer than questions when questions queued behind a slow request). */
  restRequests: number;
  serverCpuPct: number;
  clientCpuPct: number;
  cpusPct: number[];
  side: SideFigures;
  serverRssMB: number;
  serverPeakRssMB: number;
  /** Seqs missing on consoles that see everything, health samples paced away aside. */
  gaps: number;
  /** Health samples observers never got because a newer one replaced them (Cueroom's pacing). */
  healthSkipped: number;
  duplicates: number;
  closes: Record<string, number>;
  unanswered: number;
  audit: AuditCheck | null;
}

const CREW: [string, number][] = [
  ['host', 1],
  ['cohost', 2],
  ['tech', 2],
  ['ops', 1],
  ['observer', 2],
];

interface Room {
  id: string;
  host: BenchConsole;
  cohosts: BenchConsole[];
  techs: BenchConsole[];
  ops: BenchConsole;
  ingestToken: string;
  product: number;
  incidents: number;
  cues: number;
  /** Questions waiting for the session's chat bot to post them. */
  questions: QuestionInput[];
  posting: boolean;
}

export async function busyNight(
  target: Target,
  options: BusyNightOptions,
  tag: string,
  log: Progress,
): Promise<BusyNightResult> {
  const pid = target.server.pid;
  let stats = new Stats();
  const ackedIds: string[] = [];
  const ids = Array.from({ length: options.sessions }, (_, i) => `bn-${tag}-${i}`);

  log(`  ${target.name}: creating ${ids.length} live sessions…`);
  const setupIds = await mapLimit(ids, 16, (id, i) => target.createLiveSession(id, `Bench night ${i}`));
  for (const list of setupIds) ackedIds.push(...list);
  const ingestTokens = await mapLimit(ids, 32, (id) => target.invite(id, 'ingest', 'Chat bot', 'chat-bot'));

  // Triage, reacting to what the consoles see. `later` runs only inside the load window.
  let loadEnd = 0;
  let loadOn = false;
  const timers = new Set<NodeJS.Timeout>();
  const later = (ms: number, fn: () => void) => {
    if (!loadOn || Date.now() + ms > loadEnd) return;
    const timer = setTimeout(() => {
      timers.delete(timer);
      if (loadOn) fn();
    }, ms);
    timers.add(timer);
  };
  const rooms: Room[] = [];
  let wsSent = 0;
  const send = (c: BenchConsole, command: Json) => {
    if (loadOn) wsSent++;
    c.command(commandId(tag), command);
  };
  const jitter = (min: number, max: number) => min + Math.random() * (max - min);
  const onEventFor = (roomIndex: number, role: string, index: number) => (event: Json, c: BenchConsole) => {
    if (!loadOn) return;
    const room = rooms[roomIndex];
    if (!room) return;
    if (role === 'cohost' && event.kind === 'question.submitted') {
      const question = event.question as { id: string; order?: number };
      if ((event.seq as number) % 2 !== index) return; // each question is one cohost's
      const r = Math.random();
      if (r < 0.25) later(jitter(300, 1000), () => send(c, { kind: 'question.flag', questionId: question.id }));
      else if (r < 0.35) later(jitter(300, 1000), () => send(c, { kind: 'question.dismiss', questionId: question.id }));
    } else if (role === 'host' && event.kind === 'question.flagged') {
      later(jitter(500, 1500), () => send(c, { kind: 'question.answer', questionId: event.question.id }));
    }
  };

  const specs: ConsoleSpec[] = [];
  ids.forEach((sessionId, roomIndex) => {
    for (const [role, count] of CREW) {
      for (let i = 0; i < count; i++) {
        specs.push({
          sessionId,
          role,
          name: `${role} ${i + 1}`,
          personId: `${role}-${i + 1}`,
          mode: 'full',
          onEvent: onEventFor(roomIndex, role, i),
        });
      }
    }
  });
  log(`  ${target.name}: inviting and connecting ${specs.length} consoles…`);
  const opened = await openConsoles(target, specs, stats, options.connectBatch);
  const perRoom = specs.length / ids.length;
  ids.forEach((id, r) => {
    const cs = opened.consoles.slice(r * perRoom, (r + 1) * perRoom) as BenchConsole[];
    const byRole = (role: string) => cs.filter((c) => c.role === role);
    rooms.push({
      id,
      host: byRole('host')[0]!,
      cohosts: byRole('cohost'),
      techs: byRole('tech'),
      ops: byRole('ops')[0]!,
      ingestToken: ingestTokens[r]!,
      product: r % LINEUP.length,
      incidents: 0,
      cues: 0,
      questions: [],
      posting: false,
    });
  });
  await settle(() => stats, 1000, 60_000);
  log(
    `  ${target.name}: ${specs.length} consoles connected in ${opened.seconds.toFixed(1)} s (invites ${opened.inviteSeconds.toFixed(1)} s)`,
  );

  // Memory per idle console: idle live sessions, consoles of roles that see no presence.
  const idleSessions = Math.ceil(options.idleConsoles / 50);
  const idleIds = Array.from({ length: idleSessions }, (_, i) => `bi-${tag}-${i}`);
  await mapLimit(idleIds, 16, (id, i) => target.createLiveSession(id, `Bench idle ${i}`));
  const idleRoles = ['host', 'cohost', 'tech'];
  const idleSpecs: ConsoleSpec[] = Array.from({ length: options.idleConsoles }, (_, i) => ({
    sessionId: idleIds[i % idleSessions]!,
    role: idleRoles[i % idleRoles.length]!,
    name: `idle ${i}`,
    personId: `idle-${i}`,
    mode: 'count',
  }));
  const idleStats = new Stats();
  await sleep(1000);
  const rssBefore = await medianRss(pid);
  const idleOpened = await openConsoles(target, idleSpecs, idleStats, options.connectBatch);
  await settle(() => idleStats, 1000, 30_000);
  await sleep(2000);
  const rssAfter = await medianRss(pid);
  const idle = {
    consoles: options.idleConsoles,
    rssBeforeMB: rssBefore / MB,
    rssAfterMB: rssAfter / MB,
    perConsoleKB: (rssAfter - rssBefore) / 1024 / Math.max(1, options.idleConsoles),
    connectSeconds: idleOpened.seconds,
  };
  log(
    `  ${target.name}: ${idle.consoles} idle consoles: RSS ${idle.rssBeforeMB.toFixed(0)} → ${idle.rssAfterMB.toFixed(0)} MB, ` +
      `${idle.perConsoleKB.toFixed(1)} KB each`,
  );

  // The load.
  stats = new Stats();
  stats.keepAckedIds = true;
  useStats(opened.consoles, stats);
  sendTimes.clear();
  const restRtt = new Samples();
  let restOk = 0;
  let inflight = 0;
  let requests = 0;
  const S = rooms.length;
  const windowMs = options.seconds * 1000;
  const offered: Record<string, number> = {};
  const count = (what: string) => (offered[what] = (offered[what] ?? 0) + 1);

  // One chat bot per session: one request at a time, carrying every question that arrived
  // while the previous one was in flight (one question per request while the server keeps up).
  const postQuestion = (room: Room, n: number) => {
    count('question.submit');
    const question: QuestionInput = {
      text: `Does product ${room.product + 1} come in blue? (${n})`,
      author: `viewer${n % 977}`,
      source: 'bench',
      externalId: `${tag}-${n.toString(36)}`,
    };
    sendTimes.set(target.questionCommandId(question), performance.now());
    room.questions.push(question);
    pump(room);
  };
  const pump = (room: Room) => {
    if (room.posting || room.questions.length === 0) return;
    const batch = room.questions.splice(0, 100);
    room.posting = true;
    inflight++;
    requests++;
    const t0 = performance.now();
    target
      .postQuestions(room.id, room.ingestToken, batch)
      .then((answer: Json) => {
        restRtt.add(performance.now() - t0);
        if (answer.status !== 200) {
          stats.error(`http_${answer.status}_${answer.body?.code ?? ''}`);
          return;
        }
        (answer.body.results as Json[]).forEach((result, i) => {
          if (result.ok) {
            restOk++;
            ackedIds.push(target.questionCommandId(batch[i]!));
          } else stats.error(String(result.error?.code));
        });
      })
      .catch(() => stats.error('http_failed'))
      .finally(() => {
        inflight--;
        room.posting = false;
        pump(room);
      });
  };

  const serverCpu = cpuMeter(() => procCpuSeconds(pid));
  const selfCpu = cpuMeter(selfCpuSeconds);
  const machineCpu = systemCpuMeter();
  const side = await sideMeters(target.server.baseUrl, target.redisUrl);
  const rss = watchRss(pid);
  const loadStart = Date.now();
  loadEnd = loadStart + windowMs;
  loadOn = true;
  log(`  ${target.name}: load for ${options.seconds} s…`);
  await Promise.all([
    paced(S * options.healthPerSec, windowMs, (i) => {
      count('health.sample');
      const room = rooms[i % S]!;
      send(room.techs[0]!, {
        kind: 'health.sample',
        sample: {
          ts: Date.now(),
          bitrateKbps: 4000 + Math.round(Math.random() * 1000),
          fps: 30,
          droppedFrames: 0,
          viewers: 1200,
        },
      });
    }),
    paced(S * options.questionsPerSec, windowMs, (i) => postQuestion(rooms[i % S]!, i)),
    // A product switch per session every 10 s, alternately by ops and a cohost.
    paced(S / 10, windowMs, (i) => {
      count('product.switch');
      const room = rooms[(i * 7) % S]!;
      room.product = (room.product + 1) % LINEUP.length;
      send(i % 2 ? room.ops : room.cohosts[0]!, { kind: 'product.switch', productId: LINEUP[room.product]!.id });
    }),
    // An incident per session every 15 s: raised by tech, acknowledged, resolved by ops.
    paced(S / 15, windowMs, (i) => {
      count('incident.raise');
      const room = rooms[(i * 13) % S]!;
      const incidentId = `i-${tag}-${room.id.split('-').at(-1)}-${++room.incidents}`;
      send(room.techs[1]!, {
        kind: 'incident.raise',
        incidentId,
        severity: i % 10 === 0 ? 'sev1' : 'sev2',
        category: 'network',
        title: 'Bitrate dropping on the main encoder',
        detail: 'Bench incident',
      });
      later(1000, () => send(room.techs[0]!, { kind: 'incident.acknowledge', incidentId }));
      later(4000, () => send(room.ops, { kind: 'incident.resolve', incidentId, resolution: 'Recovered' }));
    }),
    // A cue to the host per session every 20 s, acknowledged a second later.
    paced(S / 20, windowMs, (i) => {
      count('cue.send');
      const room = rooms[(i * 11) % S]!;
      const cueId = `c-${tag}-${room.id.split('-').at(-1)}-${++room.cues}`;
      send(room.ops, { kind: 'cue.send', cueId, to: ['host'], text: 'Wrap up this product in 2 minutes' });
      later(1000, () => send(room.host, { kind: 'cue.acknowledge', cueId }));
    }),
  ]);
  loadOn = false;
  for (const timer of timers) clearTimeout(timer);
  timers.clear();
  const server = serverCpu();
  const self = selfCpu();
  const cpus = machineCpu();
  const sides = await side();
  const peak = rss.stop();
  const rssNow = procRssBytes(pid);
  const ackedInWindow = stats.acksOk + restOk;
  log(
    `  ${target.name}: ${ackedInWindow} commands acknowledged in the window, server CPU ${server.percent.toFixed(0)}%, ` +
      `Redis ${sides.redisPct.toFixed(0)}%, Postgres ${sides.postgresPct.toFixed(0)}%, load-gen ${self.percent.toFixed(0)}%` +
      (sides.metrics
        ? `, event loop p99 ${sides.metrics.eventLoopP99Ms.toFixed(0)} ms, audit backlog ${sides.metrics.auditBacklog}` +
          `, accepted→written in the server p50 ${sides.metrics.fanoutP50Ms.toFixed(1)} / p99 ${sides.metrics.fanoutP99Ms.toFixed(1)} ms`
        : ''),
  );
  const redisTotal = Object.values(sides.redisCalls).reduce((a, b) => a + b, 0);
  if (redisTotal) {
    log(
      `  ${target.name}: Redis ran ${redisTotal} commands in the window (${(redisTotal / Math.max(1, ackedInWindow)).toFixed(1)} per acknowledged command): ` +
        Object.entries(sides.redisCalls)
          .slice(0, 10)
          .map(([k, v]) => `${k} ${v}`)
          .join(', '),
    );
  }
  const deliveriesInWindow = stats.deliveries;
  // Let what is in flight land (bounded), then count what never got an answer.
  await waitUntil(
    () =>
      inflight === 0 &&
      rooms.every((r) => r.questions.length === 0) &&
      opened.consoles.every((c) => c.pendingCount === 0),
    15_000,
    50,
  );
  await settle(() => stats, 500, 10_000);
  const unanswered =
    inflight +
    rooms.reduce((n, r) => n + r.questions.length, 0) +
    opened.consoles.reduce((n, c) => n + c.pendingCount, 0);
  for (const id of stats.ackedIds) ackedIds.push(id);
  const closes = closesOf(stats);
  const { missing: gaps, healthSkipped } = stats.gapReport();
  const duplicates = stats.duplicates;
  useStats(opened.consoles, new Stats());

  let audit: AuditCheck | null = null;
  if (options.databaseUrl) {
    log(`  ${target.name}: checking the audit log…`);
    audit = await checkAudit(options.databaseUrl, `bn-${tag}-`, ackedIds, loadStart, loadEnd, options.auditTimeoutMs);
  }
  for (const c of opened.consoles) c.close();
  for (const c of idleOpened.consoles) c.close();
  await sleep(3000);

  const totalOffered = wsSent + (offered['question.submit'] ?? 0);
  return {
    target: target.name,
    label: target.label,
    sessions: S,
    consoles: specs.length,
    inviteSeconds: opened.inviteSeconds,
    connectSeconds: opened.seconds,
    idle,
    seconds: options.seconds,
    offered,
    offeredPerSec: totalOffered / server.wallSeconds,
    acceptedPerSec: ackedInWindow / server.wallSeconds,
    acked: stats.acksOk + restOk,
    errors: errorsOf(stats),
    deliveries: stats.deliveries,
    deliveriesPerSec: deliveriesInWindow / server.wallSeconds,
    accepted: stats.accepted.summary(),
    sent: stats.sent.summary(),
    acceptedHealth: stats.acceptedHealth.summary(),
    sentHealth: stats.sentHealth.summary(),
    ackRtt: stats.ackRtt.summary(),
    restRtt: restRtt.summary(),
    restRequests: requests,
    serverCpuPct: server.percent,
    clientCpuPct: self.percent,
    cpusPct: cpus,
    side: sides,
    serverRssMB: rssNow / MB,
    serverPeakRssMB: peak / MB,
    gaps,
    healthSkipped,
    duplicates,
    closes,
    unanswered,
    audit,
  };
}

/**
 * Every acknowledged command must have its `command` row in audit_log: polls until all
 * are there or the timeout, then measures recorded_at − at over the rows of the window.
 */
async function checkAudit(
  databaseUrl: string,
  sessionPrefix: string,
  ackedIds: readonly string[],
  loadStart: number,
  loadEnd: number,
  timeoutMs: number,
): Promise<AuditCheck> {
  const client = new pg.Client({ connectionString: databaseUrl });
  client.on('error', () => undefined);
  const result: AuditCheck = {
    ackedCommands: new Set(ackedIds).size,
    rowsFound: 0,
    missing: Number.NaN,
    missingExamples: [],
    convergeSeconds: Number.NaN,
    lag: null,
  };
  try {
    await client.connect();
    const wanted = new Set(ackedIds);
    let missing: string[] = [];
    await waitUntil(
      async () => {
        const rows = await client.query<{ command_id: string }>(
          `select command_id from audit_log where session_id like $1 and entry_type = 'command'`,
          [`${sessionPrefix}%`],
        );
        const found = new Set(rows.rows.map((r) => r.command_id));
        result.rowsFound = found.size;
        missing = [...wanted].filter((id) => !found.has(id));
        return missing.length === 0;
      },
      timeoutMs,
      1000,
    );
    result.convergeSeconds = (Date.now() - loadEnd) / 1000;
    result.missing = missing.length;
    result.missingExamples = missing.slice(0, 5);
    const lag = await client.query<{ rows: number; p50: number; p99: number; max: number }>(
      `select count(*)::int as rows,
              percentile_cont(0.5) within group (order by ms) as p50,
              percentile_cont(0.99) within group (order by ms) as p99,
              max(ms) as max
         from (select extract(epoch from (recorded_at - at)) * 1000 as ms
                 from audit_log
                where session_id like $1 and at >= $2 and at <= $3) as t`,
      [`${sessionPrefix}%`, new Date(loadStart), new Date(loadEnd)],
    );
    const row = lag.rows[0];
    if (row) result.lag = { rows: row.rows, p50: Number(row.p50), p99: Number(row.p99), max: Number(row.max) };
    const last = await client.query<{ last: Date | null }>(
      `select max(recorded_at) as last from audit_log where session_id like $1 and at <= $2`,
      [`${sessionPrefix}%`, new Date(loadEnd)],
    );
    const lastAt = last.rows[0]?.last;
    if (lastAt) result.lastRowSeconds = (lastAt.getTime() - loadEnd) / 1000;
  } catch (error) {
    result.error = (error as Error).message;
  } finally {
    await client.end().catch(() => undefined);
  }
  return result;
}

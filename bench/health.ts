/**
 * Stream-health benchmark, in two parts:
 *
 *  - rule engine: the real `HealthRuleEngine`, in this process, as `HealthMonitor` drives it
 *    (`observe` then `nextDeadline` per sample, `tick` at each session's deadline), fed
 *    samples open loop at a fixed rate, with dips that breach and recover; then the same
 *    engine in a tight loop for its ceiling.
 *  - live: a Cueroom server on Redis + Postgres (a child process, pinned to CPU 0), N live
 *    sessions, each with an agent posting samples to `POST /v1/sessions/:id/ingest/health`
 *    with an ingest token (one request at a time per session, carrying the samples that
 *    queued meanwhile, as `IngestClient` does), and tech, ops and host consoles per session
 *    counting the health frames each receives.
 *
 *   npx tsx bench/health.ts [--sessions=500] [--rate=2] [--seconds=30] [--doc]
 *
 * Options: --only=engine|live  --engine-sessions=N (5000)  --engine-rate=N (10000 samples/s)
 * --engine-seconds=S (10)  --warmup=S (5)  --quiet-wait=S (45)  --no-pin  --profile  --keep-data
 * Env: BENCH_REDIS_URL (redis://127.0.0.1:6379), BENCH_DATABASE_URL
 * (postgres://postgres@127.0.0.1:5432/test). `runHealthBench(options)` runs the same from
 * another script (bench/run.ts) and returns the markdown and the figures.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { PerformanceObserver, performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { DEFAULT_HEALTH_RULES, mergeRules, type HealthRuleName, type HealthRulesPatch } from '../shared/health.js';
import type { HealthSample } from '../shared/model.js';
import { HealthRuleEngine, type HealthAction, type RuleContext } from '../server/health/rule-engine.js';
import {
  BenchConsole,
  Samples,
  Stats,
  cpuMeter,
  httpJson,
  mapLimit,
  namedCpuMeter,
  paced,
  percentile,
  procCpuSeconds,
  procRssBytes,
  removeRedisKeys,
  scrapeMetrics,
  selfCpuSeconds,
  sleep,
  systemCpuMeter,
  waitUntil,
  watchRss,
  writeDocPart,
  type Json,
  type Summary,
} from './load.js';
import { CueroomTarget, ROOT, commandId, hasTaskset, uniqueTag } from './targets.js';

export interface HealthBenchOptions {
  /** Live sessions in the live part. Default 500. */
  sessions: number;
  /** Health samples per second per live session. Default 2. */
  rate: number;
  /** Measured window of the live part, after the warm-up (s). Default 30. */
  seconds: number;
  /** Load before the measured window (s): every console past its first paced sample. Default 5. */
  warmupSeconds: number;
  /** Sessions the in-process engine judges. Default 5000 (10,000 samples/s at 2 each). */
  engineSessions: number;
  /** Samples per second offered to the engine. Default 10,000. */
  engineRate: number;
  /** Length of the engine's paced run (s). Default 10. */
  engineSeconds: number;
  /** Which parts to run. Default both. */
  parts: ('engine' | 'live')[];
  /** Pin the server to CPU 0 and this process to CPU 1 (when taskset exists and there are 2+ CPUs). Default true. */
  pin: boolean;
  /** Write a V8 CPU profile of the server into the results folder. Default false. */
  profile: boolean;
  /** Longest wait (s) for the machine to be idle (all CPUs under 25% busy) before each part; 0: none. Default 45. */
  quietWaitSeconds: number;
  /** Keep the run's Redis keys. Default false. */
  keepData: boolean;
  redisUrl: string;
  databaseUrl: string;
  /** Where the server log, the profile and results.json go. Default bench/results/<date>-health-<tag>/. */
  resultsDir: string | null;
  log: (line: string) => void;
  /** How the run was started, for the report. Default: the `npx tsx bench/health.ts` line with these options. */
  command: string | null;
}

const MB = 1024 * 1024;

// ---------------------------------------------------------------------------------------
// Samples as an encoder reports them, with dips

type DipKind = 'fps' | 'bitrate' | 'droppedFrames' | 'destinations' | 'viewers';
interface Dip {
  kind: DipKind;
  /** ms after the start of the load. */
  from: number;
  to: number;
}

/** Rules a dip of each kind should breach (the viewers dip also trips nothing else). */
const DIP_RULE: Readonly<Record<DipKind, HealthRuleName>> = {
  fps: 'fps',
  bitrate: 'bitrate',
  droppedFrames: 'droppedFrames',
  destinations: 'destinations',
  viewers: 'viewers',
};

/**
 * One session's encoder: steady values with a little noise (bitrate 4.2–4.8 Mbps, 30 fps,
 * a dropped frame now and then, ~1,200 viewers, two destinations), and during its dip one
 * signal bad enough to breach its rule.
 */
class Encoder {
  private viewers = 1100 + Math.floor(Math.random() * 200);

  constructor(
    readonly sessionId: string,
    readonly dip: Dip | null,
  ) {}

  sample(now: number, sinceStart: number, intervalMs: number): HealthSample {
    const dipping = this.dip !== null && sinceStart >= this.dip.from && sinceStart < this.dip.to ? this.dip.kind : null;
    this.viewers = Math.max(60, this.viewers + Math.round((Math.random() - 0.5) * 10));
    const fps = dipping === 'fps' ? 12 : 30;
    const frames = (fps * intervalMs) / 1000;
    return {
      ts: now,
      bitrateKbps:
        dipping === 'bitrate' ? 1200 + Math.round(Math.random() * 300) : 4200 + Math.round(Math.random() * 600),
      fps,
      // ~25% of frames dropped during a dip, otherwise one now and then (well under 5%).
      droppedFrames: dipping === 'droppedFrames' ? Math.ceil(frames / 3) : Math.random() < 0.05 ? 1 : 0,
      rttMs: 20 + Math.round(Math.random() * 40),
      viewers: dipping === 'viewers' ? Math.round(this.viewers * 0.4) : this.viewers,
      encoderCpu: 30 + Math.round(Math.random() * 20),
      destinations: [
        { id: 'youtube', status: dipping === 'destinations' ? 'bad' : 'good' },
        { id: 'ivs', status: 'HEALTHY' },
      ],
    };
  }
}

/**
 * Every `every`-th session dips once, kinds in turn, starting between `earliest` and
 * `earliest + spread` ms. `long` dips outlast each rule's default hold time (bitrate 10 s,
 * fps and dropped frames 5 s; destinations and viewers breach at once); short ones (for a
 * 10 s run) outlast only the shorter holds some rule sets have (bitrate 5 s).
 */
function dipFor(index: number, every: number, earliest: number, spread: number, long: boolean): Dip | null {
  if (index % every !== 0) return null;
  const kinds: DipKind[] = ['fps', 'destinations', 'droppedFrames', 'viewers', 'bitrate'];
  const kind = kinds[Math.floor(index / every) % kinds.length]!;
  const length = long
    ? { fps: 7000, bitrate: 12_000, droppedFrames: 7000, destinations: 3000, viewers: 3000 }[kind]
    : { fps: 6000, bitrate: 6000, droppedFrames: 6000, destinations: 2000, viewers: 2000 }[kind];
  const from = earliest + Math.round(Math.random() * spread);
  return { kind, from, to: from + length };
}

// ---------------------------------------------------------------------------------------
// Part 1: the rule engine in process

/** Rule sets the engine's sessions use, in turn: defaults and the edits tech makes most. */
const RULE_VARIANTS: { patch: HealthRulesPatch; targetBitrateKbps: number | null }[] = [
  { patch: {}, targetBitrateKbps: null },
  { patch: { fps: { floor: 25 }, recoverSeconds: 5 }, targetBitrateKbps: 6000 },
  {
    patch: { bitrate: { forSeconds: 5 }, droppedFrames: { maxRatio: 0.1 }, recoverSeconds: 5 },
    targetBitrateKbps: 4500,
  },
  { patch: { viewers: { enabled: false }, watchdog: { noSampleSeconds: 10 } }, targetBitrateKbps: 3500 },
];

export interface EngineResult {
  sessions: number;
  offeredPerSec: number;
  seconds: number;
  samples: number;
  achievedPerSec: number;
  /** observe() alone, µs. */
  observeUs: Summary;
  /** observe() + nextDeadline(): what HealthMonitor runs synchronously per sample, µs. */
  evaluateUs: Summary;
  /** tick() at a session's deadline, µs. */
  tickUs: Summary;
  /** Actions returned, by type and rule. */
  actions: Record<string, number>;
  dippingSessions: number;
  /** Sessions that dipped, by dip kind. */
  dips: Record<string, number>;
  /** Samples whose evaluation took over 1 ms, and how many of those overlapped a garbage collection. */
  over1ms: number;
  over1msDuringGc: number;
  /** Garbage collections in this process during the paced run. */
  gc: { count: number; totalMs: number; maxMs: number };
  /** CPU of this process (sender, samples and engine) over the paced run, % of one core. */
  cpuPct: number;
  /** Busy % of each CPU of the machine over the paced run. */
  cpusPct: number[];
  /** The tight loop: samples judged per second, one core, no pacing. */
  tightLoop: { samples: number; seconds: number; perSec: number; meanUs: number };
  heapUsedMB: number;
}

function contextFor(index: number): RuleContext {
  const variant = RULE_VARIANTS[index % RULE_VARIANTS.length]!;
  return {
    rules: mergeRules(DEFAULT_HEALTH_RULES, variant.patch),
    targetBitrateKbps: variant.targetBitrateKbps,
  };
}

async function engineBench(options: HealthBenchOptions): Promise<EngineResult> {
  const log = options.log;
  const N = options.engineSessions;
  const rate = options.engineRate;
  const durationMs = options.engineSeconds * 1000;
  const intervalMs = (N / rate) * 1000;
  // As app.ts wires it: the wall clock.
  const engine = new HealthRuleEngine(Date.now);
  const encoders = Array.from(
    { length: N },
    // Dips start within the first 1.5 s and clear before the end of a 10 s run.
    (_, i) => new Encoder(`eng-${i}`, dipFor(i, 5, 500, Math.min(1000, durationMs * 0.1), false)),
  );
  // What HealthMonitor.ensureSeeded does on a session's first sample (no open incidents).
  encoders.forEach((e, i) => engine.seed(e.sessionId, contextFor(i), []));

  const observeUs = new Samples();
  const evaluateUs = new Samples();
  const tickUs = new Samples();
  const actions: Record<string, number> = {};
  const countActions = (list: HealthAction[]) => {
    for (const a of list) actions[`${a.type} ${a.rule}`] = (actions[`${a.type} ${a.rule}`] ?? 0) + 1;
  };
  const deadlines = new Map<string, number>();
  let over1ms = 0;
  const slow: [number, number][] = [];
  const gcs: [number, number][] = [];
  const gcObserver = new PerformanceObserver((entries) => {
    for (const e of entries.getEntries()) gcs.push([e.startTime, e.startTime + e.duration]);
  });
  gcObserver.observe({ entryTypes: ['gc'] });

  log(`health engine: ${N} sessions, ${rate} samples/s for ${options.engineSeconds} s (paced, 5 ms tick)…`);
  // Time-driven rules, as HealthMonitor's per-session timers would run them (checked every 50 ms).
  const ticker = setInterval(() => {
    const now = Date.now();
    for (const [id, at] of deadlines) {
      if (at > now) continue;
      const t0 = performance.now();
      const out = engine.tick(id);
      const next = engine.nextDeadline(id);
      tickUs.add((performance.now() - t0) * 1000);
      countActions(out);
      if (next === null) deadlines.delete(id);
      else deadlines.set(id, next);
    }
  }, 50);
  const cpu = cpuMeter(selfCpuSeconds);
  const machineCpu = systemCpuMeter();
  const start = Date.now();
  const t0 = performance.now();
  const sent = await paced(rate, durationMs, (i) => {
    const encoder = encoders[i % N]!;
    const sample = encoder.sample(Date.now(), Date.now() - start, intervalMs);
    const a = performance.now();
    const out = engine.observe(encoder.sessionId, sample);
    const b = performance.now();
    const next = engine.nextDeadline(encoder.sessionId);
    const c = performance.now();
    observeUs.add((b - a) * 1000);
    evaluateUs.add((c - a) * 1000);
    if (c - a > 1) {
      over1ms++;
      slow.push([a, c]);
    }
    countActions(out);
    if (next === null) deadlines.delete(encoder.sessionId);
    else deadlines.set(encoder.sessionId, next);
  });
  const elapsed = (performance.now() - t0) / 1000;
  const cpuPct = cpu().percent;
  const cpusPct = machineCpu();
  clearInterval(ticker);
  await sleep(100);
  gcObserver.disconnect();
  const over1msDuringGc = slow.filter(([a, c]) => gcs.some(([g0, g1]) => g0 < c && g1 > a)).length;
  const gcDurations = gcs.map(([g0, g1]) => g1 - g0);
  const heapUsedMB = process.memoryUsage().heapUsed / MB;

  // The ceiling: the same work back to back on a fresh engine, samples made beforehand.
  const tight = new HealthRuleEngine(Date.now);
  const M = 20_000;
  const prepared = Array.from({ length: M }, (_, i) => {
    const encoder = encoders[i % N]!;
    return { id: encoder.sessionId, sample: encoder.sample(Date.now(), i % 7 === 0 ? 6000 : 0, intervalMs) };
  });
  encoders.forEach((e, i) => tight.seed(e.sessionId, contextFor(i), []));
  let judged = 0;
  const tt0 = performance.now();
  const until = tt0 + 2000;
  while (performance.now() < until) {
    for (let k = 0; k < 1000; k++) {
      const { id, sample } = prepared[judged % M]!;
      tight.observe(id, sample);
      tight.nextDeadline(id);
      judged++;
    }
  }
  const tightSeconds = (performance.now() - tt0) / 1000;

  const dips: Record<string, number> = {};
  for (const e of encoders) if (e.dip) dips[e.dip.kind] = (dips[e.dip.kind] ?? 0) + 1;
  const result: EngineResult = {
    sessions: N,
    offeredPerSec: rate,
    seconds: elapsed,
    samples: sent,
    achievedPerSec: sent / elapsed,
    observeUs: observeUs.summary(),
    evaluateUs: evaluateUs.summary(),
    tickUs: tickUs.summary(),
    actions,
    dippingSessions: encoders.filter((e) => e.dip).length,
    dips,
    over1ms,
    over1msDuringGc,
    gc: {
      count: gcDurations.length,
      totalMs: gcDurations.reduce((x, y) => x + y, 0),
      maxMs: gcDurations.length ? Math.max(...gcDurations) : 0,
    },
    cpuPct,
    cpusPct,
    tightLoop: {
      samples: judged,
      seconds: tightSeconds,
      perSec: judged / tightSeconds,
      meanUs: (tightSeconds * 1e6) / judged,
    },
    heapUsedMB,
  };
  log(
    `health engine: ${sent} samples in ${elapsed.toFixed(1)} s, evaluate p50 ${result.evaluateUs.p50.toFixed(1)} µs, ` +
      `p99 ${result.evaluateUs.p99.toFixed(1)} µs, max ${result.evaluateUs.max.toFixed(0)} µs; tight loop ${Math.round(result.tightLoop.perSec)}/s`,
  );
  return result;
}

// ---------------------------------------------------------------------------------------
// Part 2: live sessions through a Cueroom server

interface Meters {
  server: () => { percent: number; wallSeconds: number };
  self: () => { percent: number };
  cpus: () => number[];
  redis: () => { percent: number };
  postgres: () => { percent: number };
  rss: { stop: () => number };
}

interface ConsoleRecord {
  sessionIndex: number;
  role: string;
  console: BenchConsole;
  /** performance.now() of each health sample received. */
  healthAt: number[];
}

export interface LiveResult {
  label: string;
  sessions: number;
  ratePerSession: number;
  consoles: Record<string, number>;
  healthConsoles: number;
  seconds: number;
  warmupSeconds: number;
  inviteSeconds: number;
  connectSeconds: number;
  /** Samples offered and acknowledged (`ok` in the ingest results) within the window, per second. */
  offeredPerSec: number;
  acceptedPerSec: number;
  requestsPerSec: number;
  samplesPerRequest: number;
  ingestRtt: Summary;
  /** Per console of a role that receives health (tech, ops): health samples received per second over the window. */
  updatesPerSec: { median: number; min: number; p1: number; max: number; mean: number; under09: number };
  /** Between consecutive health samples at one console (ms), all consoles together. */
  gapMs: Summary;
  /** Of each console's largest gap: the median and the largest. */
  worstGapMs: { median: number; max: number };
  /** Gaps over 1.5 s: how many, how many at consoles of sessions that dipped, and by the second of the window they ended in. */
  longGaps: { count: number; inDippingSessions: number; bySecond: number[] };
  /** The 10 consoles with the largest gap. */
  worstConsoles: { session: number; role: string; dip: string | null; gapMs: number; endedAtSecond: number }[];
  /** The largest ingest round trip of each session, in the window: median and max over sessions (ms). */
  sessionMaxRttMs: { median: number; max: number };
  /** Event `at` (server accept time) → received, health samples (includes the deliberate pacing). */
  acceptedToReceived: Summary;
  /** Sample `ts` (taken by the agent) → received at the console: what tech sees. */
  sampledToReceived: Summary;
  serverCpuPct: number;
  clientCpuPct: number;
  redisCpuPct: number;
  postgresCpuPct: number;
  cpusPct: number[];
  eventLoopP99Ms: number;
  eventLoopMaxMs: number;
  serverRssMB: number;
  serverPeakRssMB: number;
  dippingSessions: number;
  dips: Record<string, number>;
  /** Seen by one tech console per session over the load and 2 s after it. */
  incidents: { raised: number; recurred: number; cleared: number; resolved: number; byRule: Record<string, number> };
  /** Sessions whose dip raised the incident of its rule. */
  dipsRaised: number;
  hostFrames: number;
  errors: Record<string, number>;
  closes: Record<string, number>;
  unanswered: number;
  serverLog: { warn: number; error: number; top: { level: string; msg: string; count: number }[] };
  redisKeysCleaned: number;
}

async function liveBench(options: HealthBenchOptions, tag: string, resultsDir: string, pinCpu: number | null) {
  const log = options.log;
  const target = await CueroomTarget.start({
    redisUrl: options.redisUrl,
    redisPrefix: `bench-${tag}-health`,
    databaseUrl: options.databaseUrl,
    logFile: path.join(resultsDir, 'health-cueroom.log'),
    dataDir: path.join(resultsDir, 'data'),
    pinCpu,
    runTag: `${tag}-health`,
    profileDir: options.profile ? path.join(resultsDir, 'profile-health') : undefined,
  });
  let result: Omit<LiveResult, 'serverLog' | 'redisKeysCleaned'> | null = null;
  let failure: unknown = null;
  try {
    result = await liveLoad(target, options, tag);
  } catch (error) {
    failure = error;
  } finally {
    await target.stop();
  }
  const serverLog = target.server.logSummary();
  const redisKeysCleaned = options.keepData ? 0 : await removeRedisKeys(options.redisUrl, `bench-${tag}-health:`, log);
  if (!options.keepData) log(`cleaned up ${redisKeysCleaned} Redis keys`);
  if (failure) throw failure;
  return { ...result!, serverLog, redisKeysCleaned };
}

async function liveLoad(
  target: CueroomTarget,
  options: HealthBenchOptions,
  tag: string,
): Promise<Omit<LiveResult, 'serverLog' | 'redisKeysCleaned'>> {
  const log = options.log;
  const S = options.sessions;
  const pid = target.server.pid;
  const ids = Array.from({ length: S }, (_, i) => `bh-${tag}-${i}`);
  log(`health live: creating ${S} live sessions…`);
  await mapLimit(ids, 16, (id, i) => target.createLiveSession(id, `Bench health ${i}`));
  const t0 = performance.now();
  const ingestTokens = await mapLimit(ids, 32, (id) => target.invite(id, 'ingest', 'Health agent', 'health-agent'));

  // Consoles: tech and ops receive health samples; the host does not (audience table),
  // and is there for the incidents that reach it and for a realistic crew.
  const roles = ['tech', 'ops', 'host'];
  const specs = ids.flatMap((sessionId, sessionIndex) => roles.map((role) => ({ sessionId, sessionIndex, role })));
  const tokens = await mapLimit(specs, 32, (s) =>
    target.invite(s.sessionId, s.role, `${s.role} ${s.sessionIndex}`, s.role),
  );
  const inviteSeconds = (performance.now() - t0) / 1000;

  let stats = new Stats();
  let measuring = false;
  let loadOn = false;
  const acceptedToReceived = new Samples();
  const sampledToReceived = new Samples();
  const incidents = { raised: 0, recurred: 0, cleared: 0, resolved: 0, byRule: {} as Record<string, number> };
  const raisedRules = new Set<string>();
  let hostFrames = 0;

  log(`health live: connecting ${specs.length} consoles…`);
  const t1 = performance.now();
  const records: ConsoleRecord[] = [];
  for (let i = 0; i < specs.length; i += 50) {
    const batch = specs.slice(i, i + 50).map((spec, j): ConsoleRecord => {
      const record: ConsoleRecord = { sessionIndex: spec.sessionIndex, role: spec.role, console: null!, healthAt: [] };
      record.console = BenchConsole.open({
        url: target.wsUrl(tokens[i + j]!),
        role: spec.role,
        strictSeq: false,
        sessionId: spec.sessionId,
        stats,
        readyTimeoutMs: 60_000,
        onEvent: (event: Json) => {
          if (!loadOn) return;
          if (event.kind === 'health.sampled') {
            record.healthAt.push(performance.now());
            if (measuring) {
              const now = Date.now();
              acceptedToReceived.add(now - event.at);
              sampledToReceived.add(now - event.sample.ts);
            }
            return;
          }
          if (spec.role === 'host') {
            hostFrames++;
            return;
          }
          if (spec.role !== 'tech' || !event.incident?.signal) return;
          const rule = event.incident.signal.rule as string;
          if (event.kind === 'incident.raised') {
            incidents.raised++;
            incidents.byRule[rule] = (incidents.byRule[rule] ?? 0) + 1;
            raisedRules.add(`${spec.sessionIndex}:${rule}`);
          } else if (event.kind === 'incident.recurred') incidents.recurred++;
          else if (event.kind === 'incident.signal_changed' && !event.incident.signal.breaching) incidents.cleared++;
          else if (event.kind === 'incident.resolved') incidents.resolved++;
        },
      });
      return record;
    });
    records.push(...batch);
    await Promise.all(batch.map((r) => r.console.ready));
  }
  const connectSeconds = (performance.now() - t1) / 1000;
  const techs = records.filter((r) => r.role === 'tech');

  // Rules per session as tech sets them: a quarter keep the defaults, the others a target
  // bitrate or edited rules.
  const setup: Promise<unknown>[] = [];
  techs.forEach((r, i) => {
    const command =
      i % 4 === 1
        ? { kind: 'session.set_target_bitrate', targetBitrateKbps: 4500 }
        : i % 4 === 2
          ? { kind: 'health.set_rules', rules: { fps: { floor: 24 }, recoverSeconds: 15 } }
          : i % 4 === 3
            ? { kind: 'health.set_rules', rules: { viewers: { maxDropShare: 0.5 }, droppedFrames: { maxRatio: 0.08 } } }
            : null;
    if (command) setup.push(new Promise((resolve) => r.console.command(commandId(`${tag}-rules`), command, resolve)));
  });
  await Promise.race([Promise.all(setup), sleep(30_000)]);
  await sleep(1000);
  log(
    `health live: ${records.length} consoles connected in ${connectSeconds.toFixed(1)} s; rules set on ${setup.length} sessions`,
  );

  // The agents: each posts its session's samples, one request at a time, with the samples
  // that queued while the previous request was out (at most 100, the endpoint's limit).
  const warmupMs = options.warmupSeconds * 1000;
  const windowMs = options.seconds * 1000;
  const intervalMs = 1000 / options.rate;
  const encoders = ids.map(
    (id, i) => new Encoder(id, dipFor(i, 5, warmupMs + 2000, Math.max(1000, windowMs - 16_000), true)),
  );
  const queues: HealthSample[][] = ids.map(() => []);
  const posting = ids.map(() => false);
  // Each agent is its own process with its own keep-alive connection: one socket per session,
  // opened once (a shared pool would close and reopen sockets as concurrency moves).
  const agents = ids.map(() => new http.Agent({ keepAlive: true, maxSockets: 1 }));
  const ingestRtt = new Samples();
  const sessionMaxRtt = ids.map(() => 0);
  let inflight = 0;
  let offeredInWindow = 0;
  let acceptedInWindow = 0;
  let requestsInWindow = 0;
  let samplesInWindowRequests = 0;
  const pump = (s: number) => {
    if (posting[s] || queues[s]!.length === 0) return;
    const batch = queues[s]!.splice(0, 100);
    posting[s] = true;
    inflight++;
    const sentAt = performance.now();
    if (measuring) {
      requestsInWindow++;
      samplesInWindowRequests += batch.length;
    }
    httpJson(
      'POST',
      `${target.server.baseUrl}/v1/sessions/${ids[s]}/ingest/health`,
      ingestTokens[s]!,
      { samples: batch },
      30_000,
      agents[s],
    )
      .then((answer) => {
        const rtt = performance.now() - sentAt;
        ingestRtt.add(rtt);
        if (measuring) sessionMaxRtt[s] = Math.max(sessionMaxRtt[s]!, rtt);
        if (answer.status !== 200) {
          stats.error(`http_${answer.status}_${answer.body?.code ?? ''}`);
          return;
        }
        for (const r of answer.body.results as Json[]) {
          if (r.ok) {
            if (measuring) acceptedInWindow++;
          } else stats.error(String(r.error?.code));
        }
      })
      .catch(() => stats.error('http_failed'))
      .finally(() => {
        inflight--;
        posting[s] = false;
        pump(s);
      });
  };

  stats = new Stats();
  for (const r of records) r.console.options.stats = stats;
  let meters = null as Meters | null;
  let windowStart = 0;
  let windowEnd = 0;
  const loadStart = Date.now();
  loadOn = true;
  log(
    `health live: ${S} sessions × ${options.rate} samples/s, ${options.warmupSeconds} s warm-up + ${options.seconds} s measured…`,
  );
  const startWindow = setTimeout(() => {
    void scrapeMetrics(target.server.baseUrl);
    meters = {
      server: cpuMeter(() => procCpuSeconds(pid)),
      self: cpuMeter(selfCpuSeconds),
      cpus: systemCpuMeter(),
      redis: namedCpuMeter(['redis-server']),
      postgres: namedCpuMeter(['postgres']),
      rss: watchRss(pid),
    };
    windowStart = performance.now();
    measuring = true;
  }, warmupMs);
  await paced(S * options.rate, warmupMs + windowMs, (i) => {
    const s = i % S;
    const now = Date.now();
    if (measuring) offeredInWindow++;
    queues[s]!.push(encoders[s]!.sample(now, now - loadStart, intervalMs));
    pump(s);
  });
  clearTimeout(startWindow);
  measuring = false;
  windowEnd = performance.now();
  const m = meters;
  if (!m) throw new Error('the measured window never started');
  const server = m.server();
  const self = m.self();
  const cpus = m.cpus();
  const redisPct = m.redis().percent;
  const postgresPct = m.postgres().percent;
  const peak = m.rss.stop();
  const rssNow = procRssBytes(pid);
  const metrics = await scrapeMetrics(target.server.baseUrl);
  await waitUntil(() => inflight === 0, 15_000, 50);
  // Incidents raised by the last samples (and their fan-out) land within a moment.
  await sleep(2000);
  loadOn = false;
  const unanswered = inflight + queues.reduce((n, q) => n + q.length, 0);
  for (const r of records) r.console.close();
  for (const agent of agents) agent.destroy();

  // Per console: health samples within the window, and the gaps between consecutive ones.
  const healthRecords = records.filter((r) => r.role !== 'host');
  const windowSeconds = (windowEnd - windowStart) / 1000;
  const rates: number[] = [];
  const gaps = new Samples();
  const worst: number[] = [];
  /** Gaps over 1.5 s by the second of the window they ended in: a stall of the whole server shows as one peak. */
  const longGapsBySecond: number[] = Array.from({ length: Math.ceil(windowSeconds) + 1 }, () => 0);
  let longGaps = 0;
  let longGapsDipping = 0;
  const worstConsoles: { session: number; role: string; dip: string | null; gapMs: number; endedAtSecond: number }[] =
    [];
  for (const r of healthRecords) {
    let n = 0;
    let largest = 0;
    let largestAt = 0;
    for (let k = 0; k < r.healthAt.length; k++) {
      const at = r.healthAt[k]!;
      if (at < windowStart || at > windowEnd) continue;
      n++;
      if (k > 0) {
        const gap = at - r.healthAt[k - 1]!;
        gaps.add(gap);
        if (gap > largest) {
          largest = gap;
          largestAt = at;
        }
        if (gap > 1500) {
          longGaps++;
          if (encoders[r.sessionIndex]!.dip) longGapsDipping++;
          longGapsBySecond[Math.floor((at - windowStart) / 1000)]!++;
        }
      }
    }
    // A console that received nothing for the whole window has one gap as long as it.
    if (n === 0) largest = windowEnd - windowStart;
    rates.push(n / windowSeconds);
    worst.push(largest);
    worstConsoles.push({
      session: r.sessionIndex,
      role: r.role,
      dip: encoders[r.sessionIndex]!.dip?.kind ?? null,
      gapMs: largest,
      endedAtSecond: (largestAt - windowStart) / 1000,
    });
  }
  worstConsoles.sort((a, b) => b.gapMs - a.gapMs);
  rates.sort((a, b) => a - b);
  worst.sort((a, b) => a - b);

  let dipsRaised = 0;
  const dips: Record<string, number> = {};
  encoders.forEach((e, i) => {
    if (!e.dip) return;
    dips[e.dip.kind] = (dips[e.dip.kind] ?? 0) + 1;
    if (raisedRules.has(`${i}:${DIP_RULE[e.dip.kind]}`)) dipsRaised++;
  });

  const consoles: Record<string, number> = {};
  for (const r of records) consoles[r.role] = (consoles[r.role] ?? 0) + 1;
  return {
    label: target.label,
    sessions: S,
    ratePerSession: options.rate,
    consoles,
    healthConsoles: healthRecords.length,
    seconds: windowSeconds,
    warmupSeconds: options.warmupSeconds,
    inviteSeconds,
    connectSeconds,
    offeredPerSec: offeredInWindow / server.wallSeconds,
    acceptedPerSec: acceptedInWindow / server.wallSeconds,
    requestsPerSec: requestsInWindow / server.wallSeconds,
    samplesPerRequest: samplesInWindowRequests / Math.max(1, requestsInWindow),
    ingestRtt: ingestRtt.summary(),
    updatesPerSec: {
      median: percentile(rates, 50),
      min: rates[0] ?? Number.NaN,
      p1: percentile(rates, 1),
      max: rates.at(-1) ?? Number.NaN,
      mean: rates.reduce((a, b) => a + b, 0) / Math.max(1, rates.length),
      under09: rates.filter((r) => r < 0.9).length,
    },
    gapMs: gaps.summary(),
    worstGapMs: { median: percentile(worst, 50), max: worst.at(-1) ?? Number.NaN },
    longGaps: { count: longGaps, inDippingSessions: longGapsDipping, bySecond: longGapsBySecond },
    worstConsoles: worstConsoles.slice(0, 10),
    sessionMaxRttMs: {
      median: percentile(
        [...sessionMaxRtt].sort((a, b) => a - b),
        50,
      ),
      max: Math.max(...sessionMaxRtt),
    },
    acceptedToReceived: acceptedToReceived.summary(),
    sampledToReceived: sampledToReceived.summary(),
    serverCpuPct: server.percent,
    clientCpuPct: self.percent,
    redisCpuPct: redisPct,
    postgresCpuPct: postgresPct,
    cpusPct: cpus,
    eventLoopP99Ms: metrics?.eventLoopP99Ms ?? Number.NaN,
    eventLoopMaxMs: metrics?.eventLoopMaxMs ?? Number.NaN,
    serverRssMB: rssNow / MB,
    serverPeakRssMB: peak / MB,
    dippingSessions: encoders.filter((e) => e.dip).length,
    dips,
    incidents,
    dipsRaised,
    hostFrames,
    errors: Object.fromEntries([...stats.errors].sort((a, b) => b[1] - a[1])),
    closes: Object.fromEntries(stats.closes),
    unanswered,
  };
}

// ---------------------------------------------------------------------------------------
// Report

function sh(command: string, args: string[]): string | null {
  try {
    return execFileSync(command, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 5000 }).trim();
  } catch {
    return null;
  }
}

function machine(pinned: boolean, redisUrl: string) {
  const cpuinfo = existsSync('/proc/cpuinfo') ? readFileSync('/proc/cpuinfo', 'utf8') : '';
  const model = /^model name\s*:\s*(.+)$/m.exec(cpuinfo)?.[1] ?? os.cpus()[0]?.model ?? 'unknown';
  const redis = sh('redis-cli', ['-u', redisUrl, 'info', 'server']);
  return {
    cpu: model,
    cores: os.cpus().length,
    memoryGB: os.totalmem() / 1024 ** 3,
    node: process.version,
    kernel: `${os.type()} ${os.release()}`,
    redis: redis ? (/redis_version:(\S+)/.exec(redis)?.[1] ?? 'up') : 'not reachable',
    postgres: sh('psql', ['--version'])?.replace(/^psql \(PostgreSQL\) /, '') ?? 'unknown',
    loadAverage: os
      .loadavg()
      .map((l) => l.toFixed(2))
      .join(' '),
    pinning: pinned ? 'server on CPU 0, load generator and engine on CPU 1 (taskset)' : 'none',
  };
}

const f0 = (n: number) => (Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : '–');
const f1 = (n: number) => (Number.isFinite(n) ? n.toFixed(1) : '–');
const f2 = (n: number) => (Number.isFinite(n) ? n.toFixed(2) : '–');
const ms = (n: number) => (!Number.isFinite(n) ? '–' : n < 10 ? n.toFixed(1) : Math.round(n).toLocaleString('en-US'));
const us = (n: number) => (!Number.isFinite(n) ? '–' : n < 100 ? n.toFixed(1) : Math.round(n).toLocaleString('en-US'));
const lat = (s: Summary, fmt = ms) => (s.count ? `${fmt(s.p50)} / ${fmt(s.p99)} / ${fmt(s.max)}` : '–');
const list = (r: Record<string, number>) =>
  Object.keys(r).length
    ? Object.entries(r)
        .map(([k, v]) => `${k} ×${f0(v)}`)
        .join(', ')
    : '0';

function renderEngine(r: EngineResult): string {
  const breaches = Object.entries(r.actions)
    .filter(([k]) => k.startsWith('breach'))
    .reduce((n, [, v]) => n + v, 0);
  return [
    `### Rule engine: ${f0(r.offeredPerSec)} samples/s over ${f0(r.sessions)} sessions, in process`,
    '',
    `The real \`HealthRuleEngine\` with the wall clock, as \`HealthMonitor\` drives it: \`observe\` then \`nextDeadline\` ` +
      `for each sample ("evaluate"), \`tick\` at each session's deadline. Four rule sets in turn (defaults; fps floor 25 and ` +
      `5 s recovery; bitrate hold 5 s; viewers rule off), two destinations per sample. One session in five dips once ` +
      `(${list(r.dips)}). Samples sent open loop on a 5 ms tick for ${f0(r.seconds)} s.`,
    '',
    '| samples/s offered | achieved | samples | evaluate p50 / p99 / max (µs) | observe p50 / p99 / max (µs) | over 1 ms | tick p50 / p99 / max (µs) | engine process CPU | tight loop (samples/s, one core) | heap used (MB) |',
    '|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|',
    `| ${f0(r.offeredPerSec)} | ${f0(r.achievedPerSec)} | ${f0(r.samples)} | ${lat(r.evaluateUs, us)} | ${lat(r.observeUs, us)} | ${f0(r.over1ms)} | ${lat(r.tickUs, us)} | ${f0(r.cpuPct)}% | ${f0(r.tightLoop.perSec)} (${f2(r.tightLoop.meanUs)} µs each) | ${f0(r.heapUsedMB)} |`,
    '',
    `- Actions returned (what HealthMonitor turns into system commands): ${list(r.actions)}; ${f0(breaches)} breaches for ${f0(r.dippingSessions)} dipping sessions.`,
    `- Evaluations over 1 ms: ${f0(r.over1ms)} of ${f0(r.samples)}, ${f0(r.over1msDuringGc)} of them during a garbage collection of this process ` +
      `(${f0(r.gc.count)} collections in the run, ${ms(r.gc.totalMs)} ms in all, the longest ${ms(r.gc.maxMs)} ms); the others match no collection (likely this process descheduled: CPUs busy ${r.cpusPct.map((c) => `${f0(c)}%`).join(' / ')} during the run, this process ${f0(r.cpuPct)}%).`,
  ].join('\n');
}

function renderLive(r: LiveResult): string {
  const u = r.updatesPerSec;
  /** CPU busy on the machine beyond the server, the generator, Redis and Postgres: kernel work and other processes. */
  const rest =
    r.cpusPct.reduce((a, b) => a + b, 0) - r.serverCpuPct - r.clientCpuPct - r.redisCpuPct - r.postgresCpuPct;
  const peaks = r.longGaps.bySecond
    .map((n, second) => ({ n, second }))
    .filter((x) => x.n > 0)
    .sort((a, b) => b.n - a.n)
    .slice(0, 3);
  return [
    `### Live: ${f0(r.sessions)} sessions × ${r.ratePerSession} samples/s through one Cueroom server`,
    '',
    `${r.label}. One agent per session posts its samples to \`POST /v1/sessions/:id/ingest/health\` with an ingest token, ` +
      `over its own keep-alive connection, one request at a time carrying the samples that queued meanwhile. Consoles: ${list(r.consoles)}; tech and ops receive ` +
      `health samples (${f0(r.healthConsoles)} consoles), the host does not (audience table). Rules as tech sets them ` +
      `(a quarter each: defaults, a target bitrate, fps floor 24, a viewers and dropped-frames edit). One session in five ` +
      `dips once in the window (${list(r.dips)}). ${f0(r.warmupSeconds)} s of warm-up, then ${f0(r.seconds)} s measured.`,
    '',
    '| samples/s offered | accepted/s | requests/s (samples each) | ingest round trip p50 / p99 (ms) | health updates/s per console: median / min / p1 | consoles under 0.9/s | gap between updates p50 / p99 / max (ms) | accepted→received p50 / p99 / max (ms) | sampled→received p50 / p99 (ms) | server CPU (ms of CPU per accepted sample) | load-gen CPU | Redis / Postgres / rest CPU | event-loop delay p99 / max (ms) | server RSS (MB) | errors |',
    '|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|---|',
    `| ${f0(r.offeredPerSec)} | ${f0(r.acceptedPerSec)} | ${f0(r.requestsPerSec)} (${f2(r.samplesPerRequest)}) | ${ms(r.ingestRtt.p50)} / ${ms(r.ingestRtt.p99)} | ${f2(u.median)} / ${f2(u.min)} / ${f2(u.p1)} | ${f0(u.under09)} of ${f0(r.healthConsoles)} | ${lat(r.gapMs)} | ${lat(r.acceptedToReceived)} | ${ms(r.sampledToReceived.p50)} / ${ms(r.sampledToReceived.p99)} | ${f0(r.serverCpuPct)}% (${f2((r.serverCpuPct * 10) / r.acceptedPerSec)}) | ${f0(r.clientCpuPct)}% | ${f0(r.redisCpuPct)}% / ${f0(r.postgresCpuPct)}% / ${f0(rest)}% | ${ms(r.eventLoopP99Ms)} / ${ms(r.eventLoopMaxMs)} | ${f0(r.serverRssMB)} (peak ${f0(r.serverPeakRssMB)}) | ${list(r.errors)}${r.unanswered ? `; unanswered ${r.unanswered}` : ''}${Object.keys(r.closes).length ? `; closed ${list(r.closes)}` : ''} |`,
    '',
    `- Incidents from the rules (one tech console per session): ${f0(r.incidents.raised)} raised (${list(r.incidents.byRule)}), ` +
      `${f0(r.incidents.recurred)} recurred, ${f0(r.incidents.cleared)} cleared, ${f0(r.incidents.resolved)} resolved by the rules; ` +
      `${f0(r.dipsRaised)} of ${f0(r.dippingSessions)} dips raised the incident of their rule.`,
    `- Largest gap per console: median ${ms(r.worstGapMs.median)} ms, max ${ms(r.worstGapMs.max)} ms. ` +
      `Gaps over 1.5 s: ${f0(r.longGaps.count)} (${f0(r.longGaps.inDippingSessions)} at consoles of sessions that dipped)` +
      `${peaks.length ? `, most ending in second ${peaks.map((p) => `${p.second} (${p.n})`).join(', ')} of the window` : ''}. ` +
      `Largest ingest round trip per session: median ${ms(r.sessionMaxRttMs.median)} ms, max ${ms(r.sessionMaxRttMs.max)} ms. ` +
      `CPUs busy ${r.cpusPct.map((c) => `${f0(c)}%`).join(' / ')} over the window. ` +
      `${f0(r.sessions * 3)} invites in ${f1(r.inviteSeconds)} s, consoles connected (50 at a time) in ${f1(r.connectSeconds)} s.`,
    `- Server log: ${r.serverLog.warn} warnings, ${r.serverLog.error} errors${r.serverLog.top.length ? ` (${r.serverLog.top.map((t) => `${t.level} ×${t.count}: ${t.msg.replace(/\|/g, '/')}`).join('; ')})` : ''}; ${f0(r.redisKeysCleaned)} Redis keys removed after the run.`,
  ].join('\n');
}

// ---------------------------------------------------------------------------------------

const DEFAULTS: HealthBenchOptions = {
  sessions: 500,
  rate: 2,
  seconds: 30,
  warmupSeconds: 5,
  engineSessions: 5000,
  engineRate: 10_000,
  engineSeconds: 10,
  parts: ['engine', 'live'],
  pin: true,
  profile: false,
  quietWaitSeconds: 45,
  keepData: false,
  redisUrl: process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379',
  databaseUrl: process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test',
  resultsDir: null,
  log: (line) => console.log(`[bench health] ${line}`),
  command: null,
};

/**
 * Runs the stream-health benchmark: the rule engine in process, then live sessions through a
 * Cueroom server on Redis + Postgres. Pins this process to CPU 1 (and the server to CPU 0)
 * unless `pin` is false. Writes results.json and the server log into `resultsDir`.
 */
export async function runHealthBench(
  partial: Partial<HealthBenchOptions> = {},
): Promise<{ markdown: string; json: unknown }> {
  const options: HealthBenchOptions = { ...DEFAULTS, ...partial };
  const started = new Date();
  const tag = uniqueTag();
  const resultsDir =
    options.resultsDir ??
    path.join(ROOT, 'bench', 'results', `${started.toISOString().replace(/[:.]/g, '-').slice(0, 19)}-health-${tag}`);
  mkdirSync(resultsDir, { recursive: true });
  const pin = options.pin && hasTaskset() && os.cpus().length >= 2;
  if (pin) {
    const pinned = spawnSync('taskset', ['-a', '-pc', '1', String(process.pid)], { stdio: 'ignore' });
    if (pinned.status !== 0) options.log('could not pin this process to CPU 1');
  }
  const m = machine(pin, options.redisUrl);
  /** CPU busy on the machine (of 100 × cores) just before each part: other work. */
  const busyBefore: Record<string, number> = {};
  let engine: EngineResult | null = null;
  if (options.parts.includes('engine')) {
    busyBefore.engine = await quiet(options);
    engine = await engineBench(options);
  }
  let live: LiveResult | null = null;
  let liveError: string | null = null;
  if (options.parts.includes('live')) {
    busyBefore.live = await quiet(options);
    try {
      live = await liveBench(options, tag, resultsDir, pin ? 0 : null);
    } catch (error) {
      liveError = (error as Error).message.slice(0, 600);
      options.log(`health live: not completed: ${liveError}`);
    }
  }
  const elapsed = (Date.now() - started.getTime()) / 1000;
  const markdown = [
    '## Stream health results',
    '',
    `Run \`${tag}\`, ${started.toISOString()}, ${f0(elapsed)} s in all. Command: \`${options.command ?? `npx tsx bench/health.ts --sessions=${options.sessions} --rate=${options.rate} --seconds=${options.seconds}`}\`.`,
    '',
    '| machine | |',
    '|---|---|',
    `| CPU | ${m.cpu} |`,
    `| cores | ${m.cores} |`,
    `| memory | ${m.memoryGB.toFixed(1)} GB |`,
    `| Node | ${m.node} |`,
    `| kernel | ${m.kernel} |`,
    `| Redis / Postgres | ${m.redis} / ${m.postgres} (local, not pinned) |`,
    `| pinning | ${m.pinning} |`,
    `| load average at start | ${m.loadAverage} |`,
    `| CPU busy before each part (other work; of ${m.cores * 100}%) | ${Object.entries(busyBefore)
      .map(([k, v]) => `${k}: ${f0(v)}%`)
      .join(', ')} |`,
    '',
    ...(engine ? [renderEngine(engine), ''] : []),
    ...(live ? [renderLive(live), ''] : []),
    ...(liveError ? [`Live part not completed: ${liveError}`, ''] : []),
  ].join('\n');
  const json = {
    tag,
    date: started.toISOString(),
    machine: m,
    options: { ...options, log: undefined },
    engine,
    live,
    liveError,
  };
  writeFileSync(path.join(resultsDir, 'results.json'), JSON.stringify(json, null, 2));
  writeFileSync(path.join(resultsDir, 'report.md'), markdown);
  options.log(`results in ${path.relative(ROOT, resultsDir)}`);
  return { markdown, json };
}

/**
 * Waits (up to `quietWaitSeconds`) until the machine is nearly idle: on 2 CPUs, other work
 * would be measured as Cueroom's. Returns the busy % of all CPUs over the last 2 s sampled.
 */
async function quiet(options: HealthBenchOptions, threshold = 25): Promise<number> {
  const end = Date.now() + options.quietWaitSeconds * 1000;
  for (;;) {
    const meter = systemCpuMeter();
    await sleep(2000);
    const busy = meter().reduce((a, b) => a + b, 0);
    if (busy <= threshold || Date.now() >= end) return busy;
    options.log(`waiting for the machine to quieten down: CPUs ${busy.toFixed(0)}% busy`);
  }
}

/** Writes `markdown` between the health markers of docs/benchmarks.md. */
export function writeHealthDoc(markdown: string): Promise<void> {
  return writeDocPart(path.join(ROOT, 'docs', 'benchmarks.md'), 'health', markdown);
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const value = (name: string) => argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
  const num = (name: string, fallback: number) => {
    const raw = value(name);
    if (raw === undefined) return fallback;
    const n = Number(raw);
    if (!Number.isFinite(n) || n <= 0) throw new Error(`--${name} expects a positive number, got ${raw}`);
    return n;
  };
  const only = value('only');
  const { markdown } = await runHealthBench({
    sessions: num('sessions', DEFAULTS.sessions),
    rate: num('rate', DEFAULTS.rate),
    seconds: num('seconds', DEFAULTS.seconds),
    warmupSeconds: num('warmup', DEFAULTS.warmupSeconds),
    engineSessions: num('engine-sessions', DEFAULTS.engineSessions),
    engineRate: num('engine-rate', DEFAULTS.engineRate),
    engineSeconds: num('engine-seconds', DEFAULTS.engineSeconds),
    parts: only === 'engine' || only === 'live' ? [only] : DEFAULTS.parts,
    pin: !argv.includes('--no-pin'),
    profile: argv.includes('--profile'),
    keepData: argv.includes('--keep-data'),
    quietWaitSeconds: value('quiet-wait') === '0' ? 0 : num('quiet-wait', DEFAULTS.quietWaitSeconds),
    command: `npx tsx bench/health.ts${argv.length ? ` ${argv.join(' ')}` : ''}`,
  });
  console.log(`\n${markdown}`);
  if (argv.includes('--doc')) {
    await writeHealthDoc(markdown);
    console.log('[bench health] written to docs/benchmarks.md');
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().then(
    () => process.exit(0),
    (error: unknown) => {
      console.error(error);
      process.exit(1);
    },
  );
}

/**
 * `npm run bench`: runs the big-room and busy-night scenarios against Cueroom on Redis +
 * Postgres and against a bare `ws` broadcast server, then prints a markdown report and
 * writes it into docs/benchmarks.md (between the results markers) and bench/results/.
 *
 *   npm run bench                 full run (~4 min on an idle machine)
 *   npm run bench -- --quick      smoke run (~1 min); writes bench/results/ only unless --doc
 *
 * Options: --only=bigroom|busynight  --targets=cueroom,baseline  --consoles=N
 * --steps=50,100,150  --step-seconds=S  --sessions=N  --busy-seconds=S  --idle=N
 * --probe-every=N  --quiet-wait=S  --no-pin  --doc / --no-doc  --keep-data  --backend=embedded  --profile
 * Env: BENCH_REDIS_URL (redis://127.0.0.1:6379), BENCH_DATABASE_URL
 * (postgres://postgres@127.0.0.1:5432/test).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { removeRedisKeys, sleep, systemCpuMeter, waitUntil, writeDocPart, type Summary } from './load.js';
import {
  bigRoom,
  busyNight,
  otherCpu,
  type BigRoomResult,
  type BusyNightResult,
  type SideFigures,
} from './scenarios.js';
import { runHealthBench, writeHealthDoc } from './health.js';
import { runReviewBench, writeReviewDoc } from './review.js';
import { BaselineTarget, CueroomTarget, ROOT, hasTaskset, uniqueTag, type Target } from './targets.js';

// ---------------------------------------------------------------------------------------
// Options

const argv = process.argv.slice(2);
const flag = (name: string) => argv.includes(`--${name}`);
const value = (name: string): string | undefined => {
  const found = argv.find((a) => a.startsWith(`--${name}=`));
  return found?.slice(name.length + 3);
};
const num = (name: string, fallback: number) => {
  const raw = value(name);
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`--${name} expects a positive number, got ${raw}`);
  return n;
};

const quick = flag('quick');
const options = {
  quick,
  scenarios: (value('only') ?? 'bigroom,busynight,health,review').split(','),
  targets: (value('targets') ?? 'cueroom,baseline').split(','),
  consoles: num('consoles', quick ? 200 : 1000),
  steps: (value('steps') ?? (quick ? '50,100' : '50,100,150,200')).split(',').map(Number),
  stepSeconds: num('step-seconds', quick ? 4 : 10),
  sessions: num('sessions', quick ? 20 : 200),
  busySeconds: num('busy-seconds', quick ? 8 : 30),
  idle: num('idle', quick ? 200 : 1000),
  probeEvery: num('probe-every', 10),
  /** Longest wait for the machine to be idle before each server starts (0: none). */
  quietWaitSeconds: value('quiet-wait') === '0' ? 0 : num('quiet-wait', 45),
  pin: !flag('no-pin'),
  writeDoc: flag('doc') || (!quick && !flag('no-doc')),
  /** `embedded` runs Cueroom without REDIS_URL and DATABASE_URL (memory store, PGlite): for trying the bench out. */
  backend: value('backend') ?? 'redis',
  keepData: flag('keep-data'),
  /** Writes a V8 CPU profile of each Cueroom server to bench/results/…/profile-<scenario>/ (summarise with bench/profile-summary.ts). */
  profile: flag('profile'),
  redisUrl: process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379',
  databaseUrl: process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test',
};
for (const s of options.steps) if (!Number.isFinite(s) || s <= 0) throw new Error(`--steps: bad rate ${s}`);

const started = new Date();
const tag = uniqueTag();
const stamp = started.toISOString().replace(/[:.]/g, '-').slice(0, 19);
const resultsDir = path.join(ROOT, 'bench', 'results', `${stamp}-${tag}`);
mkdirSync(resultsDir, { recursive: true });

/** CPU busy on the machine (all CPUs, of 100 × cores) just before each server started. */
const idleBefore: string[] = [];

const log = (line: string) =>
  console.log(`[bench ${((Date.now() - started.getTime()) / 1000).toFixed(0).padStart(3)} s] ${line}`);

// ---------------------------------------------------------------------------------------
// Machine

function sh(command: string, args: string[]): string | null {
  try {
    return execFileSync(command, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 5000 }).trim();
  } catch {
    return null;
  }
}

async function machine(pinned: boolean) {
  const cpuinfo = existsSync('/proc/cpuinfo') ? readFileSync('/proc/cpuinfo', 'utf8') : '';
  const model = /^model name\s*:\s*(.+)$/m.exec(cpuinfo)?.[1] ?? os.cpus()[0]?.model ?? 'unknown';
  const mhz = /^cpu MHz\s*:\s*(.+)$/m.exec(cpuinfo)?.[1];
  const memKb = Number(
    /^MemTotal:\s+(\d+)/m.exec(existsSync('/proc/meminfo') ? readFileSync('/proc/meminfo', 'utf8') : '')?.[1],
  );
  const redis = sh('redis-cli', ['-u', options.redisUrl, 'info', 'server']);
  let postgres: string | null = null;
  try {
    const client = new pg.Client({ connectionString: options.databaseUrl });
    client.on('error', () => undefined);
    await client.connect();
    postgres = (await client.query<{ v: string }>("select current_setting('server_version') as v")).rows[0]?.v ?? null;
    await client.end();
  } catch {
    postgres = null;
  }
  return {
    cpu: model,
    mhz: mhz ? `${Math.round(Number(mhz))} MHz` : null,
    cores: os.cpus().length,
    memoryGB: Number.isFinite(memKb) ? memKb / 1024 / 1024 : os.totalmem() / 1024 ** 3,
    node: process.version,
    kernel: `${os.type()} ${os.release()}`,
    redis: redis ? (/redis_version:(\S+)/.exec(redis)?.[1] ?? 'up') : 'not reachable',
    postgres: postgres ?? 'not reachable',
    fileLimit: sh('sh', ['-c', 'ulimit -n']) ?? 'unknown',
    loadAverage: os
      .loadavg()
      .map((l) => l.toFixed(2))
      .join(' '),
    pinning: pinned ? 'server on CPU 0, load generator on CPU 1 (taskset)' : 'none',
    date: started.toISOString(),
  };
}

// ---------------------------------------------------------------------------------------
// Running

interface Outcome<T> {
  target: string;
  result?: T;
  notRun?: string;
  log?: ReturnType<Target['server']['logSummary']>;
}

function reachable(url: string, defaultPort: number): Promise<boolean> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const socket = net.connect({ host: hostname, port: Number(port || defaultPort) });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1000, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

/** Waits (up to 30 s) for Redis and Postgres to accept connections. */
async function backendsUp(): Promise<void> {
  const ok = await waitUntil(
    async () => (await reachable(options.redisUrl, 6379)) && (await reachable(options.databaseUrl, 5432)),
    30_000,
    500,
  );
  if (!ok)
    throw new Error(`Redis (${options.redisUrl}) or Postgres (${options.databaseUrl}) is not accepting connections`);
}

async function startTarget(name: string, scenario: string, pinCpu: number | null): Promise<Target> {
  if (name === 'cueroom' && options.backend !== 'embedded') {
    await backendsUp();
    try {
      return await startOnce(name, scenario, pinCpu);
    } catch (error) {
      // Another user of this machine's Postgres or Redis may have restarted it: one more try.
      log(`  ${name}: did not start (${(error as Error).message.slice(0, 200)}); retrying once`);
      await backendsUp();
      return startOnce(name, scenario, pinCpu, '-retry');
    }
  }
  return startOnce(name, scenario, pinCpu);
}

async function startOnce(name: string, scenario: string, pinCpu: number | null, suffix = ''): Promise<Target> {
  const logFile = path.join(resultsDir, `${scenario}-${name}${suffix}.log`);
  if (name === 'baseline') return BaselineTarget.start({ logFile, pinCpu });
  if (name === 'cueroom') {
    const embedded = options.backend === 'embedded';
    return CueroomTarget.start({
      redisUrl: embedded ? null : options.redisUrl,
      redisPrefix: `bench-${tag}-${scenario}`,
      databaseUrl: embedded ? null : options.databaseUrl,
      logFile,
      dataDir: path.join(resultsDir, 'data'),
      pinCpu,
      runTag: `${tag}-${scenario}`,
      profileDir: options.profile ? path.join(resultsDir, `profile-${scenario}`) : undefined,
    });
  }
  throw new Error(`unknown target ${name}`);
}

/**
 * Waits (up to `maxMs`) until the machine is nearly idle before a measurement: other work
 * on a 2-CPU machine would be measured as Cueroom's. Returns the busy % of all CPUs (out
 * of 100 × cores) over the last 2 s sampled.
 */
async function quiet(maxMs = options.quietWaitSeconds * 1000, threshold = 25): Promise<number> {
  const end = Date.now() + maxMs;
  let busy = Number.NaN;
  for (;;) {
    const meter = systemCpuMeter();
    await sleep(2000);
    busy = meter().reduce((a, b) => a + b, 0);
    if (busy <= threshold || Date.now() >= end) break;
    log(`  waiting for the machine to quieten down: CPUs ${busy.toFixed(0)}% busy`);
  }
  return busy;
}

async function runScenario<T>(
  scenario: string,
  pinCpu: number | null,
  body: (target: Target) => Promise<T>,
): Promise<Outcome<T>[]> {
  const outcomes: Outcome<T>[] = [];
  for (const name of options.targets) {
    log(`${scenario} on ${name}`);
    let target: Target | null = null;
    try {
      const busyBefore = await quiet();
      idleBefore.push(`${scenario}/${name}: ${busyBefore.toFixed(0)}%`);
      target = await startTarget(name, scenario, pinCpu);
      const result = await body(target);
      outcomes.push({ target: name, result });
    } catch (error) {
      const message = (error as Error).message;
      log(`  ${name}: not completed: ${message}`);
      outcomes.push({ target: name, notRun: message.slice(0, 600) });
    } finally {
      if (target) {
        await target.stop();
        const summary = target.server.logSummary();
        const last = outcomes.at(-1);
        if (last) last.log = summary;
        if (summary.warn || summary.error)
          log(`  ${name}: server log: ${summary.warn} warnings, ${summary.error} errors`);
        if (name === 'cueroom' && options.backend !== 'embedded' && !options.keepData) await cleanUp(scenario);
      }
    }
  }
  return outcomes;
}

/**
 * Removes the Redis keys a Cueroom run left behind (its own prefix). Its audit rows stay:
 * the table is append-only (a trigger refuses DELETE), and the run's session ids are its
 * own. Skipped with --keep-data.
 */
async function cleanUp(scenario: string): Promise<void> {
  const keys = await removeRedisKeys(options.redisUrl, `bench-${tag}-${scenario}:`, (line) => log(`  ${line}`));
  log(`  cleaned up: ${keys} Redis keys`);
}

// ---------------------------------------------------------------------------------------
// Report

const f0 = (n: number) => (Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : '–');
const f1 = (n: number) => (Number.isFinite(n) ? n.toFixed(1) : '–');
const ms = (n: number) => (!Number.isFinite(n) ? '–' : n < 10 ? n.toFixed(1) : Math.round(n).toLocaleString('en-US'));
const lat = (s: Summary) => (s.count ? `${ms(s.p50)} / ${ms(s.p99)} / ${ms(s.max)}` : '–');
type CpuFigures = { serverCpuPct: number; clientCpuPct: number; cpusPct: number[]; side: SideFigures };
/** Redis and Postgres CPU, and what else kept the CPUs busy (kernel network work, other processes). */
const rest = (r: CpuFigures) => `${f0(r.side.redisPct)}% / ${f0(r.side.postgresPct)}% / ${f0(otherCpu(r))}%`;
const loop = (r: CpuFigures) =>
  r.side.metrics ? `${ms(r.side.metrics.eventLoopP99Ms)} / ${ms(r.side.metrics.eventLoopMaxMs)}` : '–';
const errs = (e: Record<string, number>) =>
  Object.keys(e).length
    ? Object.entries(e)
        .map(([k, v]) => `${k} ×${v}`)
        .join(', ')
    : '0';

function renderBigRoom(outcomes: Outcome<BigRoomResult>[]): string {
  const lines: string[] = [];
  const any = outcomes.find((o) => o.result)?.result;
  lines.push(`### Big room: one session, ${any ? any.consoles : options.consoles} consoles`);
  lines.push('');
  if (any) {
    lines.push(
      `Consoles: ${Object.entries(any.roles)
        .map(([r, n]) => `${n} ${r}`)
        .join(
          ', ',
        )}. One ops console posts \`product.set_price\` commands over its WebSocket (each is a \`product.price_changed\` event for host, cohosts, ops and observers); ` +
        `${any.probes} consoles parse every frame for latency (the rest count events). ` +
        `${options.stepSeconds} s per step.`,
    );
    lines.push('');
  }
  lines.push(
    '| server | events/s | deliveries/s offered | deliveries/s achieved | delivered | accepted→received p50 / p99 / max (ms) | sent→received p50 / p99 / max (ms) | frames/s (bytes each) | server CPU | load-gen CPU | Redis / Postgres / rest CPU | server event-loop delay p99 / max (ms) | server RSS (MB) | errors |',
  );
  lines.push('|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|---|');
  for (const o of outcomes) {
    if (!o.result) continue;
    for (const s of o.result.steps) {
      lines.push(
        `| ${o.result.label} | ${s.rate} | ${f0(s.offeredPerSec)} | ${f0(s.deliveriesPerSec)} | ${f1(s.completePct)}% | ${lat(s.accepted)} | ${lat(s.sent)} | ${f0(s.framesPerSec)} (${f0(s.bytesPerFrame)}) | ${f0(s.serverCpuPct)}% | ${f0(s.clientCpuPct)}% | ${rest(s)} | ${loop(s)} | ${f0(s.serverRssMB)} (peak ${f0(s.serverPeakRssMB)}) | ${errs(s.errors)}${s.attempt > 1 ? ' (measured twice: other work disturbed the first try)' : ''}${s.gaps || s.duplicates ? `; gaps ${s.gaps}, dups ${s.duplicates}` : ''}${Object.keys(s.closes).length ? `; closed ${errs(s.closes)}` : ''} |`,
      );
    }
  }
  lines.push('');
  for (const o of outcomes) {
    if (o.result) {
      const r = o.result;
      lines.push(
        `- ${r.label}: ${r.consoles} invites in ${f1(r.inviteSeconds)} s, consoles connected (snapshot received, 50 at a time) in ${f1(r.connectSeconds)} s, ` +
          `${f0(r.connectDeliveries)} presence deliveries while connecting, quiet again after ${f1(r.settleSeconds)} s; ` +
          `each sample reaches ${r.audience} consoles; server RSS before the ramp ${f0(r.rssIdleMB)} MB.`,
      );
    } else lines.push(`- ${o.target}: not run: ${o.notRun}`);
  }
  return lines.join('\n');
}

function renderBusyNight(outcomes: Outcome<BusyNightResult>[]): string {
  const lines: string[] = [];
  const any = outcomes.find((o) => o.result)?.result;
  const sessions = any?.sessions ?? options.sessions;
  lines.push(`### Busy night: ${sessions} live sessions × 8 consoles, ${options.busySeconds} s`);
  lines.push('');
  lines.push(
    'Per session: host, 2 cohosts, 2 tech, ops, 2 observers. 2 health samples/s (tech WebSocket), ' +
      '5 viewer questions/s (REST ingest: one chat bot per session, one request at a time carrying the questions that arrived meanwhile), cohosts flag 25% and dismiss 10% of questions, ' +
      'the host answers flagged ones, a product switch every 10 s, an incident every 15 s (raised, acknowledged, resolved), ' +
      'a cue to the host every 20 s (acknowledged).',
  );
  lines.push('');
  lines.push(
    '| server | commands/s sent | accepted/s | accepted→received p50 / p99 / max (ms) | sent→received p50 / p99 / max (ms) | health samples accepted→received p50 / p99 (ms) | ack round trip p50 / p99 (ms) | REST ingest p50 / p99 (ms) | deliveries/s | server CPU | load-gen CPU | Redis / Postgres / rest CPU | server event-loop delay p99 / max (ms) | server RSS (MB) | errors |',
  );
  lines.push('|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|---|');
  for (const o of outcomes) {
    if (!o.result) continue;
    const r = o.result;
    lines.push(
      `| ${r.label} | ${f0(r.offeredPerSec)} | ${f0(r.acceptedPerSec)} | ${lat(r.accepted)} | ${lat(r.sent)} | ${ms(r.acceptedHealth.p50)} / ${ms(r.acceptedHealth.p99)} | ${ms(r.ackRtt.p50)} / ${ms(r.ackRtt.p99)} | ${ms(r.restRtt.p50)} / ${ms(r.restRtt.p99)} | ${f0(r.deliveriesPerSec)} | ${f0(r.serverCpuPct)}% | ${f0(r.clientCpuPct)}% | ${rest(r)} | ${loop(r)} | ${f0(r.serverRssMB)} (peak ${f0(r.serverPeakRssMB)}) | ${errs(r.errors)}${r.unanswered ? `; unanswered ${r.unanswered}` : ''}${r.gaps || r.duplicates ? `; gaps ${r.gaps}, dups ${r.duplicates}` : ''}${Object.keys(r.closes).length ? `; closed ${errs(r.closes)}` : ''} |`,
    );
  }
  for (const o of outcomes) {
    const m = o.result?.side.metrics;
    if (!o.result || !m || !Number.isFinite(m.fanoutP50Ms)) continue;
    lines.push('');
    lines.push(
      `${o.result.label}, in the server (\`cueroom_fanout_latency_seconds\`, accepted → frame written, per event): ` +
        `p50 ${ms(m.fanoutP50Ms)} ms, p99 ${ms(m.fanoutP99Ms)} ms (interpolated in its buckets).`,
    );
  }
  lines.push('');
  lines.push('**Audit log** (Cueroom only; the baseline keeps none):');
  lines.push('');
  for (const o of outcomes) {
    const a = o.result?.audit;
    if (!o.result || !a) continue;
    if (a.error) {
      lines.push(`- ${o.result.label}: audit check failed: ${a.error}`);
      continue;
    }
    lines.push(
      `- acknowledged commands: ${f0(a.ackedCommands)}; their \`command\` rows found: ${f0(a.ackedCommands - a.missing)}; ` +
        `**missing: ${f0(a.missing)}**${a.missing ? ` (e.g. ${a.missingExamples.join(', ')})` : ''}, ` +
        `checked ${f1(a.convergeSeconds)} s after the load stopped.`,
    );
    const backlog = o.result.side.metrics?.auditBacklog;
    if (a.lastRowSeconds !== undefined || backlog !== undefined) {
      lines.push(
        `- audit backlog (\`cueroom_audit_backlog\`) when the load stopped: ${f0(backlog ?? Number.NaN)} records; ` +
          `the last row of the load window was written ${f1(a.lastRowSeconds ?? Number.NaN)} s after the load stopped.`,
      );
    }
    if (a.lag) {
      lines.push(
        `- audit lag (recorded_at − at) over the ${f0(a.lag.rows)} rows of the load window: p50 ${ms(a.lag.p50)} ms, p99 ${ms(a.lag.p99)} ms, max ${ms(a.lag.max)} ms.`,
      );
    }
  }
  lines.push('');
  lines.push('**Memory per idle console**');
  lines.push('');
  lines.push('| server | idle consoles | RSS before (MB) | RSS after (MB) | per console (KB) | connect time (s) |');
  lines.push('|---|--:|--:|--:|--:|--:|');
  for (const o of outcomes) {
    if (!o.result) continue;
    const i = o.result.idle;
    lines.push(
      `| ${o.result.label} | ${i.consoles} | ${f0(i.rssBeforeMB)} | ${f0(i.rssAfterMB)} | ${f1(i.perConsoleKB)} | ${f1(i.connectSeconds)} |`,
    );
  }
  lines.push('');
  for (const o of outcomes) {
    if (o.result) {
      const r = o.result;
      lines.push(
        `- ${r.label}: ${r.consoles} consoles connected in ${f1(r.connectSeconds)} s (invites ${f1(r.inviteSeconds)} s); offered ` +
          Object.entries(r.offered)
            .map(([k, v]) => `${k} ×${f0(v)}`)
            .join(', ') +
          ` (plus triage and acknowledgements sent in reaction); the questions went in ${f0(r.restRequests)} ingest requests; ` +
          `observers checked every seq: ${f0(r.gaps)} missing, ${f0(r.healthSkipped)} health samples paced away (superseded by a newer one, by design).`,
      );
    } else lines.push(`- ${o.target}: not run: ${o.notRun}`);
  }
  return lines.join('\n');
}

function renderLogs(all: Outcome<unknown>[][], scenarios: string[]): string {
  const lines: string[] = [];
  all.forEach((outcomes, i) => {
    for (const o of outcomes) {
      if (!o.log || (!o.log.warn && !o.log.error)) continue;
      lines.push(
        `- ${scenarios[i]} / ${o.target}: ${o.log.warn} warnings, ${o.log.error} errors in the server log; most frequent:`,
      );
      for (const t of o.log.top) lines.push(`  - ${t.level} ×${t.count}: ${t.msg.replace(/\|/g, '/')}`);
    }
  });
  return lines.length
    ? `**Server log** (LOG_LEVEL=warn)\n\n${lines.join('\n')}`
    : '**Server log**: no warnings or errors.';
}

// ---------------------------------------------------------------------------------------

async function main() {
  const cores = os.cpus().length;
  const pin = options.pin && hasTaskset() && cores >= 2;
  if (pin) {
    // Every thread of this process (the load generator) onto CPU 1; the servers get CPU 0.
    const pinned = spawnSync('taskset', ['-a', '-pc', '1', String(process.pid)], { stdio: 'ignore' });
    if (pinned.status !== 0) log('could not pin the load generator to CPU 1');
  }
  const m = await machine(pin);
  log(
    `run ${tag}${quick ? ' (quick)' : ''}: ${m.cpu}, ${m.cores} cores, Node ${m.node}; results in ${path.relative(ROOT, resultsDir)}`,
  );
  if (Number(m.fileLimit) < 8192)
    log(`warning: ulimit -n is ${m.fileLimit}; raise it (ulimit -n 65536) for thousands of consoles`);
  const pinCpu = pin ? 0 : null;

  const sections: string[] = [];
  const allOutcomes: Outcome<unknown>[][] = [];
  const scenarioNames: string[] = [];
  const json: Record<string, unknown> = { machine: m, options, tag };

  if (options.scenarios.includes('bigroom')) {
    const outcomes = await runScenario('bigroom', pinCpu, (target) =>
      bigRoom(
        target,
        {
          consoles: options.consoles,
          steps: options.steps,
          stepSeconds: options.stepSeconds,
          probeEvery: options.probeEvery,
          connectBatch: 50,
          drainMs: 5000,
          quiet: () => quiet(Math.min(20_000, options.quietWaitSeconds * 1000)),
        },
        `${tag}`,
        log,
      ),
    );
    sections.push(renderBigRoom(outcomes));
    allOutcomes.push(outcomes);
    scenarioNames.push('big room');
    json.bigRoom = outcomes;
  }
  if (options.scenarios.includes('busynight')) {
    const outcomes = await runScenario('busynight', pinCpu, (target) =>
      busyNight(
        target,
        {
          sessions: options.sessions,
          seconds: options.busySeconds,
          healthPerSec: 2,
          questionsPerSec: 5,
          idleConsoles: options.idle,
          connectBatch: 50,
          databaseUrl: target.name === 'cueroom' && options.backend !== 'embedded' ? options.databaseUrl : null,
          auditTimeoutMs: 60_000,
        },
        `${tag}`,
        log,
      ),
    );
    sections.push(renderBusyNight(outcomes));
    allOutcomes.push(outcomes);
    scenarioNames.push('busy night');
    json.busyNight = outcomes;
  }

  // Stream health (bench/health.ts) and the post-live review (bench/review.ts) write their
  // own results folders and their own parts of docs/benchmarks.md.
  const ownDocs: (() => Promise<void>)[] = [];
  const ownReports: string[] = [];
  if (options.scenarios.includes('health')) {
    log('stream health: rule engine in process, then live sessions posting samples');
    const health = await runHealthBench({
      pin,
      redisUrl: options.redisUrl,
      databaseUrl: options.databaseUrl,
      resultsDir: path.join(resultsDir, 'health'),
      log: (line) => log(`health: ${line}`),
      keepData: options.keepData,
      profile: options.profile,
      quietWaitSeconds: options.quietWaitSeconds,
      command: `npm run bench${argv.length ? ` -- ${argv.join(' ')}` : ''}`,
      ...(quick ? { sessions: 50, seconds: 8, warmupSeconds: 3, engineSessions: 1000, engineSeconds: 3 } : {}),
    });
    json.health = health.json;
    ownReports.push(health.markdown);
    ownDocs.push(() => writeHealthDoc(health.markdown));
  }
  if (options.scenarios.includes('review')) {
    log('post-live review: export, verify and review from a scratch database');
    // Its server, client and Postgres share the machine as a deployment would: no pinning
    // (a child started from this process would inherit CPU 1 alone).
    if (pin) spawnSync('taskset', ['-a', '-pc', `0-${cores - 1}`, String(process.pid)], { stdio: 'ignore' });
    const review = await runReviewBench({
      tag,
      log: (line) => log(`review: ${line}`),
      ...(quick ? { rows: 100_000, events: 20_000, reps: 2, bigReps: 1 } : {}),
    });
    json.review = review.json;
    ownReports.push(review.markdown);
    ownDocs.push(() => writeReviewDoc(review.markdown));
  }

  const elapsed = (Date.now() - started.getTime()) / 1000;
  const report = [
    `## Results${quick ? ' (quick run)' : ''}`,
    '',
    `Run \`${tag}\`, ${m.date}, ${f0(elapsed)} s in all. Command: \`npm run bench${argv.length ? ` -- ${argv.join(' ')}` : ''}\`.`,
    '',
    '| machine | |',
    '|---|---|',
    `| CPU | ${m.cpu}${m.mhz ? ` (${m.mhz})` : ''} |`,
    `| cores | ${m.cores} |`,
    `| memory | ${m.memoryGB.toFixed(1)} GB |`,
    `| Node | ${m.node} |`,
    `| kernel | ${m.kernel} |`,
    `| Redis / Postgres | ${m.redis} / ${m.postgres} (local, not pinned) |`,
    `| pinning | ${m.pinning} |`,
    `| ulimit -n | ${m.fileLimit} |`,
    `| load average at start | ${m.loadAverage} |`,
    `| CPU busy before each run (other work; of ${m.cores * 100}%) | ${idleBefore.join(', ')} |`,
    '',
    ...sections.flatMap((s) => [s, '']),
    renderLogs(allOutcomes, scenarioNames),
    '',
  ].join('\n');

  console.log(`\n${[report, ...ownReports].join('\n')}`);
  writeFileSync(path.join(resultsDir, 'report.md'), report);
  writeFileSync(path.join(resultsDir, 'results.json'), JSON.stringify(json, null, 2));
  if (options.writeDoc) {
    await writeDocPart(path.join(ROOT, 'docs', 'benchmarks.md'), 'results', report);
    for (const write of ownDocs) await write();
    log(`report written to docs/benchmarks.md and ${path.relative(ROOT, resultsDir)}`);
  } else {
    log(
      `report written to ${path.relative(ROOT, resultsDir)}/report.md (docs/benchmarks.md untouched; --doc writes it)`,
    );
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);

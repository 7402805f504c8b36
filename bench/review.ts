/**
 * Post-live review on Postgres: export of a long session as CSV and NDJSON (rows/s and
 * the process's RSS during the export), the hash-chain verify of that session, and the
 * review of a 100k-event show, all through the HTTP API of the real Fastify app on a
 * loopback port, against a scratch database created (and dropped) for the run.
 *
 *   npx tsx bench/review.ts [--rows=1000000] [--events=100000] [--reps=5] [--doc]
 *
 * Postgres at BENCH_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/postgres):
 * the run creates `cueroom_bench_<tag>` on that server, migrates it with the project's
 * own migrations, and drops it at the end, also on failure.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import pino from 'pino';
import { commandSchema, type CommandInput, type SystemCommand } from '../shared/commands.js';
import type { SessionEvent } from '../shared/events.js';
import type { SessionState } from '../shared/model.js';
import type { Actor } from '../shared/roles.js';
import { buildApp } from '../server/app.js';
import { createPgAuditLog, type DrizzleAuditLog } from '../server/audit/drizzle-audit-log.js';
import { loadConfig } from '../server/config.js';
import { createSessionEvent, decide, evolve, foldEvents, stamp } from '../server/domain/index.js';
import { toErrorBody } from '../server/errors.js';
import { MemoryEventFeed, MemorySessionStore } from '../server/store/memory-session-store.js';
import type { AuditRecord } from '../server/store/session-store.js';
import { writeDocPart } from './load.js';
import { seededRandom } from '../test/support/seeded-random.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const ADMIN_TOKEN = 'bench-review-admin-token-0123456789';
const TOKEN_SECRET = 'bench-review-token-secret-0123456789-0123456789';

export interface ReviewBenchOptions {
  /** Server holding the scratch database. Default: BENCH_DATABASE_URL or postgres://postgres@127.0.0.1:5432/postgres. */
  databaseUrl?: string;
  /** Rows of the exported and verified session. Default 1,000,000. */
  rows?: number;
  /** Events of the reviewed show. Default 100,000. */
  events?: number;
  /** Repetitions of the review (median reported). Default 5. */
  reps?: number;
  /** Repetitions of each export and of the verify (best and median reported). Default 2. */
  bigReps?: number;
  /** Names the scratch database and the results folder. Default: random. */
  tag?: string;
  /** Progress lines. Default: to stderr. */
  log?: (line: string) => void;
}

const ops: Actor = { id: 'u-ops', name: 'Olga Ops', role: 'ops' };
const tech: Actor = { id: 'u-tech', name: 'Tariq Tech', role: 'tech' };
const tech2: Actor = { id: 'u-tech2', name: 'Tove Tech', role: 'tech' };
const host: Actor = { id: 'u-host', name: 'Hana Host', role: 'host' };
const cohost: Actor = { id: 'u-cohost', name: 'Cody “Co” Östberg', role: 'cohost' };
const bot: Actor = { id: 'chatbot', name: 'Chat bot', role: 'ingest' };
const system: Actor = { id: 'cueroom', name: 'Cueroom', role: 'system' };

/**
 * A show driven through the real domain (decide → stamp → evolve), as the command service
 * does, until it holds `targetEvents` events: preflight, a lineup, go live, then 2 health
 * samples a second from tech, viewer questions (a quarter flagged and answered, a tenth
 * dismissed, some upvoted), product switches, price and stock changes down to sold out,
 * incidents raised, acknowledged and resolved, cues to the host, crew coming and going,
 * and now and then a refused command; then the end. Returns the audit records in order.
 */
export function scriptedShow(
  sessionId: string,
  targetEvents: number,
  t0 = Date.UTC(2026, 10, 20, 19, 0, 0),
): AuditRecord[] {
  const rnd = seededRandom(42);
  const records: AuditRecord[] = [];
  let now = t0;
  let commands = 0;
  let events = 0;
  const created = stamp(
    [createSessionEvent({ sessionId, title: 'Autumn drop — kitchen live', scheduledFor: t0 + 600_000 })],
    0,
    { now, commandId: `create:${sessionId}` },
    ops,
  );
  const state: SessionState = foldEvents(created);
  for (const event of created) records.push({ type: 'event', sessionId, event });
  events += created.length;

  const run = (actor: Actor, input: CommandInput | SystemCommand, system = false): SessionEvent[] | null => {
    const commandId = `cmd-${String(++commands).padStart(7, '0')}`;
    const command = system ? (input as SystemCommand) : commandSchema.parse(input);
    const decision = decide(state, command, actor, { now, commandId });
    const record = { sessionId, commandId, at: now, actor, command };
    if (!decision.ok) {
      records.push({ type: 'refused', ...record, result: { ok: false, error: toErrorBody(decision.error) } });
      return null;
    }
    const stamped = stamp(decision.events, state.seq, { now, commandId }, actor);
    for (const event of stamped) evolve(state, event);
    records.push({ type: 'command', ...record, result: { ok: true, seq: stamped[0]!.seq, lastSeq: state.seq } });
    for (const event of stamped) records.push({ type: 'event', sessionId, event });
    events += stamped.length;
    return stamped;
  };
  const must = (actor: Actor, input: CommandInput | SystemCommand, system = false): SessionEvent[] => {
    const out = run(actor, input, system);
    if (!out) throw new Error(`scripted show: ${input.kind} refused`);
    return out;
  };

  const crew: Array<[Actor, string]> = [
    [ops, 'c-ops'],
    [tech, 'c-tech'],
    [tech2, 'c-tech2'],
    [host, 'c-host'],
    [cohost, 'c-cohost'],
  ];
  for (const [actor, consoleId] of crew) {
    must(
      system,
      { kind: 'presence.open', personId: actor.id, name: actor.name, role: actor.role as 'ops', consoleId },
      true,
    );
  }
  must(ops, { kind: 'session.start_preflight' });
  for (const item of state.checklist) must(tech, { kind: 'session.check_item', itemId: item.id });
  const products = Array.from({ length: 12 }, (_, i) => ({
    id: `p${i + 1}`,
    name: `Product ${i + 1}: ${['Kettle', 'Teapot', 'Mug set', 'Whisk', 'Pan', 'Knife'][i % 6]}`,
    price: 1500 + i * 250,
    stock: 500 + i * 40,
    talkingPoints: ['Dishwasher safe', 'Two-year warranty'],
  }));
  must(ops, { kind: 'lineup.set', products });
  must(ops, { kind: 'session.go_live' });
  must(ops, { kind: 'product.switch', productId: 'p1' });

  const openQuestions: string[] = [];
  const flagged: string[] = [];
  let incident: { id: string; step: number } | null = null;
  let cue: string | null = null;
  let question = 0;
  let incidentNo = 0;
  let cueNo = 0;
  let away = false;
  const stock = new Map(products.map((p) => [p.id, p.stock]));
  let onScreen = 1;
  let tick = 0;
  let bitrate = 4500;

  while (events < targetEvents - 3) {
    tick++;
    now += 500; // two health samples a second
    bitrate = Math.max(0, Math.min(6000, bitrate + (rnd() - 0.5) * 400));
    const outage = tick % 3000 >= 2990; // ten bad samples every 25 minutes
    must(tech, {
      kind: 'health.sample',
      sample: {
        ts: now,
        bitrateKbps: outage ? 0 : Math.round(bitrate),
        fps: outage ? 0 : 29.97,
        droppedFrames: Math.floor(rnd() * 4),
        rttMs: Math.round(40 + rnd() * 30),
        viewers: 1200 + Math.round(rnd() * 800),
        encoderCpu: Math.round(35 + rnd() * 30),
      },
    });
    // About 1.2 questions a second.
    if (rnd() < 0.6) {
      const id = `q-${++question}`;
      now += 1;
      must(bot, {
        kind: 'question.submit',
        questionId: id,
        text: `Does the ${products[question % products.length]!.name} come in blue? (#${question}) — “asking for a friend”`,
        author: `viewer${question % 4093}`,
        // No externalId: decide looks for a duplicate by scanning every question, which
        // would make scripting a 30k-question show quadratic (a finding of its own).
        source: 'youtube',
      });
      openQuestions.push(id);
    }
    if (openQuestions.length > 4) {
      const id = openQuestions.shift()!;
      const roll = rnd();
      if (roll < 0.25) {
        must(cohost, { kind: 'question.flag', questionId: id });
        flagged.push(id);
      } else if (roll < 0.35) {
        must(cohost, { kind: 'question.dismiss', questionId: id });
      } else if (roll < 0.5) {
        must(bot, { kind: 'question.upvote', questionId: id, voter: `viewer${Math.floor(rnd() * 9000)}` });
      }
    }
    if (flagged.length > 2 && rnd() < 0.3) must(host, { kind: 'question.answer', questionId: flagged.shift()! });
    // Products: a switch every 5 minutes, a price or stock change now and then.
    if (tick % 600 === 0) {
      onScreen = (onScreen % products.length) + 1;
      must(ops, { kind: 'product.switch', productId: `p${onScreen}` });
    }
    if (rnd() < 0.02) {
      const id = `p${onScreen}`;
      if (rnd() < 0.5) {
        run(ops, { kind: 'product.set_price', productId: id, price: 1000 + Math.floor(rnd() * 5000) });
      } else {
        const left = Math.max(0, (stock.get(id) ?? 0) - 1 - Math.floor(rnd() * 60));
        stock.set(id, left);
        run(ops, { kind: 'product.set_stock', productId: id, stock: left });
      }
    }
    // An incident every ~4 minutes: acknowledged ~20 s later, resolved ~2 minutes after.
    if (!incident && rnd() < 0.004) {
      const id = `inc-${++incidentNo}`;
      must(tech, {
        kind: 'incident.raise',
        incidentId: id,
        severity: (['sev1', 'sev2', 'sev3', 'sev3'] as const)[incidentNo % 4]!,
        category: (['video', 'audio', 'network', 'encoder'] as const)[incidentNo % 4]!,
        title: `Encoder dropping frames (${incidentNo})`,
        detail: 'Quotes "inside", a comma, and a newline\nhere',
      });
      incident = { id, step: 0 };
    } else if (incident) {
      incident.step++;
      if (incident.step === 40) must(tech2, { kind: 'incident.acknowledge', incidentId: incident.id });
      if (incident.step === 120)
        must(tech2, { kind: 'incident.add_note', incidentId: incident.id, text: 'Restarted the encoder' });
      if (incident.step === 280) {
        must(ops, { kind: 'incident.resolve', incidentId: incident.id });
        incident = null;
      }
    }
    // A cue to the host every ~3 minutes, acknowledged a few seconds later.
    if (!cue && rnd() < 0.006) {
      cue = `cue-${++cueNo}`;
      must(ops, { kind: 'cue.send', cueId: cue, to: ['host'], text: 'Wrap this product in 30 s' });
    } else if (cue && rnd() < 0.1) {
      must(host, { kind: 'cue.acknowledge', cueId: cue });
      cue = null;
    }
    // The cohost's console drops and comes back now and then.
    if (rnd() < 0.002) {
      must(
        system,
        away
          ? { kind: 'presence.open', personId: cohost.id, name: cohost.name, role: 'cohost', consoleId: 'c-cohost' }
          : { kind: 'presence.close', personId: cohost.id, consoleId: 'c-cohost' },
        true,
      );
      away = !away;
    }
    // A refused command every ~2 minutes (a double acknowledge).
    if (rnd() < 0.008) run(tech2, { kind: 'incident.acknowledge', incidentId: 'inc-none' });
  }
  now += 1000;
  must(ops, { kind: 'session.end' });
  return records;
}

interface Sample {
  ms: number;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor((sorted.length - 1) / 2)] ?? Number.NaN;
}

async function machine(client: pg.PoolClient | pg.Pool) {
  const cpuinfo = existsSync('/proc/cpuinfo') ? readFileSync('/proc/cpuinfo', 'utf8') : '';
  const model = /^model name\s*:\s*(.+)$/m.exec(cpuinfo)?.[1] ?? os.cpus()[0]?.model ?? 'unknown';
  const version = (await client.query<{ v: string }>("select current_setting('server_version') as v")).rows[0]?.v;
  return {
    cpu: model,
    cores: os.cpus().length,
    memoryGB: Math.round((os.totalmem() / 1024 ** 3) * 10) / 10,
    node: process.version,
    postgres: version ?? 'unknown',
    kernel: `${os.type()} ${os.release()}`,
    loadAverage: os
      .loadavg()
      .map((l) => l.toFixed(2))
      .join(' '),
  };
}

/** Reads a streamed response to the end, counting bytes and lines, while sampling this process's RSS. */
async function drain(
  url: string,
  pid: number,
): Promise<{ ms: number; bytes: number; lines: number; rssBeforeMB: number; rssPeakMB: number; status: number }> {
  const rssBefore = rssOf(pid);
  let rssPeak = rssBefore;
  const timer = setInterval(() => {
    rssPeak = Math.max(rssPeak, rssOf(pid));
  }, 50);
  const started = performance.now();
  try {
    const response = await fetch(url, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
    let bytes = 0;
    let lines = 0;
    const reader = response.body!.getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      bytes += value.byteLength;
      for (let i = value.indexOf(10); i !== -1; i = value.indexOf(10, i + 1)) lines++;
    }
    return {
      ms: performance.now() - started,
      bytes,
      lines,
      rssBeforeMB: rssBefore / 2 ** 20,
      rssPeakMB: rssPeak / 2 ** 20,
      status: response.status,
    };
  } finally {
    clearInterval(timer);
  }
}

async function getJson(url: string): Promise<{ ms: number; status: number; body: unknown }> {
  const started = performance.now();
  const response = await fetch(url, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
  const body: unknown = await response.json();
  return { ms: performance.now() - started, status: response.status, body };
}

/** Resident memory of a process, in bytes (0 if it is gone). */
function rssOf(pid: number): number {
  try {
    const kb = /^VmRSS:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
    return Number(kb ?? 0) * 1024;
  } catch {
    return 0;
  }
}

/** Starts the app on the scratch database in a child process; resolves once it listens. */
async function startServer(databaseUrl: string): Promise<{ base: string; pid: number; stop: () => Promise<void> }> {
  const child = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), `--serve=${databaseUrl}`], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const port = await new Promise<number>((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const match = /LISTENING (\d+)/.exec(out);
      if (match) resolve(Number(match[1]));
    });
    child.once('exit', (code) => reject(new Error(`bench server exited (${code}) before listening`)));
  });
  return {
    base: `http://127.0.0.1:${port}`,
    pid: child.pid!,
    stop: async () => {
      child.kill('SIGTERM');
      await exited;
    },
  };
}

/** The child's side of `startServer`: the app on a memory store and the audit log at `databaseUrl`. */
async function serve(databaseUrl: string): Promise<void> {
  const pool = new pg.Pool({ connectionString: databaseUrl, max: 5 });
  pool.on('error', () => undefined);
  const audit = await createPgAuditLog(pool, { migrate: false });
  const config = loadConfig({
    PORT: '0',
    ADMIN_TOKEN,
    TOKEN_SECRET,
    LOG_LEVEL: 'silent',
    DATA_DIR: path.join(os.tmpdir(), 'cueroom-bench-review'),
  });
  const store = new MemorySessionStore();
  const app = await buildApp({
    config: { ...config, adminToken: ADMIN_TOKEN, tokenSecret: TOKEN_SECRET, publicUrl: 'http://127.0.0.1' },
    store,
    feed: new MemoryEventFeed(store),
    audit,
    auditBacklog: () => 0,
    ping: () => audit.ping(),
    logger: pino({ level: 'silent' }),
  });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const address = app.server.address();
  if (!address || typeof address === 'string') throw new Error('no address');
  process.stdout.write(`LISTENING ${address.port}\n`);
  process.once('SIGTERM', () => {
    void app
      .close()
      .then(() => audit.close())
      .then(() => pool.end())
      .finally(() => process.exit(0));
  });
}

function scratchUrl(serverUrl: string, database: string): string {
  const url = new URL(serverUrl);
  url.pathname = `/${database}`;
  return url.toString();
}

const fmt = (n: number, digits = 0) =>
  n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });

/**
 * Runs the whole review bench once and returns its report (markdown) and every figure
 * (json). The scratch database is dropped before this returns or throws.
 */
export async function runReviewBench(options: ReviewBenchOptions = {}): Promise<{ markdown: string; json: unknown }> {
  const serverUrl =
    options.databaseUrl ?? process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
  const totalRows = options.rows ?? 1_000_000;
  const targetEvents = options.events ?? 100_000;
  const reps = options.reps ?? 5;
  const bigReps = options.bigReps ?? 2;
  const tag = options.tag ?? Math.random().toString(16).slice(2, 8);
  const log = options.log ?? ((line: string) => process.stderr.write(`[review] ${line}\n`));
  const database = `cueroom_bench_${tag.replace(/[^a-z0-9_]/gi, '_').toLowerCase()}`;

  const admin = new pg.Pool({ connectionString: serverUrl, max: 1 });
  admin.on('error', () => undefined);
  const facts = await machine(admin);
  await admin.query(`create database ${database}`);
  log(`scratch database ${database} on ${new URL(serverUrl).host}`);
  let pool: pg.Pool | undefined;
  let audit: DrizzleAuditLog | undefined;
  let server: { base: string; pid: number; stop: () => Promise<void> } | undefined;
  try {
    pool = new pg.Pool({ connectionString: scratchUrl(serverUrl, database), max: 5 });
    pool.on('error', (error) => log(`pool error: ${error.message}`));
    audit = await createPgAuditLog(pool);

    // The reviewed show, through the domain and the log's own append (the chain trigger hashes each row).
    let started = performance.now();
    const reviewId = 'bench-review';
    const records = scriptedShow(reviewId, targetEvents);
    const scriptMs = performance.now() - started;
    started = performance.now();
    for (let i = 0; i < records.length; i += 5000) await audit.append(records.slice(i, i + 5000));
    const appendMs = performance.now() - started;
    const reviewRows = records.length;
    const reviewEvents = records.filter((r) => r.type === 'event').length;
    const kinds = new Map<string, number>();
    for (const r of records) if (r.type === 'event') kinds.set(r.event.kind, (kinds.get(r.event.kind) ?? 0) + 1);
    log(
      `show: ${fmt(reviewEvents)} events, ${fmt(reviewRows)} rows; scripted in ${fmt(scriptMs)} ms, appended in ${fmt(appendMs)} ms`,
    );

    // The long session: copies of the show's rows (seqs, command ids and times shifted per
    // copy) inserted by SQL through the same chain trigger, until it holds `totalRows`.
    const bigId = 'bench-export';
    const { rows: meta } = await pool.query<{ max_seq: string; span_ms: string }>(
      `select max(seq)::text as max_seq, (extract(epoch from max(at) - min(at)) * 1000 + 1000)::bigint::text as span_ms
       from audit_log where session_id = $1`,
      [reviewId],
    );
    const maxSeq = Number(meta[0]!.max_seq);
    const spanMs = Number(meta[0]!.span_ms);
    started = performance.now();
    let filled = 0;
    for (let copy = 0; filled < totalRows; copy++) {
      const result = await pool.query(
        `insert into audit_log (session_id, seq, entry_type, kind, at, actor_id, actor_name, actor_role, command_id, payload)
         select $1, seq + $2::bigint * $3::bigint, entry_type, kind, at + make_interval(secs => $2::bigint * $4::bigint / 1000.0),
           actor_id, actor_name, actor_role, command_id || ':' || $2::text, payload
         from audit_log where session_id = $5 order by id limit $6`,
        [bigId, copy, maxSeq, spanMs, reviewId, Math.min(reviewRows, totalRows - filled)],
      );
      filled += result.rowCount ?? 0;
      log(`long session: ${fmt(filled)} / ${fmt(totalRows)} rows`);
    }
    const fillMs = performance.now() - started;
    started = performance.now();
    await pool.query('analyze audit_log');
    const analyzeMs = performance.now() - started;
    log(
      `filled ${fmt(filled)} rows in ${fmt(fillMs / 1000, 1)} s (${fmt(filled / (fillMs / 1000))} rows/s through the chain trigger); ANALYZE ${fmt(analyzeMs)} ms`,
    );
    const { rows: sizeRows } = await pool.query<{ size: string }>(
      `select pg_size_pretty(pg_total_relation_size('audit_log')) as size`,
    );

    // The server in its own process (as in production), so the HTTP client's work and
    // memory are not counted with it: its RSS is read from /proc while it exports.
    server = await startServer(scratchUrl(serverUrl, database));
    const base = server.base;
    const serverPid = server.pid;

    // Export: the long session, CSV then NDJSON, `bigReps` times each.
    const exports: Record<string, Array<Awaited<ReturnType<typeof drain>> & { rowsPerSecond: number }>> = {
      csv: [],
      ndjson: [],
    };
    for (let rep = 0; rep < bigReps; rep++) {
      for (const format of ['csv', 'ndjson'] as const) {
        const result = await drain(`${base}/v1/sessions/${bigId}/audit/export?format=${format}`, serverPid);
        const rows = format === 'csv' ? result.lines - 1 : result.lines;
        if (result.status !== 200 || rows !== filled)
          throw new Error(`export ${format}: status ${result.status}, ${rows} rows of ${filled}`);
        const rowsPerSecond = rows / (result.ms / 1000);
        exports[format]!.push({ ...result, rowsPerSecond });
        log(
          `export ${format}: ${fmt(rows)} rows in ${fmt(result.ms / 1000, 2)} s = ${fmt(rowsPerSecond)} rows/s, ${fmt(result.bytes / 2 ** 20)} MB; RSS ${fmt(result.rssBeforeMB)} → peak ${fmt(result.rssPeakMB)} MB`,
        );
      }
    }

    // Verify: the long session.
    const verifies: Array<Sample & { body: unknown }> = [];
    for (let rep = 0; rep < bigReps; rep++) {
      const result = await getJson(`${base}/v1/sessions/${bigId}/audit/verify`);
      const body = result.body as { intact?: boolean; rows?: number };
      if (result.status !== 200 || body.intact !== true || body.rows !== filled) {
        throw new Error(`verify: status ${result.status}, ${JSON.stringify(result.body)}`);
      }
      verifies.push({ ms: result.ms, body: result.body });
      log(`verify: ${fmt(filled)} rows in ${fmt(result.ms / 1000, 2)} s, intact`);
    }

    // Review: the show, `reps` times.
    const reviews: Sample[] = [];
    let reviewBody: unknown;
    for (let rep = 0; rep < reps; rep++) {
      const result = await getJson(`${base}/v1/sessions/${reviewId}/review`);
      if (result.status !== 200)
        throw new Error(`review: status ${result.status}, ${JSON.stringify(result.body).slice(0, 300)}`);
      reviews.push({ ms: result.ms });
      reviewBody = result.body;
      log(`review: ${fmt(reviewEvents)} events in ${fmt(result.ms)} ms`);
    }
    const summary = reviewBody as {
      incidents?: { total?: number };
      questions?: { received?: number };
      timeline?: unknown[];
    };

    const best = (list: { ms: number }[]) => Math.min(...list.map((s) => s.ms));
    const figures = {
      export: Object.fromEntries(
        Object.entries(exports).map(([format, list]) => [
          format,
          {
            rows: filled,
            bestSeconds: best(list) / 1000,
            medianSeconds: median(list.map((s) => s.ms)) / 1000,
            bestRowsPerSecond: filled / (best(list) / 1000),
            megabytes: (list[0]?.bytes ?? 0) / 2 ** 20,
            rssBeforeMB: Math.max(...list.map((s) => s.rssBeforeMB)),
            rssPeakMB: Math.max(...list.map((s) => s.rssPeakMB)),
            runs: list,
          },
        ]),
      ) as unknown as Record<
        'csv' | 'ndjson',
        {
          rows: number;
          bestSeconds: number;
          medianSeconds: number;
          bestRowsPerSecond: number;
          megabytes: number;
          rssBeforeMB: number;
          rssPeakMB: number;
        }
      >,
      verify: {
        rows: filled,
        bestSeconds: best(verifies) / 1000,
        medianSeconds: median(verifies.map((s) => s.ms)) / 1000,
        result: verifies[0]?.body,
        runs: verifies.map((s) => s.ms),
      },
      review: {
        events: reviewEvents,
        rows: reviewRows,
        medianSeconds: median(reviews.map((s) => s.ms)) / 1000,
        bestSeconds: best(reviews) / 1000,
        runs: reviews.map((s) => s.ms),
      },
    };
    const targets = {
      review: figures.review.medianSeconds < 2,
      exportCsv: figures.export.csv.bestRowsPerSecond >= 100_000,
      exportNdjson: figures.export.ndjson.bestRowsPerSecond >= 100_000,
      verify: figures.verify.medianSeconds < 10,
    };
    const yes = (ok: boolean) => (ok ? 'yes' : '**no**');
    const date = new Date().toISOString();
    const markdown = [
      `### Review, export, verify (run ${tag}, ${date.slice(0, 16).replace('T', ' ')} UTC)`,
      '',
      `Machine: ${facts.cpu}, ${facts.cores} cores, ${facts.memoryGB} GB; Node ${facts.node}; PostgreSQL ${facts.postgres}; load average at start ${facts.loadAverage}. ` +
        `Scratch database on the same machine, ${sizeRows[0]?.size ?? '?'} of audit log after the fill; ANALYZE run after filling.`,
      '',
      `Data: the reviewed show is ${fmt(reviewEvents)} events (${fmt(reviewRows)} rows with its command and refused rows), driven through the domain and appended by the log (${fmt(appendMs / 1000, 1)} s); ` +
        `the exported session is ${fmt(filled)} rows, copies of that show inserted by SQL through the chain trigger (${fmt(filled / (fillMs / 1000))} rows/s). ` +
        `Event mix of the show: ${[...kinds.entries()]
          .sort((a, b) => b[1] - a[1])
          .slice(0, 8)
          .map(([k, n]) => `${k} ${fmt((100 * n) / reviewEvents, 1)}%`)
          .join(', ')}.`,
      '',
      '| what (over HTTP, loopback) | size | time | rate | server RSS before → peak | target | met |',
      '| --- | --- | --- | --- | --- | --- | --- |',
      ...(['csv', 'ndjson'] as const).map((format) => {
        const f = figures.export[format];
        return `| export ${format.toUpperCase()} | ${fmt(f.rows)} rows, ${fmt(f.megabytes)} MB | ${fmt(f.bestSeconds, 2)} s (best of ${bigReps}) | ${fmt(f.bestRowsPerSecond)} rows/s | ${fmt(f.rssBeforeMB)} → ${fmt(f.rssPeakMB)} MB | ≥ 100,000 rows/s, flat memory | ${yes(format === 'csv' ? targets.exportCsv : targets.exportNdjson)} |`;
      }),
      `| verify (hash chain) | ${fmt(filled)} rows | ${fmt(figures.verify.medianSeconds, 2)} s (median of ${bigReps}) | ${fmt(filled / figures.verify.medianSeconds)} rows/s | | < 10 s | ${yes(targets.verify)} |`,
      `| review (JSON) | ${fmt(reviewEvents)} events | ${fmt(figures.review.medianSeconds, 2)} s (median of ${reps}) | ${fmt(reviewEvents / figures.review.medianSeconds)} events/s | | < 2 s | ${yes(targets.review)} |`,
      '',
      `The server runs in its own process (the app as \`buildApp\` makes it, on a memory store and the scratch database, \`node --import tsx\`); its RSS is read from /proc every 50 ms during each export. Review of the show: ${summary.incidents?.total ?? '?'} incidents, ${fmt(summary.timeline?.length ?? 0)} timeline entries, ${fmt(summary.questions?.received ?? 0)} questions.`,
      '',
    ].join('\n');
    const json = {
      tag,
      date,
      machine: facts,
      database,
      sizes: { reviewEvents, reviewRows, exportRows: filled, tableSize: sizeRows[0]?.size },
      fill: { scriptMs, appendMs, fillMs, analyzeMs },
      eventKinds: Object.fromEntries(kinds),
      figures,
      targets,
    };
    return { markdown, json };
  } finally {
    await server?.stop().catch(() => undefined);
    await audit?.close().catch(() => undefined);
    await pool?.end().catch(() => undefined);
    await admin
      .query(`drop database if exists ${database} with (force)`)
      .catch((error: Error) => log(`could not drop ${database}: ${error.message}`));
    await admin.end().catch(() => undefined);
    log(`dropped ${database}`);
  }
}

/** Writes the bench's markdown between the `bench:review` markers of docs/benchmarks.md. */
export function writeReviewDoc(markdown: string): Promise<void> {
  return writeDocPart(path.join(ROOT, 'docs', 'benchmarks.md'), 'review', markdown);
}

async function main(): Promise<void> {
  const args = new Map(
    process.argv.slice(2).map((arg) => {
      const [key, value] = arg.replace(/^--/, '').split('=');
      return [key!, value ?? 'true'] as const;
    }),
  );
  const serveUrl = args.get('serve');
  if (serveUrl !== undefined) return serve(serveUrl);
  const number = (key: string) => (args.has(key) ? Number(args.get(key)) : undefined);
  const tag = args.get('tag') ?? Math.random().toString(16).slice(2, 8);
  const { markdown, json } = await runReviewBench({
    rows: number('rows'),
    events: number('events'),
    reps: number('reps'),
    bigReps: number('big-reps'),
    tag,
  });
  const resultsDir = path.join(ROOT, 'bench', 'results', `${new Date().toISOString().slice(0, 10)}-review-${tag}`);
  mkdirSync(resultsDir, { recursive: true });
  writeFileSync(path.join(resultsDir, 'results.json'), JSON.stringify(json, null, 2));
  writeFileSync(path.join(resultsDir, 'report.md'), markdown);
  process.stdout.write(`${markdown}\n`);
  if (args.has('doc')) {
    await writeReviewDoc(markdown);
    process.stderr.write(`[review] written to docs/benchmarks.md and ${path.relative(ROOT, resultsDir)}\n`);
  } else {
    process.stderr.write(
      `[review] written to ${path.relative(ROOT, resultsDir)} (docs untouched; --doc writes them)\n`,
    );
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((error: unknown) => {
    process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exitCode = 1;
  });
}

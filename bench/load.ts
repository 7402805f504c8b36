/**
 * Load-generator pieces of the benchmark: latency samples, console clients over real
 * WebSockets, paced open-loop senders, a small HTTP client, and readers of /proc for the
 * server's CPU time and memory. Used by bench/run.ts against Cueroom and against the bare
 * `ws` broadcast server (bench/baseline-server.ts) alike.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { performance } from 'node:perf_hooks';
import { Redis } from 'ioredis';
import WebSocket from 'ws';

// ---------------------------------------------------------------------------------------
// Latency samples and percentiles

/** Nearest-rank percentile of an ascending array (`p` in 0..100). NaN when empty. */
export function percentile(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))]!;
}

export interface Summary {
  count: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  mean: number;
}

/**
 * Every sample, up to `cap` (then a uniform reservoir of `cap` samples, with the exact
 * maximum kept aside), summarised by sorting once.
 */
export class Samples {
  private data = new Float64Array(1 << 14);
  private n = 0;
  private seen = 0;
  private maxSeen = Number.NEGATIVE_INFINITY;
  private sum = 0;

  constructor(private readonly cap = 4_000_000) {}

  add(value: number): void {
    this.seen++;
    this.sum += value;
    if (value > this.maxSeen) this.maxSeen = value;
    if (this.n < this.cap) {
      if (this.n === this.data.length) {
        const grown = new Float64Array(Math.min(this.cap, this.data.length * 2));
        grown.set(this.data);
        this.data = grown;
      }
      this.data[this.n++] = value;
      return;
    }
    const slot = Math.floor(Math.random() * this.seen);
    if (slot < this.cap) this.data[slot] = value;
  }

  get count(): number {
    return this.seen;
  }

  summary(): Summary {
    const sorted = this.data.slice(0, this.n).sort();
    return {
      count: this.seen,
      p50: percentile(sorted, 50),
      p90: percentile(sorted, 90),
      p99: percentile(sorted, 99),
      max: this.seen ? this.maxSeen : Number.NaN,
      mean: this.seen ? this.sum / this.seen : Number.NaN,
    };
  }
}

// ---------------------------------------------------------------------------------------
// What the consoles of one run saw

export class Stats {
  /** Events received by all consoles (each event counted once per console that got it). */
  deliveries = 0;
  frames = 0;
  /** Event `at` (the server's accept time, ms) → client receive time, on parsing consoles. */
  readonly accepted = new Samples();
  /** The same for `health.sampled` events, which Cueroom paces per console (HEALTH_FANOUT_MS): kept apart. */
  readonly acceptedHealth = new Samples();
  /** Client send time of the command (performance.now) → client receive time, on parsing consoles. */
  readonly sent = new Samples();
  readonly sentHealth = new Samples();
  /** Payload bytes of the event frames received. */
  bytes = 0;
  /** Command round trip: send → ack. */
  readonly ackRtt = new Samples();
  acksOk = 0;
  readonly errors = new Map<string, number>();
  /**
   * Seq gaps seen by consoles that see every event (observers; everyone on the baseline),
   * kept as ranges and judged at the end (`gapReport`): Cueroom drops superseded health
   * samples on purpose (pacing), any other missing seq is a broken promise.
   */
  readonly gapRanges: { sessionId: string; from: number; to: number }[] = [];
  duplicates = 0;

  /** Missing seqs that were not health samples (`missing`), and superseded health samples skipped (`healthSkipped`). */
  gapReport(): { missing: number; healthSkipped: number } {
    let missing = 0;
    let healthSkipped = 0;
    for (const { sessionId, from, to } of this.gapRanges) {
      for (let seq = from; seq <= to; seq++) {
        if (healthSeqs.has(`${sessionId}:${seq}`)) healthSkipped++;
        else missing++;
      }
    }
    return { missing, healthSkipped };
  }
  readonly closes = new Map<number, number>();
  /** When set, the ids of acknowledged commands are kept (for the audit check). */
  keepAckedIds = false;
  readonly ackedIds: string[] = [];

  error(code: string): void {
    this.errors.set(code, (this.errors.get(code) ?? 0) + 1);
  }

  errorCount(): number {
    let total = 0;
    for (const n of this.errors.values()) total += n;
    return total;
  }
}

/** Client send times by command id (performance.now), shared by every console of the process. */
export const sendTimes = new Map<string, number>();
/** `<sessionId>:<seq>` of every acknowledged health sample, to tell paced-away samples from real gaps. */
export const healthSeqs = new Set<string>();

// ---------------------------------------------------------------------------------------
// Console clients

/** Anything JSON-shaped from the server; the bench reads only what it needs. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Json = any;

export interface ConsoleOptions {
  url: string;
  role: string;
  /** Check that event seqs go up by exactly one (a console that sees every event). */
  strictSeq: boolean;
  sessionId: string;
  stats: Stats;
  onEvent?: (event: Json, console: BenchConsole) => void;
  readyTimeoutMs?: number;
}

const EVENTS_PREFIX = Buffer.from('{"type":"events"');
const SNAPSHOT_PREFIX = Buffer.from('{"type":"snapshot"');
const COMMAND_ID = Buffer.from('"commandId":');

interface Pending {
  sentAt: number;
  kind: string;
  onAck?: (message: Json) => void;
}

/**
 * One console over a `ws` client: connects with a token, waits for its snapshot, parses
 * every frame (latency, seq checks, callbacks), and sends commands with ids, tracking
 * their acks.
 */
export class BenchConsole {
  seq = 0;
  closed = false;
  readonly ready: Promise<void>;
  private readonly pending = new Map<string, Pending>();

  private constructor(
    readonly socket: WebSocket,
    readonly options: ConsoleOptions,
  ) {
    let settle: (error?: Error) => void = () => undefined;
    this.ready = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => settle(new Error(`no snapshot within ${options.readyTimeoutMs ?? 30_000} ms`)),
        options.readyTimeoutMs ?? 30_000,
      );
      settle = (error) => {
        clearTimeout(timer);
        settle = () => undefined;
        if (error) reject(error);
        else resolve();
      };
    });
    this.ready.catch(() => undefined);
    socket.on('message', (data: Buffer) => {
      let message: Json;
      try {
        message = JSON.parse(data.toString('utf8'));
      } catch {
        options.stats.error('bad_frame');
        return;
      }
      this.receive(message, data.length, () => settle());
    });
    socket.on('unexpected-response', (_request, response) => {
      settle(new Error(`upgrade refused: HTTP ${response.statusCode}`));
      response.resume();
      socket.terminate();
    });
    socket.on('error', (error) => settle(error));
    socket.on('close', (code) => {
      this.closed = true;
      options.stats.closes.set(code, (options.stats.closes.get(code) ?? 0) + 1);
      settle(new Error(`closed with ${code} before the snapshot`));
    });
  }

  static open(options: ConsoleOptions): BenchConsole {
    const socket = new WebSocket(options.url, { perMessageDeflate: false, skipUTF8Validation: true });
    return new BenchConsole(socket, options);
  }

  get role(): string {
    return this.options.role;
  }

  get pendingCount(): number {
    return this.pending.size;
  }

  /** Sends a command; its send time is recorded under `id` for send→receive latency. */
  command(id: string, command: Json, onAck?: (message: Json) => void): boolean {
    if (this.closed || this.socket.readyState !== WebSocket.OPEN) {
      this.options.stats.error('not_sent_socket_closed');
      return false;
    }
    const now = performance.now();
    sendTimes.set(id, now);
    this.pending.set(id, { sentAt: now, kind: command.kind, onAck });
    this.socket.send(JSON.stringify({ type: 'command', id, command }));
    return true;
  }

  close(): void {
    if (this.socket.readyState === WebSocket.OPEN || this.socket.readyState === WebSocket.CONNECTING) {
      this.socket.terminate();
    }
  }

  private receive(message: Json, size: number, onSnapshot: () => void): void {
    const stats = this.options.stats;
    switch (message.type) {
      case 'snapshot':
        this.seq = message.seq;
        onSnapshot();
        break;
      case 'events': {
        stats.frames++;
        stats.bytes += size;
        const wall = Date.now();
        const mono = performance.now();
        for (const event of message.events as Json[]) {
          stats.deliveries++;
          const health = event.kind === 'health.sampled';
          (health ? stats.acceptedHealth : stats.accepted).add(wall - event.at);
          const sentAt = sendTimes.get(event.commandId);
          if (sentAt !== undefined) (health ? stats.sentHealth : stats.sent).add(mono - sentAt);
          if (event.seq <= this.seq) stats.duplicates++;
          else if (this.options.strictSeq && event.seq !== this.seq + 1) {
            stats.gapRanges.push({ sessionId: this.options.sessionId, from: this.seq + 1, to: event.seq - 1 });
          }
          if (event.seq > this.seq) this.seq = event.seq;
          this.options.onEvent?.(event, this);
        }
        if (message.seq > this.seq) this.seq = message.seq;
        break;
      }
      case 'ack': {
        const pending = this.pending.get(message.id);
        if (!pending) break;
        this.pending.delete(message.id);
        stats.acksOk++;
        if (pending.kind === 'health.sample') {
          for (let seq = message.seq; seq <= message.lastSeq; seq++) healthSeqs.add(`${this.options.sessionId}:${seq}`);
        }
        if (stats.keepAckedIds) stats.ackedIds.push(message.id);
        stats.ackRtt.add(performance.now() - pending.sentAt);
        pending.onAck?.(message);
        break;
      }
      case 'error': {
        if (message.id !== undefined) this.pending.delete(message.id);
        stats.error(String(message.code));
        break;
      }
      default:
        break;
    }
  }
}

/**
 * A console that only counts: a bare WebSocket client over a TCP socket with a minimal
 * frame reader (server frames are unmasked and uncompressed), which counts events by the
 * `"commandId":` each one carries, answers pings, and parses nothing. It costs the load
 * generator a fraction of a `ws` client, so that the generator is not what saturates
 * first at a few hundred thousand deliveries a second.
 */
export class CountingConsole {
  closed = false;
  readonly ready: Promise<void>;
  private readonly socket: net.Socket;
  private leftover: Buffer | null = null;
  private upgraded = false;
  private snapshot = false;
  private settle: (error?: Error) => void = () => undefined;

  private constructor(
    url: string,
    readonly options: { role: string; stats: Stats; readyTimeoutMs?: number },
  ) {
    const target = new URL(url);
    const timeoutMs = options.readyTimeoutMs ?? 30_000;
    this.ready = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => this.settle(new Error(`no snapshot within ${timeoutMs} ms`)), timeoutMs);
      this.settle = (error) => {
        clearTimeout(timer);
        this.settle = () => undefined;
        if (error) reject(error);
        else resolve();
      };
    });
    this.ready.catch(() => undefined);
    // `onread` reads into one shared buffer: no Buffer and no stream machinery per read.
    this.socket = net.connect({
      host: target.hostname,
      port: Number(target.port),
      onread: { buffer: READ_BUFFER, callback: (n: number, buf: Uint8Array) => this.onRead(n, buf) },
    });
    this.socket.setNoDelay(true);
    this.socket.on('connect', () => {
      this.socket.write(
        `GET ${target.pathname}${target.search} HTTP/1.1\r\nHost: ${target.host}\r\nUpgrade: websocket\r\n` +
          `Connection: Upgrade\r\nSec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
      );
    });
    this.socket.on('error', (error) => this.settle(error));
    this.socket.on('close', () => {
      if (!this.closed) this.closedWith(1006);
      this.settle(new Error('closed before the snapshot'));
    });
  }

  static open(url: string, options: { role: string; stats: Stats; readyTimeoutMs?: number }): CountingConsole {
    return new CountingConsole(url, options);
  }

  get role(): string {
    return this.options.role;
  }

  get pendingCount(): number {
    return 0;
  }

  close(): void {
    this.closed = true;
    this.socket.destroy();
  }

  private closedWith(code: number): void {
    this.closed = true;
    const closes = this.options.stats.closes;
    closes.set(code, (closes.get(code) ?? 0) + 1);
  }

  private onRead(n: number, buf: Uint8Array): boolean {
    this.receive(Buffer.from(buf.buffer, buf.byteOffset, n));
    return true;
  }

  private receive(chunk: Buffer): void {
    let buf = this.leftover ? Buffer.concat([this.leftover, chunk]) : chunk;
    this.leftover = null;
    if (!this.upgraded) {
      const end = buf.indexOf('\r\n\r\n');
      if (end === -1) {
        this.leftover = buf;
        return;
      }
      const status = buf.subarray(0, buf.indexOf('\r\n')).toString('latin1');
      if (!/^HTTP\/1\.1 101 /.test(status)) {
        this.settle(new Error(`upgrade refused: ${status}`));
        this.close();
        return;
      }
      this.upgraded = true;
      buf = buf.subarray(end + 4);
    }
    let off = 0;
    const len = buf.length;
    while (len - off >= 2) {
      const opcode = buf[off]! & 0x0f;
      let size = buf[off + 1]! & 0x7f;
      let header = 2;
      if (size === 126) {
        if (len - off < 4) break;
        size = buf.readUInt16BE(off + 2);
        header = 4;
      } else if (size === 127) {
        if (len - off < 10) break;
        size = Number(buf.readBigUInt64BE(off + 2));
        header = 10;
      }
      if (len - off < header + size) break;
      this.frame(opcode, buf.subarray(off + header, off + header + size));
      off += header + size;
    }
    if (off < len) this.leftover = Buffer.from(buf.subarray(off));
  }

  private frame(opcode: number, payload: Buffer): void {
    if (opcode === 1 || opcode === 0) {
      if (payload.indexOf(EVENTS_PREFIX) === 0) {
        const stats = this.options.stats;
        stats.frames++;
        stats.bytes += payload.length;
        let at = payload.indexOf(COMMAND_ID, 16);
        while (at !== -1) {
          stats.deliveries++;
          at = payload.indexOf(COMMAND_ID, at + COMMAND_ID.length);
        }
      } else if (!this.snapshot && payload.indexOf(SNAPSHOT_PREFIX) === 0) {
        this.snapshot = true;
        this.settle();
      }
    } else if (opcode === 9) {
      // Pong with the ping's payload, masked (client frames must be).
      const mask = randomBytes(4);
      const out = Buffer.allocUnsafe(6 + payload.length);
      out[0] = 0x8a;
      out[1] = 0x80 | payload.length;
      mask.copy(out, 2);
      for (let i = 0; i < payload.length; i++) out[6 + i] = payload[i]! ^ mask[i & 3]!;
      this.socket.write(out);
    } else if (opcode === 8) {
      this.closedWith(payload.length >= 2 ? payload.readUInt16BE(0) : 1005);
      this.socket.destroy();
    }
  }
}

const READ_BUFFER = Buffer.allocUnsafe(256 * 1024);

export type AnyConsole = BenchConsole | CountingConsole;

// ---------------------------------------------------------------------------------------
// Pacing and concurrency

/**
 * Open loop: calls `send(i)` `rate` times a second for `durationMs`, on a 5 ms tick that
 * catches up when the event loop was late. Resolves with the number of calls.
 */
export function paced(rate: number, durationMs: number, send: (i: number) => void): Promise<number> {
  return new Promise((resolve) => {
    const start = performance.now();
    let sent = 0;
    const tick = () => {
      const elapsed = Math.min(performance.now() - start, durationMs);
      const due = Math.floor((elapsed * rate) / 1000);
      while (sent < due) send(sent++);
      if (elapsed >= durationMs) {
        clearInterval(timer);
        resolve(sent);
      }
    };
    const timer = setInterval(tick, 5);
    tick();
  });
}

/** Runs `fn` over `items` with at most `limit` at a time; rejects on the first failure. */
export async function mapLimit<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T, index: number) => Promise<R>,
): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await fn(items[index]!, index);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Polls `check` every `everyMs` until it is true or `timeoutMs` passed; returns whether it became true. */
export async function waitUntil(
  check: () => boolean | Promise<boolean>,
  timeoutMs: number,
  everyMs = 100,
): Promise<boolean> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return true;
    if (Date.now() >= end) return false;
    await sleep(everyMs);
  }
}

// ---------------------------------------------------------------------------------------
// HTTP

const agent = new http.Agent({ keepAlive: true, maxSockets: 512 });

export interface HttpAnswer {
  status: number;
  body: Json;
}

/** One JSON request to 127.0.0.1 over a keep-alive agent, with a time limit. */
export function httpJson(
  method: string,
  url: string,
  token: string | null,
  body?: unknown,
  timeoutMs = 30_000,
  /** The connection pool; default one shared keep-alive agent (an agent process would have its own). */
  via: http.Agent = agent,
): Promise<HttpAnswer> {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const headers: Record<string, string> = {};
    if (token) headers.authorization = `Bearer ${token}`;
    if (payload !== undefined) {
      headers['content-type'] = 'application/json';
      headers['content-length'] = String(Buffer.byteLength(payload));
    }
    const request = http.request(url, { method, headers, agent: via, timeout: timeoutMs }, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let parsed: Json = text;
        try {
          parsed = text ? JSON.parse(text) : null;
        } catch {
          // not JSON: keep the text
        }
        resolve({ status: response.statusCode ?? 0, body: parsed });
      });
      response.on('error', reject);
    });
    request.on('timeout', () => request.destroy(new Error(`${method} ${url}: no answer within ${timeoutMs} ms`)));
    request.on('error', reject);
    request.end(payload);
  });
}

/** Throws with the answer in the message unless the status is `expected`. */
export function expectStatus(answer: HttpAnswer, expected: number, what: string): Json {
  if (answer.status !== expected) {
    throw new Error(`${what}: HTTP ${answer.status} ${JSON.stringify(answer.body).slice(0, 400)}`);
  }
  return answer.body;
}

/**
 * A few of Cueroom's Prometheus metrics (event-loop delay since the previous scrape, GC
 * time, audit backlog); null when the server has no /metrics (the baseline).
 */
/** Cumulative counts of a Prometheus histogram's buckets, by upper bound in seconds (`+Inf` last). */
export type Buckets = Map<number, number>;

/**
 * The `q` quantile (0..1) of what a histogram counted between two scrapes, in ms, by
 * linear interpolation inside the bucket it falls in (as Prometheus' histogram_quantile).
 */
export function bucketQuantileMs(before: Buckets | undefined, after: Buckets, q: number): number {
  const bounds = [...after.keys()].sort((a, b) => a - b);
  const counts = bounds.map((le) => (after.get(le) ?? 0) - (before?.get(le) ?? 0));
  const total = counts.at(-1) ?? 0;
  if (total <= 0) return Number.NaN;
  const rank = q * total;
  for (let i = 0; i < bounds.length; i++) {
    if (counts[i]! < rank) continue;
    if (!Number.isFinite(bounds[i]!)) return Number.POSITIVE_INFINITY;
    const lower = i === 0 ? 0 : bounds[i - 1]!;
    const below = i === 0 ? 0 : counts[i - 1]!;
    const inBucket = counts[i]! - below;
    return (lower + (bounds[i]! - lower) * (inBucket > 0 ? (rank - below) / inBucket : 1)) * 1000;
  }
  return Number.NaN;
}

/** The server's own metrics that the bench reads (times in ms). */
export interface ScrapedMetrics {
  eventLoopP50Ms?: number;
  eventLoopP99Ms?: number;
  eventLoopMaxMs?: number;
  auditBacklog?: number;
  /** Garbage collection so far, all kinds, in seconds. */
  gcSeconds: number;
  /** `cueroom_fanout_latency_seconds`: accepted → frame written, per event. */
  fanoutBuckets?: Buckets;
}

const SCRAPED = {
  eventLoopP50Ms: 'cueroom_nodejs_eventloop_lag_p50_seconds',
  eventLoopP99Ms: 'cueroom_nodejs_eventloop_lag_p99_seconds',
  eventLoopMaxMs: 'cueroom_nodejs_eventloop_lag_max_seconds',
  auditBacklog: 'cueroom_audit_backlog',
} as const;

export async function scrapeMetrics(baseUrl: string): Promise<ScrapedMetrics | null> {
  try {
    const answer = await httpJson('GET', `${baseUrl}/metrics`, null, undefined, 5000);
    if (answer.status !== 200 || typeof answer.body !== 'string') return null;
    const out: ScrapedMetrics = { gcSeconds: 0 };
    const fanout: Buckets = new Map();
    for (const line of answer.body.split('\n')) {
      if (line.startsWith('#')) continue;
      const [name, value] = [line.slice(0, line.lastIndexOf(' ')), Number(line.slice(line.lastIndexOf(' ') + 1))];
      const bucket = /^cueroom_fanout_latency_seconds_bucket\{le="([^"]+)"\}$/.exec(name);
      if (bucket) fanout.set(bucket[1] === '+Inf' ? Number.POSITIVE_INFINITY : Number(bucket[1]), value);
      for (const [key, metric] of Object.entries(SCRAPED) as [keyof typeof SCRAPED, string][]) {
        if (name === metric) out[key] = key.endsWith('Ms') ? value * 1000 : value;
      }
      if (name.startsWith('cueroom_nodejs_gc_duration_seconds_sum')) out.gcSeconds += value;
    }
    if (fanout.size > 0) out.fanoutBuckets = fanout;
    return out;
  } catch {
    return null;
  }
}

/** Redis `INFO commandstats` as command → calls (via redis-cli); null when it cannot be read. */
export function redisCommandCalls(redisUrl: string): Map<string, number> | null {
  try {
    const text = execFileSync('redis-cli', ['-u', redisUrl, 'info', 'commandstats'], {
      encoding: 'utf8',
      timeout: 5000,
    });
    const calls = new Map<string, number>();
    for (const match of text.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) calls.set(match[1]!, Number(match[2]));
    return calls;
  } catch {
    return null;
  }
}

// ---------------------------------------------------------------------------------------
// Process figures from /proc (Linux)

let ticksPerSecond: number | null = null;

function clockTicks(): number {
  if (ticksPerSecond === null) {
    try {
      ticksPerSecond = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      ticksPerSecond = 100;
    }
  }
  return ticksPerSecond;
}

/** User + system CPU seconds a process has used so far (/proc/<pid>/stat fields 14 and 15). */
export function procCpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // fields[0] is field 3 (state): utime is field 14, stime field 15.
  return (Number(fields[11]) + Number(fields[12])) / clockTicks();
}

/** Resident set size of a process in bytes (/proc/<pid>/status VmRSS). */
export function procRssBytes(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const match = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
  return match ? Number(match[1]) * 1024 : Number.NaN;
}

/** Samples a process's RSS every `everyMs` until stopped; returns the peak seen. */
export function watchRss(pid: number, everyMs = 250): { stop: () => number } {
  let peak = 0;
  const sample = () => {
    try {
      peak = Math.max(peak, procRssBytes(pid));
    } catch {
      // the process is gone
    }
  };
  sample();
  const timer = setInterval(sample, everyMs);
  return {
    stop: () => {
      clearInterval(timer);
      sample();
      return peak;
    },
  };
}

/** CPU use over a window: call `start()`, then `stop()` for {cpuSeconds, wallSeconds, percent of one core}. */
export function cpuMeter(read: () => number): () => { cpuSeconds: number; wallSeconds: number; percent: number } {
  const cpu0 = read();
  const wall0 = performance.now();
  return () => {
    const cpuSeconds = read() - cpu0;
    const wallSeconds = (performance.now() - wall0) / 1000;
    return { cpuSeconds, wallSeconds, percent: (100 * cpuSeconds) / wallSeconds };
  };
}

/** Pids of the processes whose command name (/proc/<pid>/comm) is one of `names`. */
export function pidsNamed(names: readonly string[]): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (names.includes(readFileSync(`/proc/${entry}/comm`, 'utf8').trim())) pids.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return pids;
}

/**
 * CPU use of the processes named `names` over a window, like `cpuMeter`: processes alive at
 * both readings count their difference, processes started meanwhile all they used; those
 * that exited meanwhile are lost (so it never goes negative, but can undercount).
 */
export function namedCpuMeter(
  names: readonly string[],
): () => { cpuSeconds: number; wallSeconds: number; percent: number } {
  const read = () => {
    const cpu = new Map<number, number>();
    for (const pid of pidsNamed(names)) {
      try {
        cpu.set(pid, procCpuSeconds(pid));
      } catch {
        // gone meanwhile
      }
    }
    return cpu;
  };
  const before = read();
  const wall0 = performance.now();
  return () => {
    let cpuSeconds = 0;
    for (const [pid, seconds] of read()) cpuSeconds += seconds - (before.get(pid) ?? 0);
    const wallSeconds = (performance.now() - wall0) / 1000;
    return { cpuSeconds, wallSeconds, percent: (100 * cpuSeconds) / wallSeconds };
  };
}

/** Busy and total jiffies of each CPU from /proc/stat (busy = all but idle and iowait). */
function cpuTimes(): { busy: number; total: number }[] {
  const lines = readFileSync('/proc/stat', 'utf8')
    .split('\n')
    .filter((l) => /^cpu\d+ /.test(l));
  return lines.map((line) => {
    const v = line.trim().split(/\s+/).slice(1, 9).map(Number);
    const total = v.reduce((a, b) => a + b, 0);
    return { busy: total - v[3]! - v[4]!, total };
  });
}

/** Busy % of every CPU over a window (including time in interrupts, which no process is charged for). */
export function systemCpuMeter(): () => number[] {
  const before = cpuTimes();
  return () =>
    cpuTimes().map((after, i) => {
      const b = before[i];
      if (!b || after.total === b.total) return Number.NaN;
      return (100 * (after.busy - b.busy)) / (after.total - b.total);
    });
}

/** This process's own CPU seconds (the load generator). */
export function selfCpuSeconds(): number {
  const usage = process.cpuUsage();
  return (usage.user + usage.system) / 1e6;
}

// ---------------------------------------------------------------------------------------
// Clean-up and the results page

/** Removes the Redis keys under `prefix` (a run's own); returns how many. Failures are logged, not thrown. */
export async function removeRedisKeys(redisUrl: string, prefix: string, log: (line: string) => void): Promise<number> {
  const redis = new Redis(redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1 });
  redis.on('error', () => undefined);
  let keys = 0;
  try {
    await redis.connect();
    let cursor = '0';
    do {
      const [next, found] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
      cursor = next;
      if (found.length) keys += await redis.unlink(...found);
    } while (cursor !== '0');
  } catch (error) {
    log(`could not clean Redis keys ${prefix}*: ${(error as Error).message}`);
  } finally {
    redis.disconnect();
  }
  return keys;
}

/**
 * Writes `markdown` between the `<!-- bench:<part>:start -->` and `…:end -->` markers of
 * `docPath` (added at the end when missing), formatted by prettier like the rest of the
 * repository. Each part of the bench owns its markers; the rest of the page is by hand.
 */
export async function writeDocPart(docPath: string, part: string, markdown: string): Promise<void> {
  const start = `<!-- bench:${part}:start -->`;
  const end = `<!-- bench:${part}:end -->`;
  let current = '# Benchmarks\n';
  try {
    current = readFileSync(docPath, 'utf8');
  } catch {
    // a new page
  }
  const from = current.indexOf(start);
  const to = current.indexOf(end);
  const next =
    from !== -1 && to > from
      ? `${current.slice(0, from + start.length)}\n\n${markdown}\n${current.slice(to)}`
      : `${current.trimEnd()}\n\n${start}\n\n${markdown}\n${end}\n`;
  const prettier = await import('prettier');
  const config = (await prettier.resolveConfig(docPath)) ?? {};
  writeFileSync(docPath, await prettier.format(next, { ...config, filepath: docPath }));
}

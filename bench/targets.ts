/**
 * The two servers the benchmark drives, behind one interface: Cueroom (server/main.ts on
 * Redis + Postgres) and the bare `ws` broadcast baseline (bench/baseline-server.ts). Each
 * runs as a child process, pinned to CPU 0 when `taskset` is there.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { createWriteStream, existsSync, readFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { AUDIENCE } from '../shared/audience.js';
import type { EventKind } from '../shared/events.js';
import { expectStatus, httpJson, sleep, type Json } from './load.js';

export const ROOT = path.resolve(import.meta.dirname, '..');

export function hasTaskset(): boolean {
  return spawnSync('taskset', ['--version'], { stdio: 'ignore' }).status === 0;
}

/**
 * The V8 flags `npm start` gives node (package.json), so that both servers run as Cueroom
 * ships: a larger young generation (`--max-semi-space-size`) took the garbage collector
 * from about an eighth of the busy night's server time to a thirtieth (docs/benchmarks.md).
 */
export function startNodeFlags(): string[] {
  const pkg = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
  return pkg.scripts.start!.split(/\s+/).filter((word) => /^--max-[a-z-]+=\d+$/.test(word));
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** A server child process: started with env, awaited on /readyz, stopped with SIGTERM. */
export class ServerProcess {
  private exited = false;
  private exitCode: number | null = null;

  private constructor(
    readonly child: ChildProcess,
    readonly port: number,
    readonly logFile: string,
    readonly pinned: boolean,
  ) {
    child.once('exit', (code) => {
      this.exited = true;
      this.exitCode = code;
    });
  }

  get pid(): number {
    return this.child.pid!;
  }

  get baseUrl(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  static async start(options: {
    entry: string;
    env: Record<string, string>;
    port: number;
    logFile: string;
    pinCpu: number | null;
    readyTimeoutMs?: number;
    nodeArgs?: string[];
  }): Promise<ServerProcess> {
    const nodeArgs = [...startNodeFlags(), ...(options.nodeArgs ?? []), '--import', 'tsx', options.entry];
    const [command, args] =
      options.pinCpu === null
        ? [process.execPath, nodeArgs]
        : ['taskset', ['-c', String(options.pinCpu), process.execPath, ...nodeArgs]];
    const child = spawn(command, args, {
      cwd: ROOT,
      env: { ...process.env, ...options.env, PORT: String(options.port) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const log = createWriteStream(options.logFile);
    child.stdout!.pipe(log, { end: false });
    child.stderr!.pipe(log, { end: false });
    const server = new ServerProcess(child, options.port, options.logFile, options.pinCpu !== null);
    const deadline = Date.now() + (options.readyTimeoutMs ?? 60_000);
    for (;;) {
      if (server.exited) {
        throw new Error(
          `${options.entry} exited with ${server.exitCode} before it was ready; log: ${server.logTail()}`,
        );
      }
      try {
        const answer = await httpJson('GET', `${server.baseUrl}/readyz`, null, undefined, 2000);
        if (answer.status === 200) break;
      } catch {
        // not listening yet
      }
      if (Date.now() > deadline) {
        await server.stop();
        throw new Error(
          `${options.entry} not ready within ${options.readyTimeoutMs ?? 60_000} ms; log: ${server.logTail()}`,
        );
      }
      await sleep(200);
    }
    // taskset execs node, so the child pid is the server's own process.
    const comm = readFileSync(`/proc/${server.pid}/comm`, 'utf8').trim();
    if (comm !== 'node') throw new Error(`expected pid ${server.pid} to be node, it is ${comm}`);
    return server;
  }

  logTail(chars = 2000): string {
    try {
      return readFileSync(this.logFile, 'utf8').slice(-chars);
    } catch {
      return '(no log)';
    }
  }

  /** SIGTERM, then SIGKILL after `graceMs`; resolves when the process is gone. */
  async stop(graceMs = 15_000): Promise<void> {
    if (this.exited) return;
    const gone = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => {
      if (!this.exited) this.child.kill('SIGKILL');
    }, graceMs);
    await gone;
    clearTimeout(timer);
  }

  /** Counts of warn/error/fatal pino lines in the log, with the most frequent messages. */
  logSummary(): { warn: number; error: number; top: { level: string; msg: string; count: number }[] } {
    let text = '';
    try {
      text = readFileSync(this.logFile, 'utf8');
    } catch {
      return { warn: 0, error: 0, top: [] };
    }
    const counts = new Map<string, { level: string; msg: string; count: number }>();
    let warn = 0;
    let error = 0;
    for (const line of text.split('\n')) {
      if (!line.startsWith('{')) continue;
      let entry: { level?: number; msg?: string; err?: { message?: string } };
      try {
        entry = JSON.parse(line);
      } catch {
        continue;
      }
      if (entry.level === undefined || entry.level < 40) continue;
      const level = entry.level >= 50 ? 'error' : 'warn';
      if (level === 'warn') warn++;
      else error++;
      const msg = `${entry.msg ?? ''}${entry.err?.message ? `: ${entry.err.message}` : ''}`.slice(0, 160);
      const key = `${level} ${msg}`;
      const found = counts.get(key) ?? { level, msg, count: 0 };
      found.count++;
      counts.set(key, found);
    }
    const top = [...counts.values()].sort((a, b) => b.count - a.count).slice(0, 6);
    return { warn, error, top };
  }
}

export interface Product {
  id: string;
  name: string;
  price: number;
  stock: number;
  talkingPoints: string[];
}

export const LINEUP: Product[] = Array.from({ length: 5 }, (_, i) => ({
  id: `p${i + 1}`,
  name: `Bench product ${i + 1}`,
  price: 1999 + i * 500,
  stock: 500,
  talkingPoints: ['Free shipping today', 'Two colours', 'Ask about the bundle'],
}));

export interface QuestionInput {
  text: string;
  author: string;
  source: string;
  externalId: string;
}

/** What a scenario needs from a server, whichever it is. */
export interface Target {
  readonly name: 'cueroom' | 'baseline';
  readonly label: string;
  readonly server: ServerProcess;
  /** The Redis the server uses, if any (for its command statistics). */
  readonly redisUrl: string | null;
  /** Creates a session and brings it live with a lineup; returns the ids of the commands it got acked. */
  createLiveSession(sessionId: string, title: string): Promise<string[]>;
  /** An invite token for one role and person. */
  invite(sessionId: string, role: string, name: string, personId: string): Promise<string>;
  wsUrl(token: string): string;
  /** Whether a console of `role` receives events of `kind`. */
  receives(kind: EventKind, role: string): boolean;
  /** The command id the server gives an ingested question (it is the key of its audit row). */
  questionCommandId(question: QuestionInput): string;
  postQuestions(sessionId: string, token: string, questions: QuestionInput[]): Promise<Json>;
  stop(): Promise<void>;
}

let commandCounter = 0;
/** A command id unique to this process run: letters, digits and dashes, under 64 characters. */
export function commandId(tag: string): string {
  return `${tag}-${(++commandCounter).toString(36)}`;
}

export class CueroomTarget implements Target {
  readonly name = 'cueroom';
  private readonly opsTokens = new Map<string, string>();

  private constructor(
    readonly label: string,
    readonly redisUrl: string | null,
    readonly server: ServerProcess,
    private readonly adminToken: string,
    private readonly runTag: string,
  ) {}

  /** With `redisUrl` and `databaseUrl` null: the embedded backends (memory store, PGlite under dataDir). */
  static async start(options: {
    redisUrl: string | null;
    redisPrefix: string;
    databaseUrl: string | null;
    logFile: string;
    dataDir: string;
    pinCpu: number | null;
    runTag: string;
    extraEnv?: Record<string, string>;
    /** A folder to write a V8 CPU profile of the server into (node --cpu-prof), written when it exits. */
    profileDir?: string;
  }): Promise<CueroomTarget> {
    const entry = path.join(ROOT, 'server', 'main.ts');
    if (!existsSync(entry)) throw new Error('server/main.ts does not exist yet');
    const port = await freePort();
    const adminToken = randomBytes(24).toString('base64url');
    const server = await ServerProcess.start({
      entry,
      port,
      logFile: options.logFile,
      pinCpu: options.pinCpu,
      nodeArgs: options.profileDir ? ['--cpu-prof', `--cpu-prof-dir=${options.profileDir}`] : [],
      env: {
        HOST: '127.0.0.1',
        REDIS_URL: options.redisUrl ?? '',
        REDIS_PREFIX: options.redisPrefix,
        DATABASE_URL: options.databaseUrl ?? '',
        ADMIN_TOKEN: adminToken,
        TOKEN_SECRET: randomBytes(48).toString('base64url'),
        ALLOWED_ORIGINS: `http://127.0.0.1:${port}`,
        DATA_DIR: options.dataDir,
        LOG_LEVEL: 'warn',
        // The big room's single tech console posts up to a few hundred commands a second;
        // the default (200 per 10 s per connection) would refuse most of them.
        WS_RATE_LIMIT: '100000',
        ...options.extraEnv,
      },
    });
    const label = options.redisUrl
      ? `Cueroom (Redis${options.databaseUrl ? ' + Postgres' : ''})`
      : `Cueroom (embedded: memory + ${options.databaseUrl ? 'Postgres' : 'PGlite'})`;
    return new CueroomTarget(label, options.redisUrl, server, adminToken, options.runTag);
  }

  async createLiveSession(sessionId: string, title: string): Promise<string[]> {
    const base = this.server.baseUrl;
    expectStatus(
      await httpJson('POST', `${base}/v1/sessions`, this.adminToken, { id: sessionId, title }),
      201,
      'create session',
    );
    const ops = expectStatus(
      await httpJson('POST', `${base}/v1/sessions/${sessionId}/invites`, this.adminToken, {
        role: 'ops',
        name: 'Bench setup',
        personId: 'bench-setup',
      }),
      201,
      'ops invite',
    );
    this.opsTokens.set(sessionId, ops.token);
    const acked: string[] = [];
    const commands = [
      { kind: 'session.start_preflight' },
      { kind: 'session.go_live', override: true, reason: 'bench' },
      { kind: 'lineup.set', products: LINEUP },
    ];
    for (const command of commands) {
      const id = commandId(`${this.runTag}-setup`);
      const answer = await httpJson('POST', `${base}/v1/sessions/${sessionId}/commands`, ops.token, { id, command });
      const body = expectStatus(answer, 200, command.kind);
      if (!body.ok) throw new Error(`${command.kind} refused: ${JSON.stringify(body)}`);
      acked.push(id);
    }
    return acked;
  }

  async invite(sessionId: string, role: string, name: string, personId: string): Promise<string> {
    const answer = await httpJson('POST', `${this.server.baseUrl}/v1/sessions/${sessionId}/invites`, this.adminToken, {
      role,
      name,
      personId,
    });
    return expectStatus(answer, 201, `invite ${role}`).token;
  }

  wsUrl(token: string): string {
    return `ws://127.0.0.1:${this.server.port}/v1/ws?token=${encodeURIComponent(token)}`;
  }

  receives(kind: EventKind, role: string): boolean {
    return (AUDIENCE[kind] as readonly string[]).includes(role);
  }

  questionCommandId(question: QuestionInput): string {
    return `ingest:${question.source}:${question.externalId}`.slice(0, 64);
  }

  async postQuestions(sessionId: string, token: string, questions: QuestionInput[]): Promise<Json> {
    return httpJson('POST', `${this.server.baseUrl}/v1/sessions/${sessionId}/ingest/questions`, token, { questions });
  }

  stop(): Promise<void> {
    return this.server.stop();
  }
}

export class BaselineTarget implements Target {
  readonly name = 'baseline';
  readonly label = 'bare ws broadcast';
  readonly redisUrl = null;

  private constructor(readonly server: ServerProcess) {}

  static async start(options: { logFile: string; pinCpu: number | null }): Promise<BaselineTarget> {
    const server = await ServerProcess.start({
      entry: path.join(ROOT, 'bench', 'baseline-server.ts'),
      port: await freePort(),
      logFile: options.logFile,
      pinCpu: options.pinCpu,
      env: {},
    });
    return new BaselineTarget(server);
  }

  async createLiveSession(): Promise<string[]> {
    return [];
  }

  async invite(sessionId: string, role: string, name: string, personId: string): Promise<string> {
    return Buffer.from(JSON.stringify({ sid: sessionId, role, sub: personId, name })).toString('base64url');
  }

  wsUrl(token: string): string {
    return `ws://127.0.0.1:${this.server.port}/v1/ws?token=${token}`;
  }

  /** No role filter: every console receives everything. */
  receives(): boolean {
    return true;
  }

  questionCommandId(question: QuestionInput): string {
    return `ingest:${question.source}:${question.externalId}`.slice(0, 64);
  }

  async postQuestions(sessionId: string, token: string, questions: QuestionInput[]): Promise<Json> {
    return httpJson('POST', `${this.server.baseUrl}/v1/sessions/${sessionId}/ingest/questions`, token, { questions });
  }

  stop(): Promise<void> {
    return this.server.stop();
  }
}

export function uniqueTag(): string {
  return randomUUID().slice(0, 6);
}

import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { AxeBuilder } from '@axe-core/playwright';
import { chromium, type Browser, type Page } from 'playwright-core';
import { build } from 'vite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CrewRole } from '../../shared/roles.js';
import { servicesRequired } from '../support/services.js';

/*
 * The web console in a real Chromium (Debian's, never a downloaded one) against a real
 * `tsx server/main.ts` process, so a restart is a real restart on the same port and data.
 * A `.serial` file: a browser and a server process load the machine enough to upset the
 * timing-sensitive tests of the main suite, so it runs after it (vitest.serial.config.ts).
 */

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const ARTIFACTS = path.join(ROOT, 'artifacts');
const ADMIN_TOKEN = 'e2e-admin-token-0123456789';
const TOKEN_SECRET = 'e2e-token-secret-0123456789-0123456789';

const NAMES = { host: 'Hana', cohost: 'Carlos', tech: 'Tomás', ops: 'Olga', observer: 'Oren', ingest: 'Chat bot' };

const haveChromium = existsSync(CHROMIUM);
if (!haveChromium) {
  if (servicesRequired) throw new Error(`Chromium not found at ${CHROMIUM} and REQUIRE_SERVICES=1`);
  console.warn(
    `[cueroom tests] Chromium not found at ${CHROMIUM}: skipping the end-to-end console tests (apt-get install chromium)`,
  );
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() =>
        typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port')),
      );
    });
  });
}

/** What web-console/src/main.tsx exposes on the page, typed only as far as these tests read it. */
interface ConsolePage {
  cueroom: {
    store: {
      session: { value: { status: string } };
      lineup: { value: { currentProductId: string | null; products: unknown[] } };
      questions: { value: unknown };
      incidents: { value: unknown };
      cues: { value: unknown };
      activity: { value: { seq: number }[] };
    };
    connection: { send(action: string, command: unknown): string };
  };
}

/** A parsed response body: its shape is what the assertions check. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- bodies are checked by the assertions
type Body = any;

/** JSON with keys sorted, so two states compare equal whatever order their records were built in. */
function canonical(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => a.localeCompare(b)))
      : v,
  );
}

class Server {
  process: ChildProcess | null = null;
  output = '';
  constructor(
    readonly port: number,
    readonly dataDir: string,
  ) {}

  get base(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    const child = spawn(process.execPath, ['--import', 'tsx', 'server/main.ts'], {
      cwd: ROOT,
      env: {
        ...process.env,
        PORT: String(this.port),
        HOST: '127.0.0.1',
        DATA_DIR: this.dataDir,
        ADMIN_TOKEN,
        TOKEN_SECRET,
        LOG_LEVEL: 'warn',
        REDIS_URL: '',
        DATABASE_URL: '',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.process = child;
    child.stdout?.on('data', (chunk: Buffer) => (this.output += chunk.toString()));
    child.stderr?.on('data', (chunk: Buffer) => (this.output += chunk.toString()));
    for (let i = 0; i < 200; i++) {
      if (child.exitCode !== null) throw new Error(`server exited: ${this.output}`);
      const ok = await fetch(`${this.base}/readyz`).then(
        (r) => r.ok,
        () => false,
      );
      if (ok) return;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    throw new Error(`server did not become ready: ${this.output}`);
  }

  async stop(): Promise<void> {
    const child = this.process;
    if (!child || child.exitCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    await exited;
  }

  async request(method: string, url: string, token: string, body?: unknown): Promise<{ status: number; body: Body }> {
    const response = await fetch(this.base + url, {
      method,
      headers: {
        authorization: `Bearer ${token}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: response.status, body: await response.json() };
  }
}

describe.skipIf(!haveChromium)('web console in Chromium', () => {
  let server: Server;
  let browser: Browser;
  let dataDir: string;
  let sessionId: string;
  const tokens = {} as Record<CrewRole | 'ingest', string>;
  const pages = {} as Record<CrewRole, Page>;
  const pageErrors: string[] = [];

  async function openConsole(role: CrewRole): Promise<Page> {
    const context = await browser.newContext({ viewport: { width: 1400, height: 1000 } });
    const page = await context.newPage();
    page.on('pageerror', (error) => pageErrors.push(`${role}: ${error.message}`));
    await page.goto(`${server.base}/?session=${sessionId}#token=${tokens[role]}`);
    await page.locator(`[data-role="${role}"]`).waitFor();
    await page.locator('[data-connection="live"]').waitFor();
    pages[role] = page;
    return page;
  }

  async function finish(role: CrewRole): Promise<void> {
    const page = pages[role];
    await page.screenshot({ path: path.join(ARTIFACTS, `console-${role}.png`), fullPage: true });
    const results = await new AxeBuilder({ page }).analyze();
    const serious = results.violations
      .filter((v) => v.impact === 'serious' || v.impact === 'critical')
      .map((v) => `${v.id}: ${v.help} (${v.nodes.map((n) => n.target.join(' ')).join(', ')})`);
    expect(serious, `${role} axe violations`).toEqual([]);
    if (role === 'ops') {
      // The light theme passes the same check.
      await page.getByRole('button', { name: 'Light theme' }).click();
      await page.locator('html[data-theme="light"]').waitFor();
      await page.screenshot({ path: path.join(ARTIFACTS, 'console-ops-light.png'), fullPage: true });
      const light = await new AxeBuilder({ page }).analyze();
      expect(
        light.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical').map((v) => v.id),
        'ops light theme axe violations',
      ).toEqual([]);
    }
  }

  /** The page's folded state must equal the server's role-filtered state: nothing lost, nothing twice. */
  async function expectInSync(role: CrewRole): Promise<void> {
    const page = pages[role];
    let lastDiff = '';
    await expect
      .poll(
        async () => {
          const server_ = await server.request('GET', `/v1/sessions/${sessionId}`, tokens[role]);
          const pick = (s: Body) => ({
            status: s.status,
            currentProductId: s.currentProductId,
            lineup: s.lineup,
            questions: s.questions,
            incidents: s.incidents,
            cues: s.cues,
          });
          const mine = await page.evaluate(() => {
            const c = (globalThis as unknown as ConsolePage).cueroom;
            const s = c.store;
            return {
              status: s.session.value.status,
              currentProductId: s.lineup.value.currentProductId,
              lineup: s.lineup.value.products,
              questions: s.questions.value,
              incidents: s.incidents.value,
              cues: s.cues.value,
            };
          });
          const want = canonical(pick(server_.body.state));
          const got = canonical(mine);
          if (want !== got) lastDiff = `${role}\n page:   ${got}\n server: ${want}`;
          return want === got;
        },
        { timeout: 10_000 },
      )
      .toBe(true)
      .catch((error: unknown) => {
        throw new Error(`${String(error)}\n${lastDiff}`);
      });
    const seqs: number[] = await page.evaluate(() =>
      (globalThis as unknown as ConsolePage).cueroom.store.activity.value.map((a) => a.seq),
    );
    expect(new Set(seqs).size, `${role} saw an event twice`).toBe(seqs.length);
  }

  beforeAll(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    await build({ configFile: path.join(ROOT, 'web-console/vite.config.ts'), logLevel: 'warn' });
    dataDir = mkdtempSync(path.join(tmpdir(), 'cueroom-e2e-'));
    server = new Server(await freePort(), dataDir);
    await server.start();
    const created = await server.request('POST', '/v1/sessions', ADMIN_TOKEN, { title: 'E2E: Kitchen Friday' });
    expect(created.status).toBe(201);
    sessionId = created.body.id;
    for (const role of ['host', 'cohost', 'tech', 'ops', 'observer', 'ingest'] as const) {
      const invite = await server.request('POST', `/v1/sessions/${sessionId}/invites`, ADMIN_TOKEN, {
        role,
        name: NAMES[role],
      });
      expect(invite.status).toBe(201);
      tokens[role] = invite.body.token;
    }
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-component-update',
      ],
    });
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await server?.stop();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
    expect(pageErrors).toEqual([]);
  }, 30_000);

  it('ops sets up the lineup, goes live and switches the product; the host sees it', async () => {
    const ops = await openConsole('ops');
    const host = await openConsole('host');
    await ops.getByLabel('Product', { exact: true }).fill('Glass kettle');
    await ops.getByLabel('Price').fill('39.99');
    await ops.getByLabel('Stock').fill('12');
    await ops.getByLabel('Talking points (one per line)').fill('Boils in 3 minutes\nBlue light while heating');
    await ops.getByRole('button', { name: 'Add product' }).click();
    await ops.getByLabel('Product', { exact: true }).fill('Stoneware mugs, set of 4');
    await ops.getByLabel('Price').fill('24.99');
    await ops.getByLabel('Stock').fill('300');
    await ops.getByLabel('Talking points (one per line)').fill('Dishwasher safe\nHand glazed, each one different');
    await ops.getByRole('button', { name: 'Add product' }).click();
    await ops.locator('.lineup-editor li').nth(1).waitFor();
    await ops.getByRole('button', { name: 'Start preflight' }).click();
    await ops.locator('[data-status="preflight"]').first().waitFor();
    await ops.getByLabel(/Reason to go live/).fill('e2e: checklist done by phone');
    await ops.getByRole('button', { name: 'Go live anyway' }).click();
    await ops.locator('[data-status="live"]').first().waitFor();
    await ops.getByRole('button', { name: /Switch to next: Glass kettle/ }).click();
    await host.getByText('Glass kettle').first().waitFor();
    await expect.poll(() => host.locator('.talking-points').innerText()).toContain('Boils in 3 minutes');
    await ops.getByRole('button', { name: /Switch to next: Stoneware mugs/ }).click();
    await expect.poll(() => host.locator('.product-name').innerText()).toBe('Stoneware mugs, set of 4');
  }, 60_000);

  it('a viewer question arrives through ingest, the cohost flags it, the host answers it', async () => {
    const cohost = await openConsole('cohost');
    const host = pages.host;
    const posted = await server.request('POST', `/v1/sessions/${sessionId}/ingest/questions`, tokens.ingest, {
      questions: [{ text: 'Is the kettle dishwasher safe?', author: 'viewer42', externalId: 'yt-1' }],
    });
    expect(posted.status).toBe(200);
    const row = cohost.locator('.question', { hasText: 'Is the kettle dishwasher safe?' });
    await row.waitFor();
    expect(await row.innerText()).toContain('asked under Stoneware mugs, set of 4');
    // One key, with the queue focused.
    await cohost.getByRole('list', { name: /new questions/ }).focus();
    await cohost.keyboard.press('f');
    const hostQuestion = host.locator('.host-question', { hasText: 'Is the kettle dishwasher safe?' });
    await hostQuestion.waitFor();
    await hostQuestion.getByRole('button', { name: 'Answered' }).click();
    await hostQuestion.waitFor({ state: 'detached' });
    await cohost.getByRole('tab', { name: /answered/ }).click();
    await cohost.locator('.question', { hasText: 'Is the kettle dishwasher safe?' }).waitFor();
  }, 60_000);

  it('tech acknowledges and resolves an incident while the ops page follows', async () => {
    const tech = await openConsole('tech');
    const ops = pages.ops;
    await tech.getByLabel('Raise an incident').fill('Audio drifting behind video');
    await tech.getByLabel('Severity').selectOption('sev2');
    await tech.getByLabel('Category').selectOption('audio');
    await tech.getByRole('button', { name: 'Raise' }).click();
    const onOps = ops.locator('.incident', { hasText: 'Audio drifting behind video' });
    await onOps.waitFor();
    expect(await onOps.innerText()).toContain('open');
    const onTech = tech.locator('.incident', { hasText: 'Audio drifting behind video' });
    await onTech.getByRole('button', { name: 'Acknowledge' }).click();
    await expect.poll(() => onOps.innerText()).toContain('acknowledged');
    await onTech.getByLabel('Note').fill('Resynced the audio delay');
    await onTech.getByRole('button', { name: 'Add note' }).click();
    await expect.poll(() => onOps.innerText()).toContain('Resynced the audio delay');
    await onTech.getByRole('button', { name: 'Resolve' }).click();
    await onOps.waitFor({ state: 'detached' });
    await expect.poll(() => ops.locator('.incidents [role="status"]').innerText()).toContain('0 open · 1 resolved');
  }, 60_000);

  it('a forbidden action is not offered, and if forced the server refuses it in words', async () => {
    const cohost = pages.cohost;
    expect(await cohost.getByRole('button', { name: /Acknowledge|Go live|End session|Raise/ }).count()).toBe(0);
    const observer = await openConsole('observer');
    expect(await observer.getByRole('button', { name: /Flag|Switch|Send cue|Acknowledge|Answered/ }).count()).toBe(0);
    await cohost.locator('body').click({ position: { x: 5, y: 300 } });
    await cohost.keyboard.press('?');
    await cohost.getByRole('dialog', { name: 'Keyboard shortcuts' }).waitFor();
    await cohost.keyboard.press('Escape');
    await cohost.getByRole('dialog').waitFor({ state: 'detached' });
    await cohost.evaluate(() =>
      (globalThis as unknown as ConsolePage).cueroom.connection.send('general', { kind: 'session.end' }),
    );
    await expect
      .poll(() => cohost.locator('[data-action-error="general"]').innerText())
      .toMatch(/Not allowed for your role/);
  }, 60_000);

  it('the observer opens the review: a drawn health chart, the incident with its times, no axe violations', async () => {
    const observer = pages.observer ?? (await openConsole('observer'));
    const t0 = Date.now() - 60_000;
    const samples = Array.from({ length: 5 }, (_, i) => ({
      ts: t0 + i * 1000,
      bitrateKbps: 4400,
      fps: 30,
      droppedFrames: 0,
    }));
    const posted = await server.request('POST', `/v1/sessions/${sessionId}/ingest/health`, tokens.ingest, { samples });
    expect(posted.status).toBe(200);
    await observer.getByRole('button', { name: 'Review' }).click();
    // The review is read from the audit log, which may trail the live session by a moment.
    await expect
      .poll(async () => {
        await observer.getByRole('button', { name: 'Refresh review' }).click();
        await observer.getByRole('table', { name: 'Incident durations' }).waitFor();
        return observer.locator('.review-chart canvas').count();
      })
      .toBeGreaterThan(0);
    const incidents = observer.getByRole('table', { name: 'Incident durations' });
    await incidents.waitFor();
    const row = incidents.getByRole('row', { name: /Audio drifting behind video/ });
    expect(await row.innerText()).toMatch(/sev2/);
    await observer.getByRole('region', { name: 'Q&A funnel' }).getByRole('status').waitFor();
    await observer.screenshot({ path: path.join(ARTIFACTS, 'console-observer-review.png'), fullPage: true });
    const results = await new AxeBuilder({ page: observer }).analyze();
    expect(
      results.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical').map((v) => v.id),
      'review axe violations',
    ).toEqual([]);
    await observer.getByRole('button', { name: 'Live' }).click();
  }, 60_000);

  it('every page resumes after a server restart without losing or duplicating an event', async () => {
    for (const role of Object.keys(pages) as CrewRole[]) await expectInSync(role);
    await server.stop();
    await pages.ops.locator('[data-connection="reconnecting"]').waitFor();
    // Events happen while the consoles are away.
    await server.start();
    await server.request('POST', `/v1/sessions/${sessionId}/ingest/questions`, tokens.ingest, {
      questions: [{ text: 'Asked during the restart?', author: 'viewer7', externalId: 'yt-2' }],
    });
    for (const role of Object.keys(pages) as CrewRole[]) {
      await pages[role].locator('[data-connection="live"], [data-connection="resynced"]').waitFor({ timeout: 15_000 });
    }
    await pages.cohost.getByRole('tab', { name: /new/ }).click();
    await pages.cohost.locator('.question', { hasText: 'Asked during the restart?' }).waitFor();
    await pages.cohost.getByLabel('Cue text').fill('Back on air');
    await pages.cohost.getByRole('button', { name: 'Send cue' }).click();
    await pages.host.getByText('“Back on air”').waitFor();
    await pages.cohost
      .locator('.question', { hasText: 'Asked during the restart?' })
      .getByRole('button', { name: /Flag/ })
      .click();
    await pages.host.locator('.host-question', { hasText: 'Asked during the restart?' }).waitFor();
    for (const role of Object.keys(pages) as CrewRole[]) await expectInSync(role);
    // Stream health for the tech and ops screenshots: a dip in bitrate with dropped frames.
    const t0 = Date.now() - 20_000;
    const samples = Array.from({ length: 20 }, (_, i) => ({
      ts: t0 + i * 1000,
      bitrateKbps: i > 14 ? 3100 + i * 10 : 4400 + ((i * 37) % 200),
      fps: i > 14 ? 27 : 30,
      droppedFrames: i > 14 ? i - 14 : 0,
    }));
    const health = await server.request('POST', `/v1/sessions/${sessionId}/ingest/health`, tokens.ingest, { samples });
    expect(health.status).toBe(200);
    await pages.tech.locator('[data-health="degraded"]').waitFor();
    // A few more questions, so the cohost's screenshot shows a queue.
    await server.request('POST', `/v1/sessions/${sessionId}/ingest/questions`, tokens.ingest, {
      questions: [
        { text: 'Does the set come in blue?', author: 'mara_k', externalId: 'yt-3' },
        { text: 'Can I put them in the microwave?', author: 'jules', externalId: 'yt-4' },
        { text: 'How long is shipping to Lyon?', author: 'pierre.d', externalId: 'yt-5' },
      ],
    });
    await pages.cohost.locator('.question', { hasText: 'How long is shipping to Lyon?' }).waitFor();
    for (const role of Object.keys(pages) as CrewRole[]) await finish(role);
  }, 90_000);
});

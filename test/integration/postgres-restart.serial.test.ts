import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { redisBackendForTests } from '../support/backends-under-test.js';
import { startCueroom, type Cueroom } from '../support/harness.js';
import { servicesRequired } from '../support/services.js';

/** Debian's cluster control, as CI starts Postgres (DEVELOPERS.md). */
function clusterControl(): ((action: 'start' | 'stop') => void) | null {
  if (!existsSync('/etc/postgresql') || process.getuid?.() !== 0) return null;
  const version = readdirSync('/etc/postgresql').sort().at(-1);
  if (!version) return null;
  const ready = () => {
    try {
      execFileSync('pg_isready', ['-h', '127.0.0.1', '-q']);
      return true;
    } catch {
      return false;
    }
  };
  return (action) => {
    // Starting a running cluster is an error for pg_ctlcluster; here it is simply done.
    if (action === 'start' && ready()) return;
    execFileSync('pg_ctlcluster', ['--skip-systemctl-redirect', version, 'main', action, ...(action === 'stop' ? ['-m', 'fast'] : [])], {
      stdio: 'ignore',
    });
  };
}

const control = clusterControl();
if (!control) {
  if (servicesRequired) throw new Error('REQUIRE_SERVICES=1 but Postgres cannot be stopped here (needs root and pg_ctlcluster)');
  console.warn('[cueroom tests] cannot stop and start Postgres here (needs root and pg_ctlcluster): skipping the outage test');
}
const redis = control ? await redisBackendForTests() : null;

describe.skipIf(!control || !redis)('Postgres stopped and restarted in the middle of a run', () => {
  let cr: Cueroom;
  beforeAll(async () => {
    cr = await startCueroom({ backends: redis!.create });
  });
  afterAll(async () => {
    control!('start');
    await cr?.close();
  });

  it('keeps acknowledging commands from Redis and loses no audit row', async () => {
    const id = await cr.createSession('Outage night');
    await cr.goLive(id);
    const ops = await cr.connect(await cr.invite(id, 'ops', 'Olga', 'olga'));
    await ops.first('snapshot');
    const acked: string[] = [];
    const send = async (count: number, label: string) => {
      for (let i = 0; i < count; i++) {
        const commandId = randomUUID();
        const reply = await ops.command({ kind: 'cue.send', to: ['host'], text: `${label} ${i}` }, commandId);
        expect(reply.type, JSON.stringify(reply)).toBe('ack');
        acked.push(commandId);
      }
    };

    await send(30, 'before');
    control!('stop');
    try {
      await expect.poll(async () => (await cr.request('GET', '/readyz')).status, { timeout: 20_000 }).toBe(503);
      // Redis holds everything accepted meanwhile: the crew works on.
      await send(60, 'during');
    } finally {
      control!('start');
    }
    await send(30, 'after');
    await expect.poll(async () => (await cr.request('GET', '/readyz')).status, { timeout: 30_000 }).toBe(200);

    const state = (await cr.backends.store.load(id))!;
    await expect
      .poll(
        async () => {
          const rows = await cr.backends.audit.read(id, { entryType: 'command', limit: 1000 });
          return acked.filter((commandId) => !rows.some((row) => row.commandId === commandId)).length;
        },
        { timeout: 60_000, interval: 500 },
      )
      .toBe(0);
    await expect.poll(() => cr.backends.audit.highestSeq(id), { timeout: 30_000 }).toBeGreaterThanOrEqual(state.seq);
    // Every event once, none missing, none twice.
    const events = await cr.backends.audit.read(id, { entryType: 'event', limit: 1000 });
    const seqs = events.map((row) => row.seq!).sort((a, b) => a - b);
    expect(seqs.slice(0, state.seq)).toEqual(Array.from({ length: state.seq }, (_, i) => i + 1));
    ops.close();
  });
});

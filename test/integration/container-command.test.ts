import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it, onTestFinished } from 'vitest';

// No Docker engine here: the image's start and health commands are run as the Dockerfile
// writes them, in this checkout, the way `docker run` and `docker stop` would use them.

const ROOT = path.resolve(import.meta.dirname, '../..');
const dockerfile = readFileSync(path.join(ROOT, 'Dockerfile'), 'utf8');

/** The exec-form (JSON array) CMDs of the Dockerfile, in order; continuation lines joined. */
function execCommands(): string[][] {
  const joined = dockerfile.replace(/\\\n\s*/g, ' ');
  return [...joined.matchAll(/^\s*(?:HEALTHCHECK\b.*?\s)?CMD\s+(\[.*\])\s*$/gm)].map(
    (match) => JSON.parse(match[1]!) as string[],
  );
}

describe('the Docker image commands', () => {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'cueroom-cmd-'));
  afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

  it('serves, answers the health check, and shuts down in order on SIGTERM sent to the process the image starts', async () => {
    const commands = execCommands();
    expect(commands.length, 'a HEALTHCHECK CMD and a CMD, both in exec form').toBe(2);
    const [health, start] = commands as [string[], string[]];
    const scripts = (
      JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { scripts: { start: string } }
    ).scripts;
    expect(start, 'the image starts the server as `npm start` does').toEqual(scripts.start.split(/\s+/));

    // `docker stop` signals PID 1 only: that must be the server itself, not a shell or
    // npm in front of it (neither passes SIGTERM on, so the server would be killed after
    // the grace period without closing sockets or flushing the audit log).
    const server = spawn(start[0]!, start.slice(1), {
      cwd: ROOT,
      env: {
        ...process.env,
        HOST: '127.0.0.1',
        PORT: '0',
        DATA_DIR: dataDir,
        REDIS_URL: '',
        DATABASE_URL: '',
        LOG_LEVEL: 'info',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    // A failed expectation must not leave the server running behind the test run.
    onTestFinished(() => {
      if (server.exitCode === null && server.signalCode === null) server.kill('SIGKILL');
    });
    let output = '';
    const exited = new Promise<number | null>((resolve) => server.once('exit', (code) => resolve(code)));
    const url = await new Promise<string>((resolve, reject) => {
      const onData = (chunk: Buffer) => {
        output += chunk.toString();
        const match = /on the air at (http:\/\/[^\s]+)/.exec(output);
        if (match) resolve(match[1]!);
      };
      server.stdout.on('data', onData);
      server.stderr.on('data', onData);
      void exited.then((code) => reject(new Error(`the server exited (${code}) before it was up:\n${output}`)));
    });

    const port = new URL(url).port;
    const probe = spawnSync(health[0]!, health.slice(1), { env: { ...process.env, PORT: port }, encoding: 'utf8' });
    expect(probe.status, `health check: ${probe.stderr}`).toBe(0);

    server.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(output).toMatch(/"signal":"SIGTERM".*"msg":"shutting down"/);
  }, 60_000);
});

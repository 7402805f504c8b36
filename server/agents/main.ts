import { createServer } from 'node:http';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { parsePushLine } from './http-push.js';
import { IngestClient, IngestRefused, type IngestTarget } from './ingest-client.js';
import { startRtmpPoller } from './nginx-rtmp.js';
import { startObsAgent } from './obs.js';

const USAGE = `Usage: npm run agent -- <source> [options]

Sources:
  nginx-rtmp   poll the nginx-rtmp stat page        --stat-url http://127.0.0.1:8080/stat --app live --stream show
  obs          OBS Studio over obs-websocket v5     --obs-url ws://127.0.0.1:4455 [--obs-password …]
  push         JSON samples, one per line, on stdin  [--listen 9400 to take POSTed lines over HTTP instead]

Common options (or environment):
  --url       Cueroom base URL          (CUEROOM_URL, default http://127.0.0.1:8080)
  --session   session id                (CUEROOM_SESSION)
  --token     ingest token              (CUEROOM_TOKEN)
  --interval  poll interval, ms         (default 1000)
`;

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    url: { type: 'string' },
    session: { type: 'string' },
    token: { type: 'string' },
    interval: { type: 'string', default: '1000' },
    'stat-url': { type: 'string', default: 'http://127.0.0.1:8080/stat' },
    app: { type: 'string', default: 'live' },
    stream: { type: 'string' },
    'obs-url': { type: 'string', default: 'ws://127.0.0.1:4455' },
    'obs-password': { type: 'string' },
    listen: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  },
});

function fail(message: string): never {
  process.stderr.write(`${message}\n\n${USAGE}`);
  process.exit(2);
}

const source = positionals[0];
if (values.help || !source) {
  process.stdout.write(USAGE);
  process.exit(source || values.help ? 0 : 2);
}
const target: IngestTarget = {
  url: values.url ?? process.env.CUEROOM_URL ?? 'http://127.0.0.1:8080',
  sessionId: values.session ?? process.env.CUEROOM_SESSION ?? fail('Missing --session (or CUEROOM_SESSION).'),
  token: values.token ?? process.env.CUEROOM_TOKEN ?? fail('Missing --token (or CUEROOM_TOKEN).'),
};
const interval = Number(values.interval);
if (!Number.isFinite(interval) || interval < 100) fail('--interval must be a number of milliseconds ≥ 100.');
const client = new IngestClient(target);
const log = (message: string) => process.stderr.write(`[agent ${source}] ${message}\n`);

async function post(samples: Parameters<IngestClient['post']>[0]): Promise<void> {
  try {
    if (!(await client.post(samples))) log(`Cueroom unreachable; ${client.pending} sample(s) kept for the next try`);
  } catch (error) {
    if (error instanceof IngestRefused && (error.status === 401 || error.status === 403 || error.status === 404)) {
      log(error.message);
      process.exit(1);
    }
    log((error as Error).message);
  }
}

const stop = () => process.exit(0);
process.on('SIGINT', stop);
process.on('SIGTERM', stop);

switch (source) {
  case 'nginx-rtmp': {
    const stream = values.stream ?? fail('nginx-rtmp needs --stream (the stream name ffmpeg or OBS publishes to).');
    startRtmpPoller({ statUrl: values['stat-url'], app: values.app, stream, intervalMs: interval, post, log });
    break;
  }
  case 'obs': {
    startObsAgent({
      url: values['obs-url'],
      password: values['obs-password'],
      intervalMs: interval,
      post,
      log,
    });
    break;
  }
  case 'push': {
    const take = async (line: string) => {
      if (!line.trim()) return;
      try {
        await post([parsePushLine(line, Date.now())]);
      } catch (error) {
        log((error as Error).message);
      }
    };
    if (values.listen) {
      const port = Number(values.listen);
      createServer((request, response) => {
        let body = '';
        request.setEncoding('utf8');
        request.on('data', (chunk: string) => {
          body += chunk;
          if (body.length > 64 * 1024) request.destroy();
        });
        request.on('end', () => {
          void Promise.all(body.split('\n').map(take)).then(() => response.writeHead(204).end());
        });
      }).listen(port, '127.0.0.1', () => log(`listening on http://127.0.0.1:${port}`));
    } else {
      const lines = createInterface({ input: process.stdin });
      for await (const line of lines) await take(line);
      process.exit(0);
    }
    break;
  }
  default:
    fail(`Unknown source '${source}'.`);
}

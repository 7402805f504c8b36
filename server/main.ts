import net from 'node:net';
import closeWithGrace from 'close-with-grace';
import { buildApp } from './app.js';
import { createEmbeddedBackends, type Backends } from './backends.js';
import { ConfigError, loadConfig, type Config } from './config.js';
import { DemoBroadcast } from './demo-broadcast.js';
import { cloneState } from './domain/index.js';
import { seedDemo } from './demo.js';
import { createLogger } from './logger.js';
import { resolveSecrets } from './secrets.js';

async function createBackends(config: Config, log: ReturnType<typeof createLogger>): Promise<Backends> {
  if (!config.redisUrl) return createEmbeddedBackends(config, log);
  const { createRedisBackends } = await import('./redis-backends.js');
  return createRedisBackends(config, log);
}

/** A port free on `host` now, for PORT=0: the URL, invite links and own origins need the real one before listening. */
function freePort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = net.createServer();
    probe.once('error', reject);
    probe.listen(0, host, () => {
      const { port } = probe.address() as net.AddressInfo;
      probe.close(() => resolve(port));
    });
  });
}

async function main(): Promise<void> {
  let config: Config;
  try {
    config = loadConfig();
    if (config.port === 0) config = loadConfig({ ...process.env, PORT: String(await freePort(config.host)) });
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`Cueroom cannot start, the configuration has problems:\n${error.message}\n`);
      process.exit(2);
    }
    throw error;
  }
  const log = createLogger(config.logLevel, config.instanceId);
  const secrets = await resolveSecrets(config.dataDir, config);
  const backends = await createBackends(config, log);
  const publicUrl =
    config.publicUrl ?? `http://${config.host === '0.0.0.0' ? 'localhost' : config.host}:${config.port}`;
  const app = await buildApp({
    config: { ...config, adminToken: secrets.adminToken, tokenSecret: secrets.tokenSecret, publicUrl },
    store: backends.store,
    feed: backends.feed,
    audit: backends.audit,
    auditBacklog: backends.auditBacklog,
    ping: backends.ping,
    logger: log,
  });

  let demoDriver: DemoBroadcast | null = null;
  closeWithGrace({ delay: config.shutdownGraceMs, logger: log }, async ({ signal, err }) => {
    if (err) log.error({ err }, 'shutting down after an error');
    else log.info({ signal }, 'shutting down');
    demoDriver?.stop();
    // Order matters: stop accepting and close consoles (they reconnect elsewhere), then the
    // HTTP server, then readers, the audit flush, Redis and the pool (inside backends.close).
    await app.gateway.drain();
    await app.close();
    await backends.close();
  });

  await app.listen({ port: config.port, host: config.host });
  if (backends.kind === 'embedded') await closeStalePresence(app, backends);

  const lines = [
    '',
    `  Cueroom is on the air at ${publicUrl}   (${backends.kind === 'embedded' ? 'embedded: in-process store, PGlite audit log in ' + config.dataDir : 'Redis + Postgres'})`,
    `  Admin token: ${secrets.adminToken}${secrets.generatedAdminToken ? `   (generated; kept in ${config.dataDir}/secrets.json, or set ADMIN_TOKEN)` : ''}`,
    `  REST API docs: ${publicUrl}/documentation    Metrics: ${publicUrl}/metrics`,
  ];
  if (process.argv.includes('--demo')) {
    const demo = await seedDemo(app, publicUrl);
    lines.push('', `  Demo session ${demo.sessionId} is in preflight. Open one link per role:`);
    for (const [role, link] of Object.entries(demo.links))
      lines.push(`    ${role.padEnd(8)} ${role === 'ingest' ? `token: ${link}` : link}`);
    if (!process.argv.includes('--no-drive')) {
      // The show runs itself through the public API (server/demo-broadcast.ts); --no-drive to drive it by hand.
      const host = config.host === '0.0.0.0' || config.host === '::' ? '127.0.0.1' : config.host;
      const baseUrl = `http://${host}:${(app.server.address() as { port: number }).port}`;
      demoDriver = new DemoBroadcast({
        baseUrl,
        adminToken: secrets.adminToken,
        sessionId: demo.sessionId,
        onError: (error) => log.warn({ err: error }, 'demo broadcast step failed'),
      });
      await demoDriver.start();
      lines.push(
        '',
        '  The show goes live in a few seconds and runs itself (npm run demo -- --no-drive to drive it by hand).',
      );
    }
  }
  process.stdout.write(lines.join('\n') + '\n\n');
}

/**
 * After a restart of an embedded Cueroom, nobody is connected any more: record every
 * console the log still shows as open as closed, so presence tells the truth.
 */
async function closeStalePresence(app: Awaited<ReturnType<typeof buildApp>>, backends: Backends): Promise<void> {
  for (const summary of await backends.store.list()) {
    const loaded = await backends.store.load(summary.id);
    // Copied: closing each console folds into the store's state while this loop walks it.
    const state = loaded && cloneState(loaded);
    for (const entry of Object.values(state?.presence ?? {})) {
      for (const consoleId of entry.consoles) {
        await app.commands.executeSystem(summary.id, `presence:close:${consoleId}`, {
          kind: 'presence.close',
          personId: entry.personId,
          consoleId,
        });
      }
    }
  }
}

main().catch((error: unknown) => {
  process.stderr.write(
    `Cueroom failed to start: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
  );
  process.exit(1);
});

import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/**
 * Prometheus metrics of one instance. A registry per app (not the global one), so two apps
 * in one test process don't collide.
 */
export class Metrics {
  readonly registry = new Registry();

  readonly connections = new Gauge({
    name: 'cueroom_connections',
    help: 'Open console connections, by role',
    labelNames: ['role'] as const,
    registers: [this.registry],
  });

  readonly commands = new Counter({
    name: 'cueroom_commands_total',
    help: 'Commands handled, by kind and outcome (ok, duplicate, or the error code)',
    labelNames: ['kind', 'outcome'] as const,
    registers: [this.registry],
  });

  readonly fanoutLatency = new Histogram({
    name: 'cueroom_fanout_latency_seconds',
    help: 'From an event being accepted to its frame being written to a console socket',
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [this.registry],
  });

  readonly deliveries = new Counter({
    name: 'cueroom_event_deliveries_total',
    help: 'Events written to console sockets (one per event per console)',
    registers: [this.registry],
  });

  readonly slowConsoles = new Counter({
    name: 'cueroom_slow_console_closes_total',
    help: 'Consoles closed because they could not keep up',
    registers: [this.registry],
  });

  constructor(auditBacklog: () => number | Promise<number>) {
    collectDefaultMetrics({ register: this.registry, prefix: 'cueroom_' });
    new Gauge({
      name: 'cueroom_audit_backlog',
      help: 'Audit records accepted but not yet confirmed in the audit database',
      registers: [this.registry],
      async collect() {
        this.set(await auditBacklog());
      },
    });
  }
}

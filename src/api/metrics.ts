import client from 'prom-client';

import type { Store } from '../store/index.js';

/**
 * One registry per service instance (not prom-client's global one), so tests can run several
 * services in one process. Other parts register their own metrics on `registry`.
 */
export interface Metrics {
  readonly registry: client.Registry;
  readonly httpRequests: client.Counter<'method' | 'route' | 'status'>;
  readonly httpDuration: client.Histogram<'method' | 'route'>;
  readonly storeTxDuration: client.Histogram<'kind'>;
}

export function createMetrics(store: Store): Metrics {
  const registry = new client.Registry();
  client.collectDefaultMetrics({ register: registry, prefix: 'passerelle_' });
  const httpRequests = new client.Counter({
    name: 'passerelle_http_requests_total',
    help: 'HTTP requests by route pattern and status',
    labelNames: ['method', 'route', 'status'] as const,
    registers: [registry],
  });
  const httpDuration = new client.Histogram({
    name: 'passerelle_http_request_duration_seconds',
    help: 'HTTP request duration by route pattern',
    labelNames: ['method', 'route'] as const,
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [registry],
  });
  const storeTxDuration = new client.Histogram({
    name: 'passerelle_store_ping_seconds',
    help: 'Store round trip measured at each scrape',
    labelNames: ['kind'] as const,
    buckets: [0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1],
    registers: [registry],
  });
  new client.Gauge({
    name: 'passerelle_store_up',
    help: '1 when the store answers',
    registers: [registry],
    async collect() {
      const end = storeTxDuration.startTimer({ kind: store.dialect });
      try {
        await store.ping();
        this.set(1);
      } catch {
        this.set(0);
      } finally {
        end();
      }
    },
  });
  new client.Gauge({
    name: 'passerelle_outbox_items',
    help: 'Outbox items by status',
    labelNames: ['status'] as const,
    registers: [registry],
    async collect() {
      try {
        const depth = await store.outbox.depth();
        for (const [status, n] of Object.entries(depth)) this.set({ status }, n);
      } catch {
        // The store being down is reported by passerelle_store_up.
      }
    },
  });
  new client.Gauge({
    name: 'passerelle_dead_letters_open',
    help: 'Dead letters waiting for an operator',
    registers: [registry],
    async collect() {
      try {
        this.set(await store.deadLetters.count({ status: 'open' }));
      } catch {
        // See passerelle_store_up.
      }
    },
  });
  return { registry, httpRequests, httpDuration, storeTxDuration };
}

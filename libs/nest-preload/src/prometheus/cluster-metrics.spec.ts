import { Counter, Gauge, Registry } from 'prom-client';
import type { PreloadService } from '../preload.service';
import { METRICS_COLLECT, METRICS_REPORT, METRICS_REQUEST, METRICS_RESULT } from '../ipc/messages';
import { dispatch } from '../ipc/dispatch';
import type { PrimaryLink } from '../ipc/primary-link';
import { ClusterMetrics, type ClusterMetricsOptions } from './cluster-metrics';

const status = {
  pid: 1,
  state: 'running',
  target: 2,
  uptimeMs: 1_000,
  primaryPssMb: 10,
  workers: [],
  reload: null,
  restartsByReason: { killed: 1 },
  reloads: 0,
  preload: null,
};
/** A report as a worker sends it and the primary relays it: the registry's JSON as one string. */
const counter = (value: number) =>
  JSON.stringify([{ name: 'jobs_total', help: 'jobs', type: 'counter', aggregator: 'sum', values: [{ value, labels: {} }] }]);

/** A ClusterMetrics on a fake channel whose "primary" answers each request with `answer` (or never). */
function inCluster(options: ClusterMetricsOptions, answer: ((id: number) => object) | null) {
  const sent: Array<{ type: string; id: number }> = [];
  const listeners = new Set<(message: unknown) => void>();
  const deliver = (message: unknown) =>
    setImmediate(() => {
      for (const l of listeners) l(message);
    });
  const link: PrimaryLink = {
    connected: true,
    send: async (message) => {
      const m = message as { type: string; id: number };
      sent.push(m);
      if (m.type === METRICS_REQUEST && answer) deliver(answer(m.id));
    },
    listen: (table) => {
      const l = (message: unknown) => void dispatch(message, table);
      listeners.add(l);
      return () => void listeners.delete(l);
    },
  };
  const metrics = new ClusterMetrics({ primaryLink: () => link } as unknown as PreloadService, options);
  metrics.onModuleInit();
  return { metrics, sent, deliver, restore: () => void metrics.onModuleDestroy() };
}

describe('ClusterMetrics', () => {
  it('outside a cluster: the local registry as it is', async () => {
    const registry = new Registry();
    new Counter({ name: 'jobs_total', help: 'jobs', registers: [registry] }).inc(3);
    const metrics = new ClusterMetrics({ primaryLink: () => null } as unknown as PreloadService, { registry });
    expect((await metrics.scrape()).body).toContain('jobs_total 3');
  });

  it('sums every process and the retired counters; with perWorker, one series per process instead', async () => {
    const result = (id: number) => ({
      type: METRICS_RESULT,
      id,
      reports: [
        { index: 0, pid: 10, fresh: true, metrics: counter(2) },
        { index: 1, pid: 11, fresh: false, metrics: counter(5) },
      ],
      retired: counter(4),
      status,
    });
    for (const [perWorker, expected] of [
      [false, ['jobs_total 11']],
      [true, ['jobs_total{worker="0"} 2', 'jobs_total{worker="1"} 5', 'jobs_total{worker="gone"} 4']],
    ] as const) {
      const t = inCluster({ registry: new Registry(), perWorker }, result);
      try {
        const { body } = await t.metrics.scrape();
        for (const line of expected) expect(body).toContain(line);
        expect(body).toContain('nest_preload_scrape_processes{freshness="stale"} 1');
        expect(body).toContain('nest_preload_restarts_total{reason="killed"} 1');
        expect(body).toContain('nest_preload_scrape_cluster_ok 1');
      } finally {
        t.restore();
      }
    }
  });

  it('answers the primary’s collection with its registry’s JSON', async () => {
    const registry = new Registry();
    new Counter({ name: 'jobs_total', help: 'jobs', registers: [registry] }).inc(7);
    const t = inCluster({ registry }, null);
    try {
      t.deliver({ type: METRICS_COLLECT, id: 42 });
      await new Promise((r) => setTimeout(r, 20));
      const report = t.sent.find((m) => m.type === METRICS_REPORT) as unknown as { id: number; metrics: string };
      expect(report.id).toBe(42);
      expect(typeof report.metrics).toBe('string');
      expect(JSON.parse(report.metrics)[0]).toMatchObject({ name: 'jobs_total', values: [{ value: 7 }] });
    } finally {
      t.restore();
    }
  });

  it('the primary does not answer: this process’s own metrics and nest_preload_scrape_cluster_ok 0, in the registry’s content type (OpenMetrics too)', async () => {
    const registry = new Registry<typeof Registry.OPENMETRICS_CONTENT_TYPE>();
    registry.setContentType(Registry.OPENMETRICS_CONTENT_TYPE);
    new Counter({ name: 'jobs', help: 'jobs', registers: [registry] }).inc(1);
    const t = inCluster({ registry, timeoutMs: 10 }, null);
    try {
      const { body, contentType } = await t.metrics.scrape();
      expect(contentType).toBe(Registry.OPENMETRICS_CONTENT_TYPE);
      expect(body).toContain('jobs_total 1');
      expect(body).toContain('nest_preload_scrape_cluster_ok 0');
    } finally {
      t.restore();
    }
  }, 10_000);

  it('as its app closes (a drained worker on its way out), it sends its last counts unasked, so the primary carries them; never held by a stuck channel', async () => {
    const registry = new Registry();
    const jobs = new Counter({ name: 'jobs_total', help: 'jobs', registers: [registry] });
    jobs.inc(3);
    const t = inCluster({ registry }, null);
    jobs.inc(2);
    await t.metrics.onModuleDestroy();
    const final = t.sent.filter((m) => m.type === METRICS_REPORT) as unknown as Array<{ id: number; metrics: string }>;
    expect(final.map((m) => [m.id, JSON.parse(m.metrics)[0].values[0].value])).toEqual([[0, 5]]);
    // Outside a cluster there is no primary to tell (and no link to tell it through).
    await expect(
      new ClusterMetrics({ primaryLink: () => null } as unknown as PreloadService, { registry }).onModuleDestroy(),
    ).resolves.toBeUndefined();
    // A send that never completes, or a collect() that never does, does not hold the exit past its bound.
    const stuck: PrimaryLink = { connected: true, send: () => new Promise<void>(() => undefined), listen: () => () => undefined };
    const hung = new Registry();
    new Gauge({
      name: 'waits_forever',
      help: 'its collect never settles',
      registers: [hung],
      collect: () => new Promise<void>(() => undefined),
    });
    for (const r of [registry, hung]) {
      const started = Date.now();
      await new ClusterMetrics({ primaryLink: () => stuck } as unknown as PreloadService, { registry: r }).onModuleDestroy();
      expect(Date.now() - started).toBeLessThan(3_000);
    }
  });

  it('refuses a timeoutMs out of range, saying what is expected', () => {
    expect(() => new ClusterMetrics({ primaryLink: () => null } as unknown as PreloadService, { timeoutMs: 5 })).toThrow(
      'ClusterMetricsModule: timeoutMs=5 is invalid: use a whole number of milliseconds from 10 to 30000.',
    );
  });
});

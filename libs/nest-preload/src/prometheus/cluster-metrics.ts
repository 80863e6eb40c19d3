import { type DynamicModule, Inject, Injectable, Module, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import {
  AggregatorRegistry,
  Counter,
  Gauge,
  type MetricObjectWithValues,
  type MetricValue,
  Registry,
  type RegistryContentType,
  register as globalRegistry,
} from 'prom-client';
import type { ClusterStatus, WorkerStatus } from '../control/control.protocol';
import { PreloadService } from '../preload.service';
import {
  METRICS_COLLECT,
  METRICS_REPORT,
  METRICS_REQUEST,
  METRICS_RESULT,
  type MetricsReportMessage,
  type MetricsRequestMessage,
  type MetricsResultMessage,
} from '../ipc/messages';
import type { PrimaryLink } from '../ipc/primary-link';

/** Options of {@link ClusterMetricsModule}. */
export interface ClusterMetricsOptions {
  /** The registry your app's metrics are in (default: prom-client's global `register`). */
  registry?: Registry<RegistryContentType>;
  /** How long a scrape waits for every process's answer; one that is late is counted stale (default 1000). */
  timeoutMs?: number;
  /** `true`: each process's series keep a `worker` label (its index; `gone` for exited ones) instead of being summed. */
  perWorker?: boolean;
}

const CLUSTER_METRICS_OPTIONS = Symbol('CLUSTER_METRICS_OPTIONS');
/** The id of the report a process sends as its app closes (collections are numbered from 1). */
const FINAL_REPORT = 0;

type MetricJson = MetricObjectWithValues<MetricValue<string>>;

/** A report as the primary relayed it; one that is not a JSON list counts as empty. */
function parseMetrics(json: string): MetricJson[] {
  try {
    const metrics: unknown = JSON.parse(json);
    return Array.isArray(metrics) ? (metrics as MetricJson[]) : [];
  } catch {
    return [];
  }
}

/** Every state a worker line of `status` can have. */
const WORKER_STATES: ReadonlyArray<WorkerStatus['state']> = ['preloading', 'starting', 'waiting', 'ready', 'replacing', 'draining'];

/** A scrape's answer: what to send back, with its content type. */
export interface ScrapeResult {
  contentType: string;
  body: string;
}

/**
 * The whole cluster's metrics, answered by whichever process a scrape lands on: every serving
 * process's registry, collected over the cluster's IPC (the primary relays and never loads
 * prom-client), aggregated as prom-client defines it, with the counters of exited processes carried
 * so that no counter goes down, and the cluster itself (`nest_preload_*`, the values
 * `nest-preload status` shows). Outside a cluster, the local registry alone.
 */
@Injectable()
export class ClusterMetrics implements OnModuleInit, OnModuleDestroy {
  private readonly registry: Registry<RegistryContentType>;
  private readonly timeoutMs: number;
  private seq = 0;
  private readonly pending = new Map<number, (result: MetricsResultMessage | null) => void>();

  constructor(
    private readonly preload: PreloadService,
    @Inject(CLUSTER_METRICS_OPTIONS) private readonly options: ClusterMetricsOptions,
  ) {
    this.registry = options.registry ?? globalRegistry;
    this.timeoutMs = options.timeoutMs ?? 1_000;
    if (!Number.isInteger(this.timeoutMs) || this.timeoutMs < 10 || this.timeoutMs > 30_000) {
      throw new TypeError(
        `ClusterMetricsModule: timeoutMs=${String(options.timeoutMs)} is invalid: use a whole number of milliseconds from 10 to 30000.`,
      );
    }
  }

  /** The link to the primary in a serving child of a cluster, else `null` (a spec substitutes a fake). */
  protected channel(): PrimaryLink | null {
    return this.preload.primaryLink();
  }

  private stopListening: (() => void) | null = null;

  onModuleInit(): void {
    this.stopListening =
      this.channel()?.listen({
        [METRICS_COLLECT]: (message) =>
          void this.registry.getMetricsAsJSON().then(
            (metrics) => this.report(message.id, metrics),
            () => undefined,
          ),
        [METRICS_RESULT]: (message) => this.pending.get(message.id)?.(message),
      }) ?? null;
  }

  private report(id: number, metrics: unknown): Promise<void> {
    const message: MetricsReportMessage = { type: METRICS_REPORT, id, metrics: JSON.stringify(metrics) };
    return this.channel()?.send(message) ?? Promise.resolve();
  }

  /**
   * The app closes (a drained worker, recycled or replaced, on its way out): what this process
   * counted since the last scrape that reached it goes to the primary, which carries it once the
   * process is gone — so a rolling reload loses no count. Bounded: a primary that does not take it
   * within a second does not hold the exit.
   */
  async onModuleDestroy(): Promise<void> {
    this.stopListening?.();
    this.stopListening = null;
    for (const resolve of this.pending.values()) resolve(null);
    if (!this.channel()) return;
    const report = async () => this.report(FINAL_REPORT, await this.registry.getMetricsAsJSON());
    let timer: NodeJS.Timeout | undefined;
    // Collecting is bounded too: a collect() that waits on something already closed must not hold the exit.
    await Promise.race([report().catch(() => undefined), new Promise<void>((resolve) => (timer = setTimeout(resolve, 1_000)))]);
    clearTimeout(timer);
  }

  /** The cluster's metrics in Prometheus's text format (or OpenMetrics, as the registry is set). */
  async scrape(): Promise<ScrapeResult> {
    const link = this.channel();
    if (!link) return { contentType: this.registry.contentType, body: await this.registry.metrics() };
    const result = await this.ask(link);
    if (!result) {
      // The primary did not answer: this process's own metrics, and a gauge that says so.
      const own = registryOf(this.registry.contentType);
      new Gauge({
        name: 'nest_preload_scrape_cluster_ok',
        help: '1 when this scrape holds the whole cluster, 0 when only the answering process (the primary did not answer).',
        registers: [own],
      }).set(0);
      return this.render(Registry.merge([this.registry, own] as Registry[]));
    }
    const label = (json: string, worker: string) => {
      const metrics = parseMetrics(json);
      return this.options.perWorker ? withLabel(metrics, worker) : metrics;
    };
    const sets = [...result.reports.map((r) => label(r.metrics, String(r.index))), label(result.retired, 'gone')];
    // In the content type of your registry (Prometheus text, or OpenMetrics if you set it).
    const cluster = AggregatorRegistry.aggregate<RegistryContentType>(sets);
    cluster.setContentType(this.registry.contentType);
    return this.render(Registry.merge([cluster as Registry, clusterRegistry(result, this.registry.contentType) as Registry]));
  }

  private async render(registry: Registry<RegistryContentType>): Promise<ScrapeResult> {
    return { contentType: registry.contentType, body: await registry.metrics() };
  }

  private ask(link: PrimaryLink): Promise<MetricsResultMessage | null> {
    const id = ++this.seq;
    return new Promise((resolve) => {
      const timer = setTimeout(() => done(null), this.timeoutMs + 2_000);
      timer.unref();
      const done = (result: MetricsResultMessage | null) => {
        clearTimeout(timer);
        this.pending.delete(id);
        resolve(result);
      };
      this.pending.set(id, done);
      const request: MetricsRequestMessage = { type: METRICS_REQUEST, id, timeoutMs: this.timeoutMs };
      void link.send(request);
    });
  }
}

/** A new registry in `contentType` (merged registries must agree on it). */
function registryOf(contentType: RegistryContentType): Registry<RegistryContentType> {
  const r = new Registry<RegistryContentType>();
  r.setContentType(contentType);
  return r;
}

function withLabel(metrics: MetricJson[], worker: string): MetricJson[] {
  return metrics.map((m) => ({ ...m, values: m.values.map((v) => ({ ...v, labels: { ...v.labels, worker } })) }));
}

/** The cluster as the primary sees it, as gauges and counters (the same values as `nest-preload status`). */
function clusterRegistry(result: MetricsResultMessage, contentType: RegistryContentType): Registry<RegistryContentType> {
  const r = registryOf(contentType);
  const status: ClusterStatus = result.status;
  const gauge = (name: string, help: string, labelNames: string[] = []) => new Gauge({ name, help, labelNames, registers: [r] });
  gauge(
    'nest_preload_scrape_cluster_ok',
    '1 when this scrape holds the whole cluster, 0 when only the answering process (the primary did not answer).',
  ).set(1);
  const processes = gauge(
    'nest_preload_scrape_processes',
    'Serving processes in this scrape: fresh answered in time, stale did not (their last report is used).',
    ['freshness'],
  );
  processes.set({ freshness: 'fresh' }, result.reports.filter((x) => x.fresh).length);
  processes.set({ freshness: 'stale' }, result.reports.filter((x) => !x.fresh).length);
  gauge('nest_preload_workers_target', 'Workers the cluster is set to run.').set(status.target);
  const byState = gauge('nest_preload_workers', 'Serving processes by state.', ['state']);
  for (const state of WORKER_STATES) byState.set({ state }, status.workers.filter((w) => w.state === state).length);
  const restarts = new Counter({
    name: 'nest_preload_restarts_total',
    help: 'Workers restarted since the cluster started, by why the one replaced ended.',
    labelNames: ['reason'],
    registers: [r],
  });
  for (const [reason, n] of Object.entries(status.restartsByReason ?? {})) restarts.inc({ reason }, n);
  new Counter({ name: 'nest_preload_reloads_total', help: 'Rolling reloads started since the cluster started.', registers: [r] }).inc(
    status.reloads ?? 0,
  );
  const pss = gauge('nest_preload_process_pss_bytes', "Each process's proportional set size (what it costs the host), read from /proc.", [
    'role',
    'index',
  ]);
  if (status.primaryPssMb !== null) pss.set({ role: 'primary', index: '' }, status.primaryPssMb * 2 ** 20);
  for (const w of status.workers)
    if (w.pssMb !== null) pss.set({ role: w.index < 0 ? 'preloader' : 'worker', index: String(w.index) }, w.pssMb * 2 ** 20);
  gauge('nest_preload_uptime_seconds', "The primary's uptime.").set(status.uptimeMs / 1_000);
  const start = gauge('nest_preload_worker_start_seconds', 'Each serving process, from its fork until it was ready.', ['index']);
  const wait = gauge(
    'nest_preload_worker_handover_wait_seconds',
    "Of that, how long it waited for the preload's hand-over after building its app (pipelined start).",
    ['index'],
  );
  const lockWait = gauge(
    'nest_preload_worker_lock_wait_seconds',
    'Of its start, how long it waited for start-up locks (file or database), from its timeline.',
    ['index'],
  );
  for (const w of status.workers) {
    if (w.startMs !== null && w.startMs !== undefined) start.set({ index: String(w.index) }, w.startMs / 1_000);
    if (w.handoverWaitMs !== null && w.handoverWaitMs !== undefined) wait.set({ index: String(w.index) }, w.handoverWaitMs / 1_000);
    if (w.lockWaitMs !== null && w.lockWaitMs !== undefined) lockWait.set({ index: String(w.index) }, w.lockWaitMs / 1_000);
  }
  if (status.preload) {
    if (status.preload.generation)
      gauge('nest_preload_generation_info', 'The preload generation the workers start from.', ['generation']).set(
        { generation: status.preload.generation },
        1,
      );
    if (status.preload.durationMs !== null)
      gauge('nest_preload_preload_duration_seconds', 'How long the preload of the current generation took.').set(
        status.preload.durationMs / 1_000,
      );
    const duration = gauge('nest_preload_step_duration_seconds', 'Each step as the preloader ran it.', ['step', 'status']);
    const redone = gauge(
      'nest_preload_step_redone_workers',
      'For a step the preloader did not complete: ready workers that redid it, by how it ended.',
      ['step', 'outcome'],
    );
    for (const step of status.preload.steps) {
      duration.set({ step: step.name, status: step.status }, (step.durationMs ?? 0) / 1_000);
      if (step.workers) {
        redone.set({ step: step.name, outcome: 'complete' }, step.workers.complete);
        redone.set({ step: step.name, outcome: 'failed' }, step.workers.ran - step.workers.complete);
      }
    }
  }
  return r;
}

/**
 * Mounts {@link ClusterMetrics}; serve its `scrape()` from a route of your app (see the README):
 * `@Get('metrics') async metrics(@Res() res) { const m = await this.metrics.scrape(); res.type(m.contentType).send(m.body); }`.
 */
@Module({})
export class ClusterMetricsModule {
  static forRoot(options: ClusterMetricsOptions = {}): DynamicModule {
    return {
      module: ClusterMetricsModule,
      providers: [{ provide: CLUSTER_METRICS_OPTIONS, useValue: options }, ClusterMetrics],
      exports: [ClusterMetrics],
    };
  }
}

/**
 * The counters of processes that are gone, kept by the primary so that a cluster-wide counter never
 * goes down when a worker is recycled, replaced or crashes. Plain JSON in prom-client's
 * `getMetricsAsJSON()` shape: the primary never loads prom-client.
 */

/** One metric as `registry.getMetricsAsJSON()` gives it (the fields used here). */
export interface MetricJson {
  name: string;
  help: string;
  type: string;
  aggregator?: string;
  values: Array<{ value: number; labels?: Record<string, string | number>; metricName?: string }>;
}

/** Kinds whose every series only grows while a process lives: a histogram's buckets, sum and count too. */
const MONOTONIC = new Set(['counter', 'histogram']);

const seriesKey = (v: MetricJson['values'][number]) =>
  `${v.metricName ?? ''}|${JSON.stringify(Object.entries(v.labels ?? {}).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))}`;

/**
 * Adds the monotonic series of `gone` (a process's last report) to `carried`, series by series;
 * gauges are dropped (a dead process's gauge means nothing). Malformed entries are skipped.
 */
export function carryCounters(carried: MetricJson[], gone: unknown[]): MetricJson[] {
  const byName = new Map(carried.map((m) => [m.name, { ...m, values: m.values.map((v) => ({ ...v })) }]));
  for (const raw of gone) {
    const metric = raw as MetricJson;
    if (!metric || typeof metric.name !== 'string' || !MONOTONIC.has(metric.type) || !Array.isArray(metric.values)) continue;
    // Only series the cluster sums: a counter aggregated with `first` or `omit` has no cluster total to keep.
    if ((metric.aggregator ?? 'sum') !== 'sum') continue;
    let into = byName.get(metric.name);
    if (!into)
      byName.set(
        metric.name,
        (into = { name: metric.name, help: String(metric.help ?? ''), type: metric.type, aggregator: 'sum', values: [] }),
      );
    if (into.type !== metric.type) continue;
    const index = new Map(into.values.map((v, i) => [seriesKey(v), i]));
    for (const v of metric.values) {
      if (!v || typeof v.value !== 'number' || !Number.isFinite(v.value)) continue;
      const at = index.get(seriesKey(v));
      if (at === undefined) {
        index.set(seriesKey(v), into.values.length);
        into.values.push({ value: v.value, labels: { ...(v.labels ?? {}) }, ...(v.metricName ? { metricName: v.metricName } : {}) });
      } else into.values[at].value += v.value;
    }
  }
  return [...byName.values()];
}

/** `@lf/nest-preload/prometheus`: the whole cluster's metrics from any worker (needs `prom-client`). */
export { ClusterMetrics, ClusterMetricsModule, type ClusterMetricsOptions, type ScrapeResult } from './prometheus/cluster-metrics';

import { ClusterMetrics } from '@lf/nest-preload/prometheus';
import { Controller, Get, Injectable, type NestMiddleware, Res } from '@nestjs/common';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { collectDefaultMetrics, Counter, register } from 'prom-client';

// The app's own metrics, in prom-client's global registry as most apps have them: Node's defaults
// and a request counter. ClusterMetrics serves them summed over every process of the cluster.
collectDefaultMetrics();
const requests = new Counter({
  name: 'http_requests_total',
  help: 'HTTP requests answered, by method, route and status.',
  labelNames: ['method', 'route', 'status'],
  registers: [register],
});

/** Counts each answered request once it finished, by its route pattern. */
@Injectable()
export class RequestCounter implements NestMiddleware {
  use(req: IncomingMessage & { route?: { path: unknown }; baseUrl?: string }, res: ServerResponse, next: () => void): void {
    res.on('finish', () =>
      requests.inc({
        method: req.method ?? '',
        route: req.route ? `${req.baseUrl ?? ''}${String(req.route.path)}` : 'unmatched',
        status: String(res.statusCode),
      }),
    );
    next();
  }
}

@Controller()
export class MetricsController {
  constructor(private readonly metrics: ClusterMetrics) {}

  /** The whole cluster's metrics, whichever worker the scrape lands on. */
  @Get('metrics')
  async scrape(@Res() res: ServerResponse): Promise<void> {
    const { contentType, body } = await this.metrics.scrape();
    res.setHeader('content-type', contentType);
    res.end(body);
  }
}

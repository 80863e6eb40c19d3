import { PreloadHealthIndicator } from '@lf/nest-preload/terminus';
import { Controller, Get } from '@nestjs/common';
import { HealthCheck, HealthCheckService } from '@nestjs/terminus';

@Controller('health')
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly preload: PreloadHealthIndicator,
  ) {}

  /** 200 when this process is ready and no critical step is missing; 503 otherwise. */
  @Get('preload')
  @HealthCheck()
  check() {
    return this.health.check([() => this.preload.isHealthy('preload')]);
  }
}

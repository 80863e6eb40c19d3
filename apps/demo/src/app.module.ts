import 'reflect-metadata';
import { PreloadModule, preloadRole } from '@lf/nest-preload';
import { PreloadHealthModule } from '@lf/nest-preload/terminus';
import { type DynamicModule, type MiddlewareConsumer, Module, type NestModule } from '@nestjs/common';
import { ClusterMetricsModule } from '@lf/nest-preload/prometheus';
import { getDataSourceToken, TypeOrmModule } from '@nestjs/typeorm';
import { typeOrmAdvisoryLock } from '@lf/nest-preload/typeorm';
import type { DataSource } from 'typeorm';
import { join } from 'node:path';
import { type DemoConfig, readDemoConfig } from './config';
import { dataSourceOptions } from './database/data-source.options';
import { ComponentCatalog } from './components/component-catalog';
import { Flow } from './database/flow.entity';
import { StepRun } from './database/step-run.entity';
import { User } from './database/user.entity';
import { Variable } from './database/variable.entity';
import { DEMO_CACHE, DEMO_CONFIG } from './demo.tokens';
import { ComponentsController } from './http/components.controller';
import { FlowsController } from './http/flows.controller';
import { HealthController } from './http/health.controller';
import { MetricsController, RequestCounter } from './http/metrics.controller';
import { TestHooksController } from './http/test-hooks.controller';
import { createDemoCache } from './startup/demo-cache';
import { StartupSteps } from './startup/startup.steps';
import { SuperuserService } from './startup/superuser.service';

/** The demo app; `AppModule.forConfig()` builds it for one configuration. */
@Module({})
export class AppModule implements NestModule {
  configure(consumer: MiddlewareConsumer): void {
    consumer.apply(RequestCounter).forRoutes('{*splat}');
  }

  static forConfig(config: DemoConfig = readDemoConfig()): DynamicModule {
    const role = preloadRole();
    return {
      module: AppModule,
      imports: [
        PreloadModule.forRootAsync({
          inject: [getDataSourceToken()],
          // On PostgreSQL, database steps run under an advisory lock, which also holds across hosts.
          useFactory: (dataSource: DataSource) => ({
            lockDir: join(config.dataDir, 'locks'),
            healthDetails: config.healthDetails,
            lockTimeoutMs: config.lockTimeoutMs,
            artifactCacheBytes: config.artifactCacheBytes,
            // Unset unless MULTI_HOST: on a multi-instance platform the library then warns about SQLite's file lock.
            hosts: config.multiHost ? 'multiple' : undefined,
            databaseLock: config.databaseUrl ? typeOrmAdvisoryLock(dataSource, { namespace: 'langflow-demo' }) : null,
          }),
        }),
        TypeOrmModule.forRoot({ ...dataSourceOptions(config, role), retryAttempts: config.dbRetryAttempts, retryDelay: 1_000 }),
        TypeOrmModule.forFeature([User, StepRun, Flow, Variable]),
        PreloadHealthModule,
        ClusterMetricsModule.forRoot(),
      ],
      controllers: [
        HealthController,
        MetricsController,
        ComponentsController,
        FlowsController,
        ...(config.testHooks ? [TestHooksController] : []),
      ],
      providers: [
        { provide: DEMO_CONFIG, useValue: config },
        { provide: DEMO_CACHE, useFactory: () => createDemoCache(config, role) },
        SuperuserService,
        ComponentCatalog,
        StartupSteps,
      ],
    };
  }
}

import 'reflect-metadata';
import { PreloadModule } from '@lf/nest-preload';
import { PreloadHealthModule } from '@lf/nest-preload/terminus';
import { typeOrmAdvisoryLock } from '@lf/nest-preload/typeorm';
import { type DynamicModule, Module } from '@nestjs/common';
import { getDataSourceToken, TypeOrmModule } from '@nestjs/typeorm';
import { join } from 'node:path';
import type { DataSource } from 'typeorm';
import { FEATURES } from './app.module.features';
import { schemaMigration } from './schema.migration';
import { StartupSteps } from './startup.steps';

export interface TypicalConfig {
  dataDir: string;
  databaseUrl: string | null;
  /** false: no start-up work at all (the benchmark's floor). */
  steps: boolean;
}

/** The root module: 24 feature modules on one TypeORM data source, preload steps, health. */
@Module({})
export class AppModule {
  static forConfig(config: TypicalConfig): DynamicModule {
    const entities = FEATURES.map((f) => f.entity);
    const db = config.databaseUrl
      ? ({ type: 'postgres', url: config.databaseUrl, extra: { max: 4 } } as const)
      : ({ type: 'better-sqlite3', database: join(config.dataDir, 'typical.sqlite'), enableWAL: true } as const);
    return {
      module: AppModule,
      imports: [
        TypeOrmModule.forRoot({
          ...db,
          entities,
          migrations: [schemaMigration(FEATURES)],
          synchronize: false,
          retryAttempts: 2,
          retryDelay: 1_000,
        }),
        PreloadModule.forRootAsync({
          inject: [getDataSourceToken()],
          useFactory: (dataSource: DataSource) => ({
            lockDir: join(config.dataDir, 'locks'),
            healthDetails: true,
            databaseLock: config.databaseUrl ? typeOrmAdvisoryLock(dataSource, { namespace: 'typical-api' }) : null,
          }),
        }),
        PreloadHealthModule,
        ...FEATURES.map((f) => f.module),
      ],
      providers: config.steps ? [StartupSteps] : [],
    };
  }
}

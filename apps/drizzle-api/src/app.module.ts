import 'reflect-metadata';
import { PreloadModule, PreloadService } from '@lf/nest-preload';
import { pgAdvisoryLock } from '@lf/nest-preload/pg';
import { PreloadHealthIndicator, PreloadHealthModule } from '@lf/nest-preload/terminus';
import { Controller, Get, Module } from '@nestjs/common';
import { HealthCheck, HealthCheckService } from '@nestjs/terminus';
import { asc } from 'drizzle-orm';
import { Db } from './db';
import { notes } from './schema';
import { StartupSteps } from './startup.steps';

@Controller()
class NotesController {
  constructor(
    private readonly db: Db,
    private readonly preload: PreloadService,
  ) {}

  @Get('notes')
  async list() {
    const rows = await this.db.orm.select().from(notes).orderBy(asc(notes.id));
    return { worker: this.preload.workerIndex, preloaded: this.preload.isPreloaded(), notes: rows };
  }
}

@Controller('health')
class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly preload: PreloadHealthIndicator,
  ) {}

  @Get('preload')
  @HealthCheck()
  check() {
    return this.health.check([() => this.preload.isHealthy('preload')]);
  }
}

/** Several hosts share the database: its steps run under a PostgreSQL advisory lock on pg alone. */
@Module({
  imports: [
    PreloadModule.forRoot({
      hosts: 'multiple',
      databaseLock: pgAdvisoryLock({
        connection: process.env.DATABASE_URL as string,
        namespace: 'drizzle-api',
        applicationName: `drizzle-api:${process.env.INSTANCE ?? process.pid}:lock`,
      }),
    }),
    PreloadHealthModule,
  ],
  controllers: [NotesController, HealthController],
  providers: [Db, StartupSteps],
})
export class AppModule {}

import { Injectable, Logger } from '@nestjs/common';
import { PreloadStep } from '@lf/nest-preload';
import { DataSource } from 'typeorm';
import { FEATURES } from './app.module.features';

/** The app's one-time start-up work: what most production Nest APIs do in their main.ts. */
@Injectable()
export class StartupSteps {
  private readonly logger = new Logger('Startup');
  constructor(private readonly dataSource: DataSource) {}

  @PreloadStep({ name: 'migrations', critical: true, scope: 'database' })
  async migrations(): Promise<void> {
    const applied = await this.dataSource.runMigrations({ transaction: 'all' });
    this.logger.log(`migrations: applied ${applied.length}`);
  }

  /** A few reference rows per table, insert-or-ignore on their unique names. */
  @PreloadStep({ name: 'seeds', after: ['migrations'], scope: 'database' })
  async seeds(): Promise<void> {
    let rows = 0;
    for (const f of FEATURES) {
      const values = Array.from({ length: 20 }, (_, i) => ({ name: `${f.name}-${i + 1}`, quantity: i }));
      const result = await this.dataSource.createQueryBuilder().insert().into(f.entity).values(values).orIgnore().execute();
      rows += result.identifiers.filter(Boolean).length;
    }
    this.logger.log(`seeds: ${rows} row(s) written`);
  }
}

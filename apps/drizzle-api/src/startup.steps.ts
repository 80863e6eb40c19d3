import { PreloadStep, type StepContext } from '@lf/nest-preload';
import { Injectable, Logger } from '@nestjs/common';
import { count, sql } from 'drizzle-orm';
import { drizzle } from 'drizzle-orm/node-postgres';
import { migrate } from 'drizzle-orm/node-postgres/migrator';
import { join } from 'node:path';
import type { Client } from 'pg';
import { Db } from './db';
import { notes } from './schema';

const MIGRATIONS = join(__dirname, '..', 'drizzle');

/** What the app's old main.ts ran before listening: Drizzle's migrations, then a seed. */
@Injectable()
export class StartupSteps {
  private readonly logger = new Logger('Startup');
  constructor(private readonly db: Db) {}

  /**
   * Runs on the advisory lock's own connection (`lock.session`, a pg Client): if that session is
   * killed mid-migration, Drizzle's transaction rolls back with it, exactly when the lock goes.
   */
  @PreloadStep({ name: 'migrations', critical: true, scope: 'database' })
  async migrations({ lock }: StepContext): Promise<void> {
    const session = drizzle((lock?.session as Client | undefined) ?? this.db.pool);
    const applied = async () => {
      const rows = await session
        .execute<{ n: number }>(sql`select count(*)::int as n from drizzle.__drizzle_migrations`)
        .catch(() => ({ rows: [{ n: 0 }] }));
      return rows.rows[0]?.n ?? 0;
    };
    const before = await applied();
    await migrate(session, { migrationsFolder: MIGRATIONS });
    this.logger.log(`migrations: applied ${(await applied()) - before}`);
  }

  /** Check-then-act on purpose: it is the lock that keeps two hosts from both inserting. */
  @PreloadStep({ name: 'seed', after: ['migrations'], scope: 'database' })
  async seed(): Promise<void> {
    const [{ n }] = await this.db.orm.select({ n: count() }).from(notes);
    if (n > 0) return void this.logger.log('seed: already seeded');
    await this.db.orm
      .insert(notes)
      .values({ title: 'Welcome', body: 'Seeded once, by whichever host got the lock first.', tags: ['seed'] });
    this.logger.log('seed: inserted the welcome note');
  }
}

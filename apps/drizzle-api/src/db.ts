import { Injectable, type OnApplicationShutdown } from '@nestjs/common';
import { drizzle, type NodePgDatabase } from 'drizzle-orm/node-postgres';
import { Pool } from 'pg';
import * as schema from './schema';

/** The app's Drizzle database on its own pool (the request path), closed on shutdown. */
@Injectable()
export class Db implements OnApplicationShutdown {
  readonly pool = new Pool({
    connectionString: process.env.DATABASE_URL,
    max: 4,
    application_name: `drizzle-api:${process.env.INSTANCE ?? process.pid}`,
  });
  readonly orm: NodePgDatabase<typeof schema> = drizzle(this.pool, { schema });

  async onApplicationShutdown(): Promise<void> {
    await this.pool.end();
  }
}

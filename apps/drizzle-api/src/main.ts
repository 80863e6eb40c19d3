import { runCluster } from '@lf/nest-preload/cluster';

/**
 * An API on Drizzle ORM and PostgreSQL under runCluster: no TypeORM anywhere. Environment:
 * DATABASE_URL (required), PORT (3200), HOST (127.0.0.1), WORKERS (2), INSTANCE (a name for this
 * host in logs and pg_stat_activity).
 */
const env = process.env;
if (!env.DATABASE_URL?.startsWith('postgres')) {
  console.error('[drizzle-api] DATABASE_URL must be a postgres:// URL, e.g. DATABASE_URL=postgres://postgres@127.0.0.1:5432/test');
  process.exit(2);
}

void runCluster({
  workers: Number(env.WORKERS ?? 2),
  app: () => import('./app.module').then((m) => m.AppModule),
  serve: async (app) => {
    await app.listen(Number(env.PORT ?? 3200), env.HOST ?? '127.0.0.1');
  },
});

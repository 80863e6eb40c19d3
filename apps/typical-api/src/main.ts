import { runCluster } from '@lf/nest-preload/cluster';
import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';

/**
 * A typical production API under runCluster: everything its main.ts did between NestFactory.create
 * and listen (validation, OpenAPI) is in `serve`. Environment: PORT, HOST, WORKERS, NEST_PRELOAD,
 * DATABASE_URL (PostgreSQL; else SQLite in DATA_DIR), TYPICAL_STEPS=false for no start-up work,
 * COMPILE_CACHE=true for runCluster's compileCache (Node ≥ 22.1).
 */
const env = process.env;
const dataDir = resolve(env.DATA_DIR ?? '.data-typical');
mkdirSync(dataDir, { recursive: true });
const config = { dataDir, databaseUrl: env.DATABASE_URL?.trim() || null, steps: env.TYPICAL_STEPS !== 'false' };
const workers = env.WORKERS === undefined ? undefined : Number(env.WORKERS);

void runCluster({
  ...(workers === undefined ? {} : { workers }),
  compileCache: env.COMPILE_CACHE === 'true',
  app: () => import('./app.module').then((m) => m.AppModule.forConfig(config)),
  serve: async (app) => {
    const [{ ValidationPipe }, { DocumentBuilder, SwaggerModule }] = await Promise.all([
      import('@nestjs/common'),
      import('@nestjs/swagger'),
    ]);
    app.useGlobalPipes(new ValidationPipe({ whitelist: true, forbidNonWhitelisted: true, transform: true }));
    const document = SwaggerModule.createDocument(
      app,
      new DocumentBuilder().setTitle('Typical API').setVersion('1.0').addBearerAuth().build(),
    );
    SwaggerModule.setup('docs', app, document);
    await app.listen(Number(env.PORT ?? 3100), env.HOST ?? '127.0.0.1');
  },
});

import type { INestApplication } from '@nestjs/common';
import { Logger } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { AppEntry } from './app-loader.types';
import { PreloadBootstrapper } from './preload-bootstrapper';
import { ServingLink } from './serving';

/**
 * Creates the app and runs this process's steps before `serve`, so that whatever `serve` does
 * before `listen` sees every step complete (Nest's own init, with its `onModuleInit` hooks, runs
 * in `listen`).
 */
async function createAndRunSteps(entry: AppEntry): Promise<INestApplication> {
  const app = await NestFactory.create(await entry.app(), entry.nestOptions ?? {});
  await app.get(PreloadBootstrapper, { strict: false }).run();
  return app;
}

/**
 * A worker: creates the full app (whose plan skips what the preloader did and redoes the rest),
 * serves, reports ready, and drains on the primary's request, a signal, or the primary's death.
 */
export async function runWorker(entry: AppEntry): Promise<void> {
  const link = new ServingLink(new Logger('Worker'));
  let app: INestApplication | undefined;
  try {
    // abortOnError false: an app that cannot start throws here (reported as a boot error) instead
    // of Nest calling process.abort().
    app = await NestFactory.create(await entry.app(), { ...entry.nestOptions, abortOnError: false });
    link.attach(app);
    await app.get(PreloadBootstrapper, { strict: false }).run();
    if (link.stopping) return;
    await entry.serve(app);
  } catch (error) {
    if (link.stopping) return;
    return link.bootFailed(error);
  }
  link.ready();
}

/** Standalone: no cluster; the app runs every step itself (before `serve`) and handles its own signals. */
export async function runStandalone(entry: AppEntry): Promise<void> {
  const app = await createAndRunSteps(entry);
  app.enableShutdownHooks();
  await entry.serve(app);
}

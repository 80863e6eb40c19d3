import type { INestApplication } from '@nestjs/common';
import { Logger } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { Server } from 'node:http';
import { isMessage, READY, type ReadyMessage, SHUTDOWN, type ShutdownMessage } from '../supervisor/cluster.messages';
import type { AppEntry } from './app-loader.types';
import { PreloadState } from './preload-state';

/**
 * A worker: creates the full app (whose bootstrap skips what the preloader did and redoes the
 * rest), serves, reports ready, and drains on the primary's request, a signal, or the primary's
 * death.
 */
export async function runWorker(entry: AppEntry): Promise<void> {
  const logger = new Logger('Worker');
  let app: INestApplication | undefined;
  let closing: Promise<void> | null = null;
  const shutdown = (why: string): Promise<void> =>
    (closing ??= (async () => {
      logger.log(`stopping (${why})`);
      let code = 0;
      try {
        if (app) {
          // Stop accepting and let in-flight requests finish before the app's resources go away.
          const server = app.getHttpServer() as Server | undefined;
          if (server?.listening) await new Promise<void>((resolve) => server.close(() => resolve()));
          await app.close();
        }
      } catch (error) {
        code = 1;
        logger.error(`error while stopping: ${String(error)}`);
      }
      process.exit(code);
    })());
  process.on('message', (message) => {
    if (isMessage<ShutdownMessage>(message, SHUTDOWN)) void shutdown('asked by the primary');
  });
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));
  // An orphaned worker must not serve on: when the primary dies, the IPC channel closes.
  process.on('disconnect', () => void shutdown('the primary is gone'));
  try {
    const module = await entry.app();
    app = await NestFactory.create(module, entry.nestOptions ?? {});
    await entry.serve(app);
  } catch (error) {
    logger.error(`failed to start: ${String(error)}`, error instanceof Error ? error.stack : undefined);
    // Release what did start (DB pool, cache client) before exiting, bounded.
    await Promise.race([app?.close().catch(() => undefined), new Promise((r) => setTimeout(r, 5_000).unref())]);
    process.exit(1);
  }
  if (closing) return;
  const preloaded = app.get(PreloadState, { strict: false }).manifest !== null;
  const ready: ReadyMessage = { type: READY, pid: process.pid, preloaded };
  process.send?.(ready);
}

/** Standalone: no cluster; the app runs every step itself and handles its own signals. */
export async function runStandalone(entry: AppEntry): Promise<void> {
  const module = await entry.app();
  const app = await NestFactory.create(module, entry.nestOptions ?? {});
  app.enableShutdownHooks();
  await entry.serve(app);
}

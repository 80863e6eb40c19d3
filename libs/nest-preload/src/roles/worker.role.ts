import type { INestApplication } from '@nestjs/common';
import { Logger } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { Server } from 'node:http';
import { Server as NetServer } from 'node:net';
import { PRELOAD_ENV } from '../preload.constants';
import {
  HEARTBEAT,
  type HeartbeatMessage,
  isMessage,
  LEADER,
  type LeaderMessage,
  READY,
  type ReadyMessage,
  SHUTDOWN,
  type ShutdownMessage,
  STOPPING,
  type StoppingMessage,
} from '../supervisor/cluster.messages';
import type { AppEntry } from './app-loader.types';
import { PreloadState } from './preload-state';

/** After this long without a request, a keep-alive connection of a draining worker is closed. */
const IDLE_GRACE_MS = 1_000;

/**
 * Drains an HTTP server without failing a request: stop accepting (the primary routes new
 * connections to other workers), answer what still arrives with `Connection: close`, close
 * connections left idle after a grace, and resolve when the last connection has ended.
 * (`http.Server#close` would close idle keep-alive sockets at once, racing a client that is just
 * sending a request on one.)
 */
function drain(server: Server, state: { draining: boolean }): Promise<void> {
  state.draining = true;
  return new Promise((resolve) => {
    if (!server.listening) return resolve();
    NetServer.prototype.close.call(server, () => resolve());
    setTimeout(() => server.closeIdleConnections(), IDLE_GRACE_MS).unref();
  });
}

/**
 * A worker: creates the full app (whose bootstrap skips what the preloader did and redoes the
 * rest), serves, reports ready, and drains on the primary's request, a signal, or the primary's
 * death.
 */
export async function runWorker(entry: AppEntry): Promise<void> {
  const logger = new Logger('Worker');
  let app: INestApplication | undefined;
  let closing: Promise<void> | null = null;
  const http = { draining: false, requests: 0 };
  let state: PreloadState | undefined;
  const shutdown = (why: string): Promise<void> =>
    (closing ??= (async () => {
      logger.log(`stopping (${why})`);
      let code = 0;
      try {
        if (app) {
          // Stop accepting and let in-flight requests finish before the app's resources go away.
          const server = app.getHttpServer() as Server | undefined;
          if (server) await drain(server, http);
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
    // The primary names a leader only among ready workers, so `state` is set by then.
    if (isMessage<LeaderMessage>(message, LEADER) && state) {
      state.leader = message.leader;
      logger.log(message.leader ? 'this worker is now the leader' : 'this worker is no longer the leader');
    }
  });
  // A signal sent to this worker itself (an operator, or a terminal's Ctrl-C reaching it before the
  // primary): say so, so that the primary does not count the exit as a crash.
  const onSignal = (signal: NodeJS.Signals) => {
    const stopping: StoppingMessage = { type: STOPPING, reason: signal };
    if (!closing && process.connected) process.send?.(stopping);
    void shutdown(signal);
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  // An orphaned worker does not serve on: node:cluster exits a worker whose IPC channel to the primary closes.
  try {
    const module = await entry.app();
    app = await NestFactory.create(module, entry.nestOptions ?? {});
    // Once draining, every response asks its client to reconnect (to another worker).
    (app.getHttpServer() as Server | undefined)?.prependListener('request', (_req, res) => {
      http.requests++;
      if (http.draining) res.setHeader('connection', 'close');
    });
    state = app.get<PreloadState>(PreloadState, { strict: false });
    await entry.serve(app);
  } catch (error) {
    logger.error(`failed to start: ${String(error)}`, error instanceof Error ? error.stack : undefined);
    // Release what did start (DB pool, cache client) before exiting, bounded.
    await Promise.race([app?.close().catch(() => undefined), new Promise((r) => setTimeout(r, 5_000).unref())]);
    process.exit(1);
  }
  if (closing) return;
  const preloaded = (state as PreloadState).manifest !== null;
  const ready: ReadyMessage = { type: READY, pid: process.pid, preloaded };
  process.send?.(ready);
  // The heartbeat comes from this event loop: if it stops, the primary's watchdog replaces this worker.
  const heartbeatMs = Number(process.env[PRELOAD_ENV.heartbeatMs] ?? 0);
  if (heartbeatMs > 0) {
    setInterval(() => {
      const beat: HeartbeatMessage = { type: HEARTBEAT, requests: http.requests, rssMb: Math.round(process.memoryUsage.rss() / 2 ** 20) };
      if (process.connected) process.send?.(beat);
    }, heartbeatMs).unref();
  }
}

/** Standalone: no cluster; the app runs every step itself and handles its own signals. */
export async function runStandalone(entry: AppEntry): Promise<void> {
  const module = await entry.app();
  const app = await NestFactory.create(module, entry.nestOptions ?? {});
  app.enableShutdownHooks();
  await entry.serve(app);
}

import type { INestApplication } from '@nestjs/common';
import { Logger } from '@nestjs/common';
import type { Server } from 'node:http';
import { Server as NetServer } from 'node:net';
import { EXIT_CODES, PRELOAD_ENV } from '../preload.constants';
import { summarize } from '../steps/step-runner';
import {
  BOOT_FAILED,
  type BootFailedMessage,
  HEARTBEAT,
  type HeartbeatMessage,
  LEADER,
  type RanStep,
  READY,
  type ReadyMessage,
  SERVER_CLOSED,
  SERVER_CLOSED_ACK,
  SHUTDOWN,
  STOPPING,
  type StoppingMessage,
} from '../ipc/messages';
import type { StepState } from '../steps/step.types';
import { PreloadState } from '../preload-state';
import { startRecorder } from '../timeline/recorder';
import { primaryLink, type PrimaryLink } from '../ipc/primary-link';
import { exitProcess } from '../process-exit';

/** After this long without a request, a keep-alive connection of a draining worker is closed. */
const IDLE_GRACE_MS = 1_000;
/** How long a process that failed to boot may take to release what did start. */
const RELEASE_BOUND_MS = 5_000;
/** How long a drained worker waits for the primary to confirm its server close (a primary that is gone never does). */
const CLOSE_CONFIRM_BOUND_MS = 2_000;

/**
 * A serving child's side of the supervision protocol: drains on the primary's request or a
 * signal, reports ready and beats, says why it failed to boot. Used by every worker and by the
 * preloader once it serves. @internal
 */
export class ServingLink {
  private app: INestApplication | undefined;
  private state: PreloadState | undefined;
  private closing: Promise<void> | null = null;
  private draining = false;
  /** Resolves once the primary confirmed this server's close (see `SERVER_CLOSED`), or at once without a server. */
  private closeConfirmed: Promise<void> = Promise.resolve();
  private onCloseConfirmed: (() => void) | null = null;
  private requests = 0;
  private listenersBeforeServe: Set<NodeJS.SignalsListener> | null = null;
  private readonly onSignal = (signal: NodeJS.Signals) => {
    const stopping: StoppingMessage = { type: STOPPING, reason: signal };
    if (!this.closing) void this.link?.send(stopping);
    void this.shutdown(signal);
  };

  /**
   * @param link this process's link to its primary (`null` without one: the link then only drains on signals)
   * @param exit how the process ends once drained or failed (the library's edge; a spec passes its own)
   */
  constructor(
    private readonly logger: Logger,
    private readonly link: PrimaryLink | null = primaryLink(),
    private readonly exit: (code: number) => void = exitProcess,
  ) {
    link?.listen({
      [SHUTDOWN]: (message) => void (message.cut ? this.cut() : this.shutdown('asked by the primary')),
      // The primary names a leader only among ready workers, so `state` is set by then.
      [SERVER_CLOSED_ACK]: () => this.onCloseConfirmed?.(),
      [LEADER]: (message) => {
        if (!this.state) return;
        this.state.leader = message.leader;
        logger.log(message.leader ? 'this worker is now the leader' : 'this worker is no longer the leader');
      },
    });
    // A signal sent to this process itself (an operator, or a terminal's Ctrl-C reaching it before
    // the primary): say so, so that the primary does not count the exit as a crash.
    process.on('SIGTERM', this.onSignal);
    process.on('SIGINT', this.onSignal);
    // An orphaned worker does not serve on: node:cluster exits a worker whose IPC channel to the primary closes.
  }

  /** Whether a shutdown was asked for (before the app was even built, perhaps). */
  get stopping(): boolean {
    return this.closing !== null;
  }

  /** The app is created: count its requests, and once draining ask every client to reconnect elsewhere. */
  attach(app: INestApplication): PreloadState {
    this.app = app;
    (app.getHttpServer() as Server | undefined)?.prependListener('request', (_req, res) => {
      this.requests++;
      if (this.draining) res.setHeader('connection', 'close');
    });
    this.state = app.get<PreloadState>(PreloadState, { strict: false });
    return this.state;
  }

  /** Creating or serving the app failed: release what started, tell the primary why; the boot-error code to exit with. */
  async bootFailed(error: unknown, what = 'failed to start'): Promise<number> {
    this.logger.error(`${what}: ${String(error)}`, error instanceof Error ? error.stack : undefined);
    const report: BootFailedMessage = { type: BOOT_FAILED, reason: summarize(error) };
    startRecorder.send(this.link);
    await this.link?.send(report);
    // `serve` may have listened before it failed: connections may be on their way here already.
    const server = this.app?.getHttpServer() as Server | undefined;
    if (server?.listening) this.closeServer(server);
    await Promise.race([this.app?.close().catch(() => undefined), new Promise((r) => setTimeout(r, RELEASE_BOUND_MS).unref())]);
    await this.closeConfirmed;
    return EXIT_CODES.WORKER_BOOT_ERROR;
  }

  /**
   * Right before the user's `serve`: what listens for SIGTERM now (this link; libraries such as
   * proper-lockfile's signal-exit, which stand aside when another listener exists) is not serve's.
   */
  serving(): void {
    this.listenersBeforeServe = new Set(process.listeners('SIGTERM'));
  }

  /** `listen()` resolved: report ready and start the heartbeat from this event loop. */
  ready(): void {
    if (this.closing) return;
    // Nest's enableShutdownHooks() in serve adds its own SIGTERM listener, which would close the
    // app a second time after this process's drain ("Called end on pool more than once").
    const before = this.listenersBeforeServe ?? new Set([this.onSignal]);
    if (process.listeners('SIGTERM').some((listener) => !before.has(listener))) {
      this.logger.warn(
        'app.enableShutdownHooks() (or another SIGTERM listener) was added in serve: drop it — under runCluster this process drains and closes the app itself, and a second close runs your shutdown hooks twice',
      );
    }
    const ready: ReadyMessage = { type: READY, pid: process.pid, preloaded: this.state?.manifest !== null };
    // What a preloaded worker redid, so that `status` can say "redone by 4/4" instead of only the preloader's record.
    if (this.state?.manifest) ready.ran = ranByWorker(this.state.steps.values());
    // The start's phases go first: the primary marks this process ready in the same timeline.
    startRecorder.send(this.link);
    void this.link?.send(ready);
    // If the heartbeat stops, the primary's watchdog replaces this process. It goes on while draining.
    const heartbeatMs = Number(process.env[PRELOAD_ENV.heartbeatMs] ?? 0);
    if (heartbeatMs > 0) {
      setInterval(() => {
        const beat: HeartbeatMessage = { type: HEARTBEAT, requests: this.requests, rssMb: Math.round(process.memoryUsage.rss() / 2 ** 20) };
        void this.link?.send(beat);
      }, heartbeatMs).unref();
    }
  }

  /**
   * Drains without failing a request: stop accepting (the primary routes new connections to other
   * workers), answer what still arrives with `Connection: close`, close connections left idle
   * after a grace, close the app once the last connection has ended, exit.
   * (`http.Server#close` would close idle keep-alive sockets at once, racing a client that is
   * just sending a request on one.)
   */
  shutdown(why: string): Promise<void> {
    return (this.closing ??= (async () => {
      this.logger.log(`stopping (${why})`);
      let code = 0;
      try {
        const server = this.app?.getHttpServer() as Server | undefined;
        if (server) await this.drain(server);
        await this.app?.close();
      } catch (error) {
        code = 1;
        this.logger.error(`error while stopping: ${String(error)}`);
      }
      // A connection the primary handed over before it read the close is handed back, not stranded.
      await this.closeConfirmed;
      this.exit(code);
    })());
  }

  private drain(server: Server): Promise<void> {
    this.draining = true;
    return new Promise((resolve) => {
      if (!server.listening) return resolve();
      this.closeServer(server, () => resolve());
      setTimeout(() => server.closeIdleConnections(), IDLE_GRACE_MS).unref();
    });
  }

  /**
   * Stops accepting (`http.Server#close` would also cut idle keep-alive sockets) and asks the
   * primary to confirm: the ask goes on the same channel after node:cluster's own close message,
   * so it is answered after that was read. `closeConfirmed` resolves then, within a bound.
   */
  private closeServer(server: Server, closed?: () => void): void {
    NetServer.prototype.close.call(server, closed);
    this.closeConfirmed = this.confirmClose();
  }

  private confirmClose(): Promise<void> {
    const link = this.link;
    if (!link?.connected) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.onCloseConfirmed = null;
        resolve();
      };
      const timer = setTimeout(done, CLOSE_CONFIRM_BOUND_MS);
      this.onCloseConfirmed = done;
      void link.send({ type: SERVER_CLOSED });
    });
  }

  /** The drain ran past the primary's bound: close what is still open, saying how much. */
  private async cut(): Promise<void> {
    const server = this.app?.getHttpServer() as Server | undefined;
    if (!server) return;
    const open = await new Promise<number>((resolve) => server.getConnections((error, n) => resolve(error ? -1 : n)));
    this.logger.warn(`drain timeout: closing ${open < 0 ? 'the' : open} connection(s) still open`);
    server.closeAllConnections();
    void this.shutdown('drain timeout');
  }
}

/** The steps a worker ran itself that ended (complete, failed or skipped), for the primary's `status`. */
export function ranByWorker(steps: Iterable<StepState>): RanStep[] {
  const ran: RanStep[] = [];
  for (const { name, status, ranIn } of steps) {
    if (ranIn === 'worker' && (status === 'complete' || status === 'failed' || status === 'skipped')) ran.push({ name, status });
  }
  return ran;
}

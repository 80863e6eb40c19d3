import type { INestApplication, INestApplicationContext } from '@nestjs/common';
import { Logger } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { setImmediate as nextTurn, setTimeout as sleep } from 'node:timers/promises';
import { MANIFEST_VERSION, writeManifest } from '../handover/manifest';
import { EXIT_CODES, PRELOAD_ENV } from '../preload.constants';
import { summarize } from '../steps/step-runner';
import { PRELOAD_DONE, type PreloadDoneMessage } from '../ipc/messages';
import { primaryLink } from '../ipc/primary-link';
import type { AppEntry } from '../app-entry';
import { PreloadProcessContext } from '../process-context';
import { type HandoverParts, StepOrchestrator } from '../steps/step-orchestrator';
import { ServingLink } from '../worker/serving';
import { startRecorder as recorder } from '../timeline/recorder';
import { parseBooleanWord } from '../env-boolean';

/** Resource kinds that are expected while the preloader reports back (its IPC channel, stdio). */
const EXPECTED_HANDLES = new Set(['PipeWrap', 'TTYWrap', 'FSReqCallback', 'Immediate']);

/** How long sockets that are closing (FIN sent, not yet acknowledged) may take before they count as ghosts. */
const GHOST_SETTLE_MS = 1_000;

/**
 * Handles still open once closing sockets had `settleMs` to finish, by resource name. A `Timeout`
 * here is a timer or interval that still holds the event loop (an unref'd one is not listed): a
 * leftover `setInterval` is a ghost like a socket. This function's own waits are unref'd.
 */
async function openHandles(settleMs: number): Promise<string[]> {
  const unexpected = () => process.getActiveResourcesInfo().filter((name) => !EXPECTED_HANDLES.has(name));
  const deadline = Date.now() + settleMs;
  await nextTurn();
  while (unexpected().length > 0 && Date.now() < deadline) await sleep(10, undefined, { ref: false });
  return unexpected();
}

/** Writes the manifest of a preload that completed; returns its path, or why it could not. */
async function handOver(ctx: PreloadProcessContext, parts: HandoverParts): Promise<{ manifestPath: string } | { abort: string }> {
  if (!ctx.runDir || !ctx.generation) return { abort: 'the preloader was started without a run dir or generation' };
  try {
    const manifestPath = await writeManifest(ctx.runDir, {
      version: MANIFEST_VERSION,
      generation: ctx.generation,
      primaryPid: ctx.parentPid,
      preloaderPid: process.pid,
      createdAt: new Date().toISOString(),
      ...parts,
    });
    return { manifestPath };
  } catch (error) {
    return { abort: `writing the manifest failed: ${summarize(error)}` };
  }
}

const rssMb = () => Math.round(process.memoryUsage.rss() / 2 ** 20);

/** Tells the primary how the preload ended; resolves once the message left (at once without a primary). */
const report = (message: PreloadDoneMessage): Promise<void> => primaryLink()?.send(message) ?? Promise.resolve();

/**
 * The preloader, which serves afterwards (the default): creates the full app, runs every step,
 * hands over through the manifest, then serves as worker 0 — no extra app boot on the cluster's
 * critical path. A preload that fails is reported and this process exits; a worker doing the full
 * start-up takes index 0. An app that cannot even be created is reported as such, so that the
 * primary halts as fast as a plain process would fail.
 * @returns the code to exit with when the preload failed, or `null` while it serves (it exits when drained)
 */
export async function runServingPreloader(entry: AppEntry): Promise<number | null> {
  const logger = new Logger('Preloader');
  const ctx = PreloadProcessContext.fromEnv();
  const link = new ServingLink(logger);
  let app: INestApplication;
  let orchestrator: StepOrchestrator;
  let outcome: Awaited<ReturnType<StepOrchestrator['run']>>;
  let rssBefore: number;
  try {
    const module = await recorder.time('import app module', 'app', () => entry.app());
    app = await recorder.time('app build', 'app', () => NestFactory.create(module, { ...entry.nestOptions, abortOnError: false }));
    link.attach(app);
    rssBefore = rssMb();
    orchestrator = app.get(StepOrchestrator, { strict: false });
    outcome = await orchestrator.run();
  } catch (error) {
    const reason = `the app failed to initialize: ${summarize(error)}`;
    logger.error(reason, error instanceof Error ? error.stack : undefined);
    recorder.send();
    await report({ type: PRELOAD_DONE, ok: false, manifestPath: null, reason, lingering: [], appFailed: true });
    return link.bootFailed(error, 'could not create the app');
  }
  let abort = outcome.ok ? null : outcome.reason;
  let manifestPath: string | null = null;
  if (!abort) {
    const written = await recorder.time('write hand-over', 'handover', () => handOver(ctx, orchestrator.handOver()));
    if ('abort' in written) abort = written.abort;
    else manifestPath = written.manifestPath;
  }
  if (abort) {
    recorder.send();
    await report({ type: PRELOAD_DONE, ok: false, manifestPath: null, reason: abort, lingering: [] });
    await Promise.race([app.close().catch(() => undefined), sleep(5_000, undefined, { ref: false })]);
    return EXIT_CODES.PRELOAD_FAILED;
  }
  await report({
    type: PRELOAD_DONE,
    ok: true,
    manifestPath,
    reason: null,
    lingering: [],
    rssBeforeStepsMb: rssBefore,
    rssAfterStepsMb: rssMb(),
  });
  if (link.stopping) return null;
  try {
    link.serving();
    await recorder.time('serve', 'serve', () => entry.serve(app));
  } catch (error) {
    return link.bootFailed(error);
  }
  link.ready();
  return null;
}

/**
 * The preloader with `preloader: 'exits'`: builds an application context (no HTTP server), which
 * runs every step; tears down caches and the context in a `finally`; hands over through the
 * manifest; reports; exits.
 * @returns the code to exit with (or, when it serves, see {@link runServingPreloader})
 */
export async function runPreloader(entry: AppEntry): Promise<number | null> {
  recorder.booted();
  if (parseBooleanWord(process.env[PRELOAD_ENV.preloaderServes]) === true) return runServingPreloader(entry);
  const logger = new Logger('Preloader');
  const ctx = PreloadProcessContext.fromEnv();
  let app: INestApplicationContext | undefined;
  let abort: string | null = null;
  let parts: HandoverParts | null = null;
  let orchestrator: StepOrchestrator | undefined;
  let appFailed = false;
  try {
    const module = await recorder.time('import app module', 'app', () => entry.app());
    app = await recorder.time('app build', 'app', () =>
      NestFactory.createApplicationContext(module, { ...entry.nestOptions, abortOnError: false }),
    );
    // Creating the context ran the plan (at bootstrap); its outcome is kept.
    const found = app.get(StepOrchestrator, { strict: false });
    orchestrator = found;
    const outcome = await found.run();
    if (!outcome.ok) abort = outcome.reason;
  } catch (error) {
    appFailed = true;
    abort = `the app failed to initialize: ${summarize(error)}`;
    logger.error(abort, error instanceof Error ? error.stack : undefined);
  } finally {
    const teardownStarted = recorder.now();
    if (app && orchestrator) {
      const failures = await orchestrator.teardownCaches();
      if (failures.length && !abort) abort = `cache teardown failed: ${failures.join('; ')}`;
      // Read before the app closes: the temp dirs pass to the primary instead of being removed.
      if (!abort) parts = orchestrator.handOver();
      try {
        await app.close();
      } catch (error) {
        abort ??= `closing the app failed: ${summarize(error)}`;
      }
      recorder.add('teardown (caches, app close)', 'teardown', teardownStarted, recorder.now());
    }
  }
  let manifestPath: string | null = null;
  if (!abort && parts) {
    const handed = parts;
    const written = await recorder.time('write hand-over', 'handover', () => handOver(ctx, handed));
    if ('abort' in written) abort = written.abort;
    else manifestPath = written.manifestPath;
  }
  const lingering = await openHandles(GHOST_SETTLE_MS);
  if (lingering.length) logger.warn(`handles still open before exit: ${lingering.join(', ')}`);
  else logger.log('no handles left open (DB pools and cache clients closed)');
  recorder.send();
  await report({ type: PRELOAD_DONE, ok: abort === null, manifestPath, reason: abort, lingering, appFailed });
  // Exit even if a handle lingers: the primary is waiting on this process.
  return abort === null ? EXIT_CODES.OK : EXIT_CODES.PRELOAD_FAILED;
}

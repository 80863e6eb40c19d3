import type { INestApplicationContext } from '@nestjs/common';
import { Logger } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { setImmediate as nextTurn, setTimeout as sleep } from 'node:timers/promises';
import { MANIFEST_VERSION, writeManifest } from '../handover/manifest';
import { EXIT_CODES } from '../preload.constants';
import { summarize } from '../steps/step-runner';
import { PRELOAD_DONE, type PreloadDoneMessage } from '../supervisor/cluster.messages';
import type { AppEntry } from './app-loader.types';
import { PreloadBootstrapper } from './preload-bootstrapper';
import { PreloadProcessContext } from './process-context';
import { PreloadState } from './preload-state';

/** Resource kinds that are expected while the preloader reports back (its IPC channel, stdio). */
const EXPECTED_HANDLES = new Set(['PipeWrap', 'TTYWrap', 'FSReqCallback', 'Immediate']);

/** How long sockets that are closing (FIN sent, not yet acknowledged) may take before they count as ghosts. */
const GHOST_SETTLE_MS = 1_000;

/** Handles still open once closing sockets had `settleMs` to finish, by resource name. */
async function openHandles(settleMs: number): Promise<string[]> {
  const unexpected = () => process.getActiveResourcesInfo().filter((name) => !EXPECTED_HANDLES.has(name) && name !== 'Timeout');
  const deadline = Date.now() + settleMs;
  await nextTurn();
  while (unexpected().length > 0 && Date.now() < deadline) await sleep(10, undefined, { ref: false });
  return unexpected();
}

/**
 * The preloader: builds an application context (no HTTP server), which runs every step; tears
 * down caches and the context in a `finally`; hands over through the manifest; reports; exits.
 */
export async function runPreloader(entry: AppEntry): Promise<never> {
  const logger = new Logger('Preloader');
  const ctx = PreloadProcessContext.fromEnv();
  let app: INestApplicationContext | undefined;
  let abort: string | null = null;
  let handedOver: string[] = [];
  let state: PreloadState | undefined = undefined;
  try {
    const module = await entry.app();
    app = await NestFactory.createApplicationContext(module, { ...entry.nestOptions, abortOnError: false });
    const found: PreloadState = app.get(PreloadState, { strict: false });
    state = found;
    abort = found.abortReason;
  } catch (error) {
    abort = `the app failed to initialize: ${summarize(error)}`;
    logger.error(abort, error instanceof Error ? error.stack : undefined);
  } finally {
    if (app && state) {
      const failures = await app.get(PreloadBootstrapper, { strict: false }).teardownCaches();
      if (failures.length && !abort) abort = `cache teardown failed: ${failures.join('; ')}`;
      if (!abort) handedOver = state.tempDirs.handOver();
      try {
        await app.close();
      } catch (error) {
        abort ??= `closing the app failed: ${summarize(error)}`;
      }
    }
  }
  let manifestPath: string | null = null;
  if (!abort && state && ctx.runDir && ctx.generation) {
    try {
      manifestPath = await writeManifest(ctx.runDir, {
        version: MANIFEST_VERSION,
        generation: ctx.generation,
        primaryPid: ctx.parentPid,
        preloaderPid: process.pid,
        createdAt: new Date().toISOString(),
        steps: [...state.steps.values()],
        results: Object.fromEntries(state.resultEntries),
        tempDirs: handedOver,
      });
    } catch (error) {
      abort = `writing the manifest failed: ${summarize(error)}`;
    }
  }
  const lingering = await openHandles(GHOST_SETTLE_MS);
  if (lingering.length) logger.warn(`handles still open before exit: ${lingering.join(', ')}`);
  else logger.log('no handles left open (DB pools and cache clients closed)');
  const report: PreloadDoneMessage = { type: PRELOAD_DONE, ok: abort === null, manifestPath, reason: abort, lingering };
  if (process.send) await new Promise<void>((resolve) => process.send?.(report, undefined, {}, () => resolve()));
  // Exit even if a handle lingers: the primary is waiting on this process.
  process.exit(abort === null ? EXIT_CODES.OK : EXIT_CODES.PRELOAD_FAILED);
}

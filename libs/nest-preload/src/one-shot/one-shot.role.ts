import type { INestApplicationContext } from '@nestjs/common';
import { Logger } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { EXIT_CODES } from '../preload.constants';
import { summarize, summaryTable } from '../steps/step-runner';
import type { AppEntry } from '../app-entry';
import { PreloadService } from '../preload.service';

/**
 * One-shot: runs the whole preload plan in this process (an application context, no HTTP server),
 * prints the summary, releases everything and returns the exit code — for a deployment job or an
 * init container that prepares the database before the replicas start. Host-local results (temp
 * dirs, in-memory values) are not kept: each host's own preloader makes those.
 *
 * @returns `EXIT_CODES.OK` when every step completed, `ONE_SHOT_INCOMPLETE` when only best-effort
 *   steps failed (the replicas' workers will redo them), `PRELOAD_FAILED` when a critical step or
 *   the app failed.
 */
export async function runOneShot(entry: AppEntry): Promise<number> {
  const logger = new Logger('OneShot');
  let app: INestApplicationContext | undefined;
  let code: number = EXIT_CODES.OK;
  try {
    const module = await entry.app();
    app = await NestFactory.createApplicationContext(module, { ...entry.nestOptions, abortOnError: false });
    const steps = app.get(PreloadService, { strict: false }).steps();
    logger.log(`preload summary:\n${summaryTable(steps)}`);
    const incomplete = steps.filter((s) => s.status !== 'complete').map((s) => s.name);
    if (incomplete.length) {
      code = EXIT_CODES.ONE_SHOT_INCOMPLETE;
      logger.warn(`one-shot preload finished with incomplete best-effort steps: ${incomplete.join(', ')} (workers will redo them)`);
    } else {
      logger.log('one-shot preload complete: every step done');
    }
  } catch (error) {
    code = EXIT_CODES.PRELOAD_FAILED;
    logger.error(`one-shot preload failed: ${summarize(error)}`, error instanceof Error ? error.stack : undefined);
  } finally {
    try {
      await app?.close();
    } catch (error) {
      if (code === EXIT_CODES.OK) code = EXIT_CODES.PRELOAD_FAILED;
      logger.error(`closing the app failed: ${summarize(error)}`);
    }
  }
  return code;
}

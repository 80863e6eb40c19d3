import { Logger } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { AppEntry } from '../app-entry';
import { StepOrchestrator } from '../steps/step-orchestrator';
import { ServingLink } from './serving';
import { startRecorder as recorder } from '../timeline/recorder';

// In every role the steps run right after the app is created and before `serve`, so that whatever
// `serve` does before `listen` sees every step complete (Nest's own init, with its `onModuleInit`
// hooks, runs in `listen`).

/**
 * A worker: creates the full app (whose plan skips what the preloader did and redoes the rest),
 * serves, reports ready, and drains on the primary's request, a signal, or the primary's death.
 * @returns the code to exit with when it could not start, or `null` while it serves (it exits when drained)
 */
export async function runWorker(entry: AppEntry): Promise<number | null> {
  recorder.booted();
  const link = new ServingLink(new Logger('Worker'));
  try {
    // abortOnError false: an app that cannot start throws here (reported as a boot error) instead
    // of Nest calling process.abort().
    const module = await recorder.time('import app module', 'app', () => entry.app());
    const app = await recorder.time('app build', 'app', () => NestFactory.create(module, { ...entry.nestOptions, abortOnError: false }));
    link.attach(app);
    await app.get(StepOrchestrator, { strict: false }).run();
    if (link.stopping) return null;
    link.serving();
    await recorder.time('serve', 'serve', () => entry.serve(app));
  } catch (error) {
    if (link.stopping) return null;
    return link.bootFailed(error);
  }
  link.ready();
  return null;
}

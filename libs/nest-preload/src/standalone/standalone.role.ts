import { NestFactory } from '@nestjs/core';
import type { AppEntry } from '../app-entry';
import { StepOrchestrator } from '../steps/step-orchestrator';

/** Standalone: no cluster; the app runs every step itself (before `serve`) and handles its own signals. */
export async function runStandalone(entry: AppEntry): Promise<void> {
  const app = await NestFactory.create(await entry.app(), entry.nestOptions ?? {});
  await app.get(StepOrchestrator, { strict: false }).run();
  app.enableShutdownHooks();
  await entry.serve(app);
}

import { Module } from '@nestjs/common';
import { DiscoveryModule } from '@nestjs/core';
import { PRIMARY_LINK, type PrimaryLink, primaryLink } from './ipc/primary-link';
import { StartupLock } from './locks/startup-lock';
import { PRELOAD_ENV } from './preload.constants';
import { ConfigurablePreloadModule, PRELOAD_MODULE_OPTIONS, PRELOAD_RESOLVED_OPTIONS } from './preload.module-definition';
import { type PreloadModuleOptions, type ResolvedPreloadOptions, resolvePreloadOptions } from './preload.options';
import { PreloadService } from './preload.service';
import { PreloaderStrategy } from './preloader/preloader.strategy';
import { PreloadProcessContext } from './process-context';
import { PreloadState } from './preload-state';
import { StandaloneStrategy } from './standalone/standalone.strategy';
import { ROLE_STRATEGY, type RoleStrategy } from './steps/role-strategy';
import { StepExplorer } from './steps/step-explorer';
import { StepOrchestrator } from './steps/step-orchestrator';
import { WorkerStrategy } from './worker/worker.strategy';

/**
 * Runs the app's `@PreloadStep()` methods once per cluster (in the preloader) and lets workers
 * skip what was done. Register once, in the root module:
 * `PreloadModule.forRoot({ ... })` or `PreloadModule.forRootAsync({ useFactory, inject })`.
 */
@Module({
  imports: [DiscoveryModule],
  providers: [
    {
      provide: PRELOAD_RESOLVED_OPTIONS,
      useFactory: (options: PreloadModuleOptions) => resolvePreloadOptions(options),
      inject: [PRELOAD_MODULE_OPTIONS],
    },
    { provide: PreloadProcessContext, useFactory: () => PreloadProcessContext.fromEnv() },
    // A child our primary forked (a worker, a preloader) talks to it; standalone, one-shot and tests have no link.
    {
      provide: PRIMARY_LINK,
      useFactory: (ctx: PreloadProcessContext) =>
        ctx.role !== 'standalone' && process.env[PRELOAD_ENV.role] === ctx.role ? primaryLink() : null,
      inject: [PreloadProcessContext],
    },
    // The role is chosen once, here: everything else runs the same in every process.
    {
      provide: ROLE_STRATEGY,
      useFactory: (ctx: PreloadProcessContext, link: PrimaryLink | null, options: ResolvedPreloadOptions): RoleStrategy => {
        if (ctx.role === 'preloader') return new PreloaderStrategy(ctx, link);
        if (ctx.role === 'worker') return new WorkerStrategy(ctx, link, options.artifactCacheBytes);
        return new StandaloneStrategy();
      },
      inject: [PreloadProcessContext, PRIMARY_LINK, PRELOAD_RESOLVED_OPTIONS],
    },
    PreloadState,
    PreloadService,
    StepOrchestrator,
    StepExplorer,
    StartupLock,
  ],
  exports: [PreloadService, StartupLock, PRELOAD_RESOLVED_OPTIONS],
})
export class PreloadModule extends ConfigurablePreloadModule {}

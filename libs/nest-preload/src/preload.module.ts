import { Module } from '@nestjs/common';
import { DiscoveryModule } from '@nestjs/core';
import { PRIMARY_LINK, primaryLink } from './ipc/primary-link';
import { StartupLock } from './locks/startup-lock';
import { PRELOAD_ENV } from './preload.constants';
import { ConfigurablePreloadModule, PRELOAD_MODULE_OPTIONS, PRELOAD_RESOLVED_OPTIONS } from './preload.module-definition';
import { type PreloadModuleOptions, resolvePreloadOptions } from './preload.options';
import { PreloadService } from './preload.service';
import { PreloadBootstrapper } from './roles/preload-bootstrapper';
import { PreloadProcessContext } from './roles/process-context';
import { PreloadState } from './roles/preload-state';
import { StepExplorer } from './steps/step-explorer';

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
    PreloadState,
    PreloadService,
    PreloadBootstrapper,
    StepExplorer,
    StartupLock,
  ],
  exports: [PreloadService, StartupLock, PRELOAD_RESOLVED_OPTIONS],
})
export class PreloadModule extends ConfigurablePreloadModule {}

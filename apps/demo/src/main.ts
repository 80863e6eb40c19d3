import { runCluster } from '@lf/nest-preload/cluster';
import { type DemoConfig, DemoConfigError, readDemoConfig } from './config';

function loadConfig(): DemoConfig {
  try {
    return readDemoConfig();
  } catch (error) {
    if (!(error instanceof DemoConfigError)) throw error;
    console.error(`[demo] ${error.message}`);
    process.exit(2);
  }
}

const config = loadConfig();

void runCluster({
  workers: config.workers,
  gracefulTimeoutMs: config.gracefulTimeoutMs,
  preloadTimeoutMs: config.preloadTimeoutMs,
  preloadStart: config.preloadStart,
  preloader: config.preloader,
  ...(config.heavyPreloaderRatio === null ? {} : { heavyPreloaderRatio: config.heavyPreloaderRatio }),
  reloadPreload: config.reloadPreload,
  oneShot: config.oneShot,
  workerExecArgv: config.workerNodeFlags,
  compileCache: config.compileCache,
  ...config.supervision,
  ...(config.runRoot ? { runRoot: config.runRoot } : {}),
  // Loaded lazily: the primary never imports the app, only the preloader and the workers do.
  app: () => import('./app.module').then((m) => m.AppModule.forConfig(config)),
  // The rest of a main.ts (prefixes, pipes, Swagger) goes here; every step is complete by now.
  serve: async (app) => {
    // Imported here, not at the top: the primary runs this file too and must not load Nest.
    const { PreloadService } = await import('@lf/nest-preload');
    const { SuperuserService } = await import('./startup/superuser.service');
    // Every step is settled: the superuser's password is not needed any more in this process.
    app.get(SuperuserService).dropCredentials();
    const steps = app.get(PreloadService).steps();
    const done = steps.filter((s) => s.status === 'complete').length;
    console.log(`[demo] pid ${process.pid}: serve sees ${done} of ${steps.length} steps complete before listen`);
    await app.listen(config.port, config.host);
    if (config.exitAfterReadyMs) setTimeout(() => process.exit(1), config.exitAfterReadyMs).unref();
  },
});

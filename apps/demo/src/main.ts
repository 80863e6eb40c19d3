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
  reloadPreload: config.reloadPreload,
  oneShot: config.oneShot,
  workerExecArgv: config.workerNodeFlags,
  compileCache: config.compileCache,
  ...config.supervision,
  ...(config.runRoot ? { runRoot: config.runRoot } : {}),
  // Loaded lazily: the primary never imports the app, only the preloader and the workers do.
  app: () => import('./app.module').then((m) => m.AppModule.forConfig(config)),
  serve: (app) => app.listen(config.port, config.host),
});

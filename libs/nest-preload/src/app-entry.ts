import type { DynamicModule, INestApplication, NestApplicationOptions, Type } from '@nestjs/common';

/** How `runCluster` loads and serves the app: only workers, the preloader and standalone call these. */
export interface AppEntry {
  /**
   * Loads the root module lazily, e.g. `() => import('./app.module').then((m) => m.AppModule)`,
   * so the primary never imports the app.
   */
  app: () => Promise<Type<unknown> | DynamicModule> | Type<unknown> | DynamicModule;
  /** Starts serving a created app, e.g. `(app) => app.listen(3000)`. Runs in workers, in a serving preloader and standalone, after the steps. */
  serve: (app: INestApplication) => Promise<unknown>;
  /**
   * Options for `NestFactory.create` / `createApplicationContext`.
   * @default {}
   */
  nestOptions?: NestApplicationOptions;
}

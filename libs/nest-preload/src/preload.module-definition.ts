import { ConfigurableModuleBuilder } from '@nestjs/common';
import type { PreloadModuleOptions } from './preload.options';

const definition = new ConfigurableModuleBuilder<PreloadModuleOptions>({ moduleName: 'Preload' })
  .setClassMethodName('forRoot')
  .setFactoryMethodName('createPreloadOptions')
  .setExtras({ isGlobal: true }, (definition, extras) => ({ ...definition, global: extras.isGlobal }))
  .build();

/** The base class `PreloadModule` extends (`forRoot` / `forRootAsync`). @internal */
export const ConfigurablePreloadModule = definition.ConfigurableModuleClass;
/** Token of the options exactly as given to `forRoot` / returned by the `forRootAsync` factory. */
export const PRELOAD_MODULE_OPTIONS = definition.MODULE_OPTIONS_TOKEN;
/** Type of `forRoot`'s argument, for `typeof PRELOAD_OPTIONS_TYPE` (options plus `isGlobal`). */
export const PRELOAD_OPTIONS_TYPE = definition.OPTIONS_TYPE;
/** Type of `forRootAsync`'s argument, for `typeof PRELOAD_ASYNC_OPTIONS_TYPE`. */
export const PRELOAD_ASYNC_OPTIONS_TYPE = definition.ASYNC_OPTIONS_TYPE;

/** Token of the resolved options (every field set). */
export const PRELOAD_RESOLVED_OPTIONS = Symbol('PRELOAD_RESOLVED_OPTIONS');

/** A class usable with `forRootAsync({ useClass })` or `useExisting`. */
export interface PreloadOptionsFactory {
  createPreloadOptions(): PreloadModuleOptions | Promise<PreloadModuleOptions>;
}

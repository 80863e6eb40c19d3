import { ConfigurableModuleBuilder } from '@nestjs/common';
import type { PreloadModuleOptions } from './preload.options';

export const {
  ConfigurableModuleClass: ConfigurablePreloadModule,
  MODULE_OPTIONS_TOKEN: PRELOAD_MODULE_OPTIONS,
  OPTIONS_TYPE: PRELOAD_OPTIONS_TYPE,
  ASYNC_OPTIONS_TYPE: PRELOAD_ASYNC_OPTIONS_TYPE,
} = new ConfigurableModuleBuilder<PreloadModuleOptions>({ moduleName: 'Preload' })
  .setClassMethodName('forRoot')
  .setFactoryMethodName('createPreloadOptions')
  .setExtras({ isGlobal: true }, (definition, extras) => ({ ...definition, global: extras.isGlobal }))
  .build();

/** Token of the resolved options (every field set). */
export const PRELOAD_RESOLVED_OPTIONS = Symbol('PRELOAD_RESOLVED_OPTIONS');

/** A class usable with `forRootAsync({ useClass })` or `useExisting`. */
export interface PreloadOptionsFactory {
  createPreloadOptions(): PreloadModuleOptions | Promise<PreloadModuleOptions>;
}

/** `@lf/nest-preload`: the Nest module, its hooks and the building blocks. */
export { PreloadModule } from './preload.module';
export { PreloadService } from './preload.service';
export {
  PRELOAD_MODULE_OPTIONS,
  PRELOAD_RESOLVED_OPTIONS,
  PRELOAD_OPTIONS_TYPE,
  PRELOAD_ASYNC_OPTIONS_TYPE,
  type PreloadOptionsFactory,
} from './preload.module-definition';
export { DEFAULT_PRELOAD_OPTIONS, resolvePreloadOptions, type PreloadModuleOptions, type ResolvedPreloadOptions } from './preload.options';
export { PRELOAD_ENV, EXIT_CODES, type PreloadRole } from './preload.constants';
export { PreloadStep, PRELOAD_STEP_METADATA } from './steps/preload-step.decorator';
export type { PreloadStepOptions, StepContext, StepDefinition, StepState, StepStatus } from './steps/step.types';
export { preloadRole } from './process-context';
export { StartupLock, type StartupLockOptions } from './locks/startup-lock';
export { PgAdvisoryLock, advisoryKeys, type AdvisoryLockSession, type PgAdvisoryLockOptions } from './locks/pg-advisory-lock';
export { FileLock } from './locks/file-lock';
export { DEFAULT_LOCK_OPTIONS, type HeldLock, type LockBackend, type LockOptions, type LockScope } from './locks/lock-backend';
export { ExternalCache } from './cache/external-cache';
export { PreloadArtifact, type ArtifactHandle, type ArtifactIndex } from './handover/artifact';
export {
  PreloadError,
  PreloadConfigError,
  LockTimeoutError,
  LockCompromisedError,
  LockConnectError,
  CriticalStepError,
  ResultUnavailableError,
} from './errors/preload.error';
export { PreloadMessages } from './errors/preload.messages';

/** `@lf/nest-preload`: the Nest module, its hooks and the building blocks. */
export { PreloadModule } from './preload.module';
export { PreloadService } from './preload.service';
export { PRELOAD_MODULE_OPTIONS, PRELOAD_RESOLVED_OPTIONS, PRELOAD_OPTIONS_TYPE, PRELOAD_ASYNC_OPTIONS_TYPE, type PreloadOptionsFactory } from './preload.module-definition';
export { DEFAULT_PRELOAD_OPTIONS, resolvePreloadOptions, type PreloadModuleOptions, type ResolvedPreloadOptions } from './preload.options';
export { PRELOAD_ENV, EXIT_CODES, type PreloadRole } from './preload.constants';
export { PreloadStep, PRELOAD_STEP_METADATA } from './steps/preload-step.decorator';
export type { PreloadStepOptions, StepDefinition, StepState, StepStatus } from './steps/step.types';
export { StepPlan } from './steps/step-plan';
export { PreloadProcessContext } from './roles/process-context';
export { StartupLock } from './locks/startup-lock';
export { FileLock, DEFAULT_LOCK_OPTIONS, type LockOptions } from './locks/file-lock';
export { ExternalCache } from './cache/external-cache';
export { OwnedTempDirs } from './temp/temp-dirs';
export type { Manifest, ResultEntry, ManifestTrust } from './handover/manifest';
export { readTrustedManifest } from './handover/manifest';
export { PreloadArtifact, type ArtifactHandle, type ArtifactIndex } from './handover/artifact';
export { PreloadError, PreloadConfigError, LockTimeoutError, LockCompromisedError, CriticalStepError, ResultUnavailableError } from './errors/preload.error';
export { PreloadMessages } from './errors/preload.messages';

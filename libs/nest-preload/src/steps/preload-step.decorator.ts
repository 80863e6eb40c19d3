import { SetMetadata } from '@nestjs/common';
import type { PreloadStepOptions } from './step.types';

/** Metadata key of {@link PreloadStep}. */
export const PRELOAD_STEP_METADATA = 'nest-preload:step';

/**
 * Declares a provider method as a preload step: run once in the preloader, skipped by workers
 * that start from its hand-over, redone by workers where it did not complete. The method's return
 * value becomes the step's result (`PreloadService.result(name)`); it must be structured-cloneable.
 */
export const PreloadStep = (options: PreloadStepOptions): MethodDecorator => SetMetadata(PRELOAD_STEP_METADATA, options);

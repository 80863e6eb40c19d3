import { Inject, Injectable } from '@nestjs/common';
import type { Manifest } from './handover/manifest';
import { PRELOAD_RESOLVED_OPTIONS } from './preload.module-definition';
import type { ResolvedPreloadOptions } from './preload.options';
import type { StepState } from './steps/step.types';
import { OwnedTempDirs } from './temp/temp-dirs';
import { PreloadProcessContext } from './process-context';

/** The mutable preload state of one process, owned by DI (never module-level). @internal */
@Injectable()
export class PreloadState {
  /** Every step of the plan, in plan order, once the plan is built. */
  readonly steps = new Map<string, StepState>();
  /** Values of steps that ran in this process. */
  readonly values = new Map<string, unknown>();
  readonly tempDirs: OwnedTempDirs;
  /** The manifest this worker trusted, if any. */
  manifest: Manifest | null = null;
  /** Why a worker did not start from a manifest. */
  notPreloadedReason: string | null = null;
  /** Set once the steps this process had to run have run. */
  ready = false;
  /** Whether the primary made this worker the leader (run-once jobs). */
  leader = false;
  /** Why the preload was abandoned (preloader only). */
  abortReason: string | null = null;

  constructor(ctx: PreloadProcessContext, @Inject(PRELOAD_RESOLVED_OPTIONS) options: ResolvedPreloadOptions) {
    this.tempDirs = new OwnedTempDirs(ctx.role === 'preloader' && ctx.tempRoot ? ctx.tempRoot : options.tempRoot);
  }
}

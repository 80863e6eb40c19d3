import { Inject, Injectable } from '@nestjs/common';
import { PRELOAD_ENV, type PreloadRole } from './preload.constants';
import { PreloadProcessContext } from './process-context';
import { PreloadState } from './preload-state';
import { StepOrchestrator } from './steps/step-orchestrator';
import type { StepState } from './steps/step.types';
import { CLUSTER_STATUS, CLUSTER_STATUS_REQUEST, type ClusterStatusRequest, type ClusterView } from './ipc/messages';
import { PRIMARY_LINK, type PrimaryLink } from './ipc/primary-link';
import { parseBooleanWord } from './env-boolean';

/** The preload hooks, injectable anywhere in the app. */
@Injectable()
export class PreloadService {
  constructor(
    private readonly ctx: PreloadProcessContext,
    @Inject(PreloadState) private readonly state: PreloadState,
    private readonly orchestrator: StepOrchestrator,
    @Inject(PRIMARY_LINK) private readonly link: PrimaryLink | null,
  ) {}

  /** The role of this process: `preloader`, `worker` or `standalone`. */
  get role(): Exclude<PreloadRole, 'primary'> {
    return this.ctx.role;
  }

  /** This worker's stable index (0..N-1), or `null` outside a cluster. */
  get workerIndex(): number | null {
    return this.ctx.workerIndex;
  }

  /** The preload generation this process started from, or `null`. */
  get generation(): string | null {
    return this.state.manifest?.generation ?? (this.ctx.role === 'preloader' ? this.ctx.generation : null);
  }

  /**
   * True in a serving child forked by our primary (a worker, or the preloader that serves): the
   * processes with a primary to ask over IPC. Other parents (a test runner, say) do not answer.
   */
  servesUnderPrimary(): boolean {
    const serving =
      this.ctx.role === 'worker' || (this.ctx.role === 'preloader' && parseBooleanWord(process.env[PRELOAD_ENV.preloaderServes]) === true);
    return serving && this.link !== null;
  }

  /** The link to the primary of a serving child; `null` elsewhere. For the library's own modules (metrics). @internal */
  primaryLink(): PrimaryLink | null {
    return this.servesUnderPrimary() ? this.link : null;
  }

  /** True in a worker that started from a valid manifest (even if it redid some steps). */
  isPreloaded(): boolean {
    return this.state.manifest !== null;
  }

  /** Why this worker is not preloaded (invalid manifest, failed preload, preload off), or `null`. */
  notPreloadedReason(): string | null {
    return this.state.notPreloadedReason;
  }

  /**
   * True in the one worker the primary designated for run-once jobs (cron, sweeps); another worker
   * takes over when it dies. Always true in a standalone app.
   */
  isLeader(): boolean {
    return this.ctx.role === 'standalone' || this.state.leader;
  }

  /**
   * The cluster as the primary sees it (workers, restarts, generation, preload duration), asked
   * over IPC; `null` outside a cluster or when no answer came within `timeoutMs`.
   */
  clusterStatus(timeoutMs = 1_000): Promise<ClusterView | null> {
    const link = this.primaryLink();
    if (!link) return Promise.resolve(null);
    const id = ++this.statusRequests;
    return new Promise((resolve) => {
      const done = (view: ClusterView | null) => {
        clearTimeout(timer);
        stop();
        resolve(view);
      };
      const stop = link.listen({ [CLUSTER_STATUS]: (message) => message.id === id && done(message.view) });
      const timer = setTimeout(() => done(null), timeoutMs);
      const request: ClusterStatusRequest = { type: CLUSTER_STATUS_REQUEST, id };
      void link.send(request);
    });
  }

  private statusRequests = 0;

  /** True once every step this process had to run has run. */
  isReady(): boolean {
    return this.state.ready;
  }

  /** Whether the step completed, here or in the preloader. */
  isStepComplete(name: string): boolean {
    return this.state.steps.get(name)?.status === 'complete';
  }

  /** A snapshot of every step's state, in plan order. */
  steps(): StepState[] {
    return [...this.state.steps.values()].map((s) => ({ ...s }));
  }

  /** Critical steps that are not complete. */
  missingCriticalSteps(): string[] {
    return this.steps()
      .filter((s) => s.critical && s.status !== 'complete')
      .map((s) => s.name);
  }

  /**
   * The value a step returned: from memory where it ran in this process, from the preloader's
   * verified result file otherwise (decoded once, on first use). For a step that returned a
   * `PreloadArtifact`, an `ArtifactHandle` that reads the bytes in slices.
   * @throws ResultUnavailableError when the step is not complete.
   */
  result<T = unknown>(name: string): T {
    return this.orchestrator.result(name) as T;
  }

  /**
   * Temp dirs this process must clean up (and does, on shutdown). A preloaded worker owns none
   * of the preloader's dirs: the primary owns those.
   */
  getOwnedTempDirs(): string[] {
    return this.state.tempDirs.list();
  }

  /** Creates a private (0700) temp dir owned by this process; see {@link getOwnedTempDirs}. */
  createTempDir(prefix: string): string {
    return this.state.tempDirs.create(prefix);
  }
}

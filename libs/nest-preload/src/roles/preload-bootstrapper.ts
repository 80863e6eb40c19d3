import nodeModule from 'node:module';
import { type BeforeApplicationShutdown, Inject, Injectable, Logger, type OnApplicationBootstrap } from '@nestjs/common';
import { setTimeout as sleep } from 'node:timers/promises';
import { CriticalStepError } from '../errors/preload.error';
import { FileArtifact, MemoryArtifact, PreloadArtifact } from '../handover/artifact';
import { readTrustedManifest, runDirOf, verifyResult, writeResult } from '../handover/manifest';
import { PRELOAD_RESOLVED_OPTIONS } from '../preload.module-definition';
import type { ResolvedPreloadOptions } from '../preload.options';
import { StepPlan } from '../steps/step-plan';
import { runSteps, summarize, summaryTable } from '../steps/step-runner';
import type { StepDefinition } from '../steps/step.types';
import { type DiscoveredStep, StepExplorer } from '../steps/step-explorer';
import { detectMultiInstancePlatform } from '../locks/platform';
import { PreloadMessages } from '../errors/preload.messages';
import { STEPS_STARTED } from '../ipc/messages';
import { awaitHandover } from './handover-client';
import { PRIMARY_LINK, type PrimaryLink } from '../ipc/primary-link';
import { PreloadProcessContext } from './process-context';
import { PreloadState } from './preload-state';
import { startRecorder as recorder } from '../timeline/recorder';

/**
 * Runs the step plan when the app bootstraps, according to this process's role, and releases
 * what the module acquired (external caches, owned temp dirs) when it shuts down. @internal
 */
@Injectable()
export class PreloadBootstrapper implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger('Preload');
  private cachesTornDown: Promise<string[]> | null = null;

  constructor(
    private readonly explorer: StepExplorer,
    private readonly ctx: PreloadProcessContext,
    @Inject(PreloadState) private readonly state: PreloadState,
    @Inject(PRELOAD_RESOLVED_OPTIONS) private readonly options: ResolvedPreloadOptions,
    @Inject(PRIMARY_LINK) private readonly link: PrimaryLink | null,
  ) {}

  private running: Promise<void> | null = null;

  /**
   * Runs this role's steps once. `runCluster` calls it right after the app is created — before
   * `serve`, so whatever `serve` does (reading a settings table, `listen`) sees every step
   * complete; an app created without `runCluster` runs it at bootstrap.
   */
  run(): Promise<void> {
    return (this.running ??= this.runOnce());
  }

  async onApplicationBootstrap(): Promise<void> {
    await this.run();
  }

  private async runOnce(): Promise<void> {
    try {
      await this.runPlan();
      if (this.ctx.role === 'preloader') this.logger.log(`preload summary:\n${summaryTable(this.state.steps.values())}`);
    } catch (error) {
      // The preloader must survive any failure here (a bad plan included) so that its caller can
      // tear down and close the context in a finally, reset its state and report. Other roles
      // fail to start: a worker whose start-up failed must not serve.
      if (this.ctx.role !== 'preloader') throw error;
      this.state.abortReason = error instanceof CriticalStepError ? error.message : `the preload plan could not run: ${summarize(error)}`;
      if (this.state.steps.size) this.logger.log(`preload summary (abandoned):\n${summaryTable(this.state.steps.values())}`);
      const stack = error instanceof CriticalStepError ? error.cause : error;
      this.logger.error(this.state.abortReason, stack instanceof Error ? stack.stack : undefined);
      return;
    }
    this.state.ready = true;
  }

  private async runPlan(): Promise<void> {
    const steps = this.explorer.steps();
    const plan = StepPlan.build(steps);
    this.warnOfHostLocalDatabaseLock(steps);
    for (const step of plan.ordered) {
      this.state.steps.set(step.name, {
        name: step.name,
        critical: step.critical,
        status: 'pending',
        ranIn: null,
        durationMs: null,
        error: null,
      });
    }
    const invokers = new Map(steps.map((s) => [s.name, s]));
    // Pipelined start: the primary forks the workers now, so their boot overlaps the steps
    // instead of competing with this process's own boot.
    if (this.ctx.role === 'preloader') {
      // Node ≥ 22.10 with the cluster's compile cache: what building the app compiled is written
      // now, before the workers are forked, so their boot reuses it.
      if (process.env.NODE_COMPILE_CACHE) (nodeModule as { flushCompileCache?: () => void }).flushCompileCache?.();
      void this.link?.send({ type: STEPS_STARTED });
    }
    const toRun = this.ctx.role === 'worker' ? this.adoptManifest(plan, await this.handover()) : plan.ordered;
    await runSteps(toRun, this.state.steps, this.ctx.role, {
      invoke: (step) =>
        recorder.time(`step ${step.name}`, 'step', () => (invokers.get(step.name) as DiscoveredStep).invoke(), {
          role: this.ctx.role,
          critical: step.critical,
        }),
      onComplete: async (step, value) => {
        if (this.ctx.role === 'preloader' && value !== undefined) {
          const entry = await writeResult(this.requireRunDir(), step.name, value);
          this.state.resultEntries.set(step.name, entry);
        }
        this.state.values.set(step.name, value instanceof PreloadArtifact ? new MemoryArtifact(value) : value);
      },
      log: (message) => this.logger.log(message),
      error: (message, error) => this.logger.error(message, error instanceof Error ? error.stack : undefined),
      now: () => performance.now(),
    });
  }

  async beforeApplicationShutdown(): Promise<void> {
    const failures = await this.teardownCaches();
    for (const failure of failures) this.logger.warn(failure);
    for (const failure of this.state.tempDirs.removeAll()) this.logger.warn(`could not remove temp dir ${failure}`);
    for (const value of this.state.values.values()) if (value instanceof FileArtifact) value.close();
  }

  /**
   * Tears every external cache down once, each bounded by `cacheTeardownTimeoutMs`.
   * @returns one message per cache whose teardown failed or timed out.
   */
  teardownCaches(): Promise<string[]> {
    this.cachesTornDown ??= (async () => {
      const caches = this.explorer.caches();
      const failures: string[] = [];
      for (const { name, cache } of caches) {
        const bound = this.options.cacheTeardownTimeoutMs;
        const outcome = await Promise.race([
          cache.teardown().then(
            () => null,
            (error: unknown) => `cache ${String(name)} teardown failed: ${summarize(error)}`,
          ),
          sleep(bound, `cache ${String(name)} teardown did not finish within ${bound} ms`, { ref: false }),
        ]);
        if (outcome) failures.push(outcome);
      }
      return failures;
    })();
    return this.cachesTornDown;
  }

  /**
   * Where this worker's hand-over is: from its environment, or — pipelined start — asked of the
   * primary once the app is built, so no step runs here while the preloader still runs.
   */
  private async handover(): Promise<{ manifestPath: string; generation: string } | { reason: string }> {
    if (this.ctx.awaitHandover) {
      this.logger.log('app built; waiting for the preload hand-over before running any step');
      const answer = await recorder.time('hand-over wait', 'handover', () => awaitHandover(this.link));
      return answer.ok
        ? { manifestPath: answer.manifestPath, generation: answer.generation }
        : { reason: `the preload was abandoned (${answer.reason})` };
    }
    const { manifestPath, generation } = this.ctx;
    return manifestPath && generation
      ? { manifestPath, generation }
      : { reason: 'no preload hand-over was given to this worker (preload off or failed)' };
  }

  /** Marks what the trusted manifest says is done; returns the steps this worker must run. */
  private adoptManifest(
    plan: StepPlan,
    handover: { manifestPath: string; generation: string } | { reason: string },
  ): readonly StepDefinition[] {
    if ('reason' in handover) {
      this.state.notPreloadedReason = handover.reason;
      this.logger.log(`not preloaded: ${handover.reason}; running the full start-up`);
      return plan.ordered;
    }
    const { manifestPath, generation } = handover;
    const trust = readTrustedManifest(manifestPath, { generation, parentPid: this.ctx.parentPid });
    if (!trust.trusted) {
      this.state.notPreloadedReason = trust.reason;
      this.logger.warn(`not preloaded: ${trust.reason}; running the full start-up`);
      return plan.ordered;
    }
    const { manifest } = trust;
    this.state.manifest = manifest;
    this.state.manifestPath = manifestPath;
    const incomplete = new Set(plan.names);
    for (const record of manifest.steps) {
      const state = this.state.steps.get(record.name);
      if (!state || record.status !== 'complete') continue;
      const entry = manifest.results[record.name];
      if (entry) {
        const reason = verifyResult(runDirOf(manifestPath), entry);
        if (reason) {
          this.logger.warn(`the result of step ${record.name} cannot be used (${reason}); this worker redoes the step`);
          continue;
        }
        this.state.resultEntries.set(record.name, entry);
      }
      Object.assign(state, { status: 'complete', ranIn: record.ranIn, durationMs: record.durationMs, error: null });
      incomplete.delete(record.name);
    }
    const redo = plan.withDependents(incomplete);
    for (const step of redo) {
      Object.assign(this.state.steps.get(step.name) as object, { status: 'pending', ranIn: null, durationMs: null, error: null });
      this.state.resultEntries.delete(step.name);
    }
    this.logger.log(
      `preloaded from generation ${manifest.generation}; ${redo.length ? `redoing: ${redo.map((s) => s.name).join(', ')}` : 'nothing to redo'}`,
    );
    return redo;
  }

  /**
   * Warns, once per run of the plan, when database steps would run under the host-local file lock
   * on a platform that runs several instances: the process that runs the plan (a preloader — at
   * each start and each reload with a new preload —, a standalone or one-shot app, or worker 0 with
   * preload off, at each of its starts) says it; preloaded workers skip the steps and stay quiet.
   */
  private warnOfHostLocalDatabaseLock(steps: DiscoveredStep[]): void {
    if (this.options.hosts !== null || this.options.databaseLock?.crossHost) return;
    if (this.ctx.role === 'worker' && (this.ctx.awaitHandover || this.ctx.manifestPath || this.ctx.workerIndex !== 0)) return;
    const database = steps.filter((s) => s.scope === 'database').map((s) => s.name);
    const seen = detectMultiInstancePlatform();
    if (database.length && seen) this.logger.warn(PreloadMessages.hostLocalLockOnPlatform(seen.platform, seen.variable, database));
  }

  private requireRunDir(): string {
    if (!this.ctx.runDir) throw new Error('the preloader was started without a run dir (NEST_PRELOAD_RUN_DIR)');
    return this.ctx.runDir;
  }
}

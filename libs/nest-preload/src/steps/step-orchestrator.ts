import { type BeforeApplicationShutdown, Inject, Injectable, Logger, type OnApplicationBootstrap } from '@nestjs/common';
import { setTimeout as sleep } from 'node:timers/promises';
import { ResultUnavailableError } from '../errors/preload.error';
import { PreloadMessages } from '../errors/preload.messages';
import { MemoryArtifact, PreloadArtifact } from '../handover/artifact';
import type { ResultEntry } from '../handover/manifest';
import type { ResultFiles } from '../handover/result-files';
import { detectMultiInstancePlatform } from '../locks/platform';
import { PRELOAD_RESOLVED_OPTIONS } from '../preload.module-definition';
import type { ResolvedPreloadOptions } from '../preload.options';
import { PreloadState } from '../preload-state';
import { startRecorder as recorder } from '../timeline/recorder';
import { ROLE_STRATEGY, type RoleStrategy } from './role-strategy';
import { type DiscoveredStep, StepExplorer } from './step-explorer';
import { StepPlan } from './step-plan';
import { runSteps, summarize } from './step-runner';
import type { StepState } from './step.types';

/** How the plan ended in a process that survives a failed plan (the preloader); other roles throw instead. */
export type PlanOutcome = { ok: true } | { ok: false; reason: string };

/** What the preloader hands over, read once its plan ran. */
export interface HandoverParts {
  steps: StepState[];
  results: Record<string, ResultEntry>;
  /** Temp dirs this process made; from now on the primary owns and removes them. */
  tempDirs: string[];
}

/**
 * Runs the step plan once per process, the same way in every role, asking the role's
 * {@link RoleStrategy} only what differs; hands out the steps' values (from memory where they
 * ran, from the verified result files otherwise) and closes what it opened, tears the external
 * caches down and removes owned temp dirs when the app shuts down. @internal
 */
@Injectable()
export class StepOrchestrator implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger('Preload');
  private running: Promise<PlanOutcome> | null = null;
  private cachesTornDown: Promise<string[]> | null = null;
  private files: ResultFiles | null = null;

  constructor(
    private readonly explorer: StepExplorer,
    @Inject(ROLE_STRATEGY) private readonly strategy: RoleStrategy,
    @Inject(PreloadState) private readonly state: PreloadState,
    @Inject(PRELOAD_RESOLVED_OPTIONS) private readonly options: ResolvedPreloadOptions,
  ) {}

  /**
   * Runs this role's steps once. `runCluster` calls it right after the app is created — before
   * `serve`, so whatever `serve` does (reading a settings table, `listen`) sees every step
   * complete; an app created without `runCluster` runs it at bootstrap.
   * @throws when the plan failed, except in the preloader, whose outcome says why
   */
  run(): Promise<PlanOutcome> {
    return (this.running ??= this.runOnce());
  }

  async onApplicationBootstrap(): Promise<void> {
    await this.run();
  }

  private async runOnce(): Promise<PlanOutcome> {
    try {
      await this.runPlan();
    } catch (error) {
      return { ok: false, reason: this.strategy.failed(error, this.state) };
    }
    this.state.ready = true;
    this.strategy.finished(this.state);
    return { ok: true };
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
    const { toRun, files } = await this.strategy.select(plan, this.state);
    this.files = files;
    const role = this.strategy.role;
    await runSteps(toRun, this.state.steps, role, {
      invoke: (step) =>
        recorder.time(`step ${step.name}`, 'step', () => (invokers.get(step.name) as DiscoveredStep).invoke(), {
          role,
          critical: step.critical,
        }),
      onComplete: async (step, value) => {
        if (this.strategy.handsOver && value !== undefined) {
          if (!files) throw new Error('the preloader was started without a run dir (NEST_PRELOAD_RUN_DIR)');
          await recorder.time(`write result ${step.name}`, 'handover', () => files.write(step.name, value));
        }
        this.state.values.set(step.name, value instanceof PreloadArtifact ? new MemoryArtifact(value) : value);
      },
      log: (message) => this.logger.log(message),
      error: (message, error) => this.logger.error(message, error instanceof Error ? error.stack : undefined),
      now: () => performance.now(),
    });
  }

  /**
   * The value a step returned: from memory where it ran in this process, from its verified result
   * file otherwise (decoded once, on first use; an artifact as a file-backed handle).
   * @throws ResultUnavailableError when the step is not complete, or its file became unreadable.
   */
  result(name: string): unknown {
    if (this.state.values.has(name)) return this.state.values.get(name);
    const step = this.state.steps.get(name);
    if (step?.status !== 'complete') {
      throw new ResultUnavailableError(PreloadMessages.resultUnavailable(name, step ? step.status : 'not a step of this app'));
    }
    if (!this.files?.has(name)) return undefined;
    const read = this.files.read(name);
    if ('reason' in read) throw new ResultUnavailableError(PreloadMessages.resultUnreadable(name, read.reason));
    return read.value;
  }

  /** The preloader's hand-over, once its plan ran: every step's state, the result files it wrote, and its temp dirs, which pass to the primary. */
  handOver(): HandoverParts {
    return { steps: [...this.state.steps.values()], results: this.files?.entries() ?? {}, tempDirs: this.state.tempDirs.handOver() };
  }

  async beforeApplicationShutdown(): Promise<void> {
    const failures = await this.teardownCaches();
    for (const failure of failures) this.logger.warn(failure);
    for (const failure of this.state.tempDirs.removeAll()) this.logger.warn(`could not remove temp dir ${failure}`);
    this.files?.close();
  }

  /**
   * Tears every external cache down once, each bounded by `cacheTeardownTimeoutMs`.
   * @returns one message per cache whose teardown failed or timed out.
   */
  teardownCaches(): Promise<string[]> {
    this.cachesTornDown ??= (async () => {
      const failures: string[] = [];
      for (const { name, cache } of this.explorer.caches()) {
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
   * Warns, once per run of the plan, when database steps would run under the host-local file lock
   * on a platform that runs several instances: the process that runs the whole plan (a preloader —
   * at each start and each reload with a new preload —, a standalone or one-shot app, or worker 0
   * with preload off, at each of its starts) says it; preloaded workers skip the steps and stay quiet.
   */
  private warnOfHostLocalDatabaseLock(steps: DiscoveredStep[]): void {
    if (this.options.hosts !== null || this.options.databaseLock?.crossHost || !this.strategy.runsWholePlan) return;
    const database = steps.filter((s) => s.scope === 'database').map((s) => s.name);
    const seen = detectMultiInstancePlatform();
    if (database.length && seen) this.logger.warn(PreloadMessages.hostLocalLockOnPlatform(seen.platform, seen.variable, database));
  }
}

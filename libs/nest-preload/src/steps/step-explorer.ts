import { Injectable, Logger } from '@nestjs/common';
import { DiscoveryService, MetadataScanner, Reflector } from '@nestjs/core';
import type { InstanceWrapper } from '@nestjs/core/injector/instance-wrapper';
import { ExternalCache } from '../cache/external-cache';
import type { HeldLock } from '../locks/lock-backend';
import { StartupLock } from '../locks/startup-lock';
import { PRELOAD_STEP_METADATA } from './preload-step.decorator';
import type { PreloadStepOptions, StepContext, StepDefinition } from './step.types';

/** A step found on a provider or controller, with the call that runs it under its lock. */
export interface DiscoveredStep extends StepDefinition {
  invoke(): Promise<unknown>;
}

/**
 * Finds the app's `@PreloadStep()` methods and its external caches, as nestjs/schedule's explorer
 * finds `@Cron()` methods: on every provider and controller whose instance is a singleton. A step
 * on a request-scoped or transient host (or one that depends on such a provider) cannot run once
 * per cluster — there is no one instance to call — so it is skipped with a warning that says why
 * and what to do. @internal
 */
@Injectable()
export class StepExplorer {
  private readonly logger = new Logger('Preload');

  constructor(
    private readonly discovery: DiscoveryService,
    private readonly scanner: MetadataScanner,
    private readonly reflector: Reflector,
    private readonly lock: StartupLock,
  ) {}

  /** Every step of the app, each with its invoker (under the lock of its scope, unless `lock: false` or `scope: 'process'`). */
  steps(): DiscoveredStep[] {
    const steps: DiscoveredStep[] = [];
    for (const wrapper of this.hosts()) {
      const prototype = this.prototypeOf(wrapper);
      if (!prototype) continue;
      for (const method of this.scanner.getAllMethodNames(prototype)) {
        const fn = (prototype as Record<string, unknown>)[method];
        if (typeof fn !== 'function') continue;
        const options = this.reflector.get<PreloadStepOptions | undefined>(PRELOAD_STEP_METADATA, fn as () => unknown);
        if (!options) continue;
        if (!wrapper.isDependencyTreeStatic() || !wrapper.instance) {
          this.logger.warn(
            `preload step "${options.name}" on ${wrapper.name as string}.${method} is skipped: ${wrapper.name as string} is request-scoped or transient ` +
              '(or depends on a provider that is), so there is no one instance to run it once per cluster. Move the step to a singleton provider.',
          );
          continue;
        }
        steps.push(this.step(wrapper.instance as object, method, fn as (context: StepContext) => unknown, options));
      }
    }
    return steps;
  }

  /** The app's external caches (`ExternalCache` singletons), by provider name. */
  caches(): Array<{ name: string; cache: ExternalCache }> {
    return this.discovery
      .getProviders()
      .filter((w) => w.isDependencyTreeStatic() && w.instance instanceof ExternalCache)
      .map((w) => ({ name: String(w.name), cache: w.instance as ExternalCache }));
  }

  private hosts(): InstanceWrapper[] {
    return [...this.discovery.getProviders(), ...this.discovery.getControllers()];
  }

  /** The class prototype a host's methods are on (also for a host with no instance yet: a request-scoped one). */
  private prototypeOf(wrapper: InstanceWrapper): object | null {
    const { instance, metatype } = wrapper;
    if (instance && typeof instance === 'object') return Object.getPrototypeOf(instance) as object;
    // Value and factory providers have no class to scan.
    if (wrapper.isNotMetatype || typeof metatype !== 'function' || !metatype.prototype) return null;
    return metatype.prototype as object;
  }

  private step(instance: object, method: string, fn: (context: StepContext) => unknown, options: PreloadStepOptions): DiscoveredStep {
    const scope = options.scope ?? 'host';
    const call = async (lock: HeldLock | null) => fn.call(instance, { lock });
    return {
      name: options.name,
      after: options.after ?? [],
      critical: options.critical ?? false,
      scope,
      lockTimeoutMs: options.lockTimeoutMs,
      owner: `${instance.constructor.name}.${method}`,
      invoke: () =>
        scope === 'process' || options.lock === false
          ? call(null)
          : this.lock.withLock(`step-${options.name}`, call, { scope, timeoutMs: options.lockTimeoutMs }),
    };
  }
}

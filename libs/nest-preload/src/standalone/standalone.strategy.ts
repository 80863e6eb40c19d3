import type { RoleStrategy } from '../steps/role-strategy';
import type { StepPlan } from '../steps/step-plan';

/**
 * A standalone app (no cluster, a one-shot run, a test module) runs every step itself and hands
 * nothing over; a failed plan fails its start-up. @internal
 */
export class StandaloneStrategy implements RoleStrategy {
  readonly role = 'standalone';
  readonly handsOver = false;
  readonly runsWholePlan = true;

  async select(plan: StepPlan) {
    return { toRun: plan.ordered, files: null };
  }

  finished(): void {}

  failed(error: unknown): never {
    throw error;
  }
}

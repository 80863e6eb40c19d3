import { PreloadConfigError } from '../errors/preload.error';
import { PreloadMessages } from '../errors/preload.messages';
import type { StepDefinition } from './step.types';
import { isSafeName } from '../name-rule';

const SCOPES: readonly string[] = ['process', 'host', 'database'];

/** A validated step DAG in a stable topological order. */
export class StepPlan {
  private readonly byName: ReadonlyMap<string, StepDefinition>;

  private constructor(
    /** Steps in the order they run: prerequisites first, declaration order among equals. */
    readonly ordered: readonly StepDefinition[],
  ) {
    this.byName = new Map(ordered.map((s) => [s.name, s]));
  }

  /**
   * Validates the declared steps (names, duplicates, unknown prerequisites, cycles) and orders them.
   * @throws PreloadConfigError naming the steps involved.
   */
  static build(steps: readonly StepDefinition[]): StepPlan {
    const byName = new Map<string, StepDefinition>();
    for (const step of steps) {
      if (!isSafeName(step.name)) {
        throw new PreloadConfigError(PreloadMessages.invalidStepName(step.name, step.owner));
      }
      if (step.scope !== undefined && !SCOPES.includes(step.scope)) {
        throw new PreloadConfigError(PreloadMessages.invalidStepScope(step.name, step.owner, step.scope, SCOPES));
      }
      if (step.lockTimeoutMs !== undefined && (!Number.isInteger(step.lockTimeoutMs) || step.lockTimeoutMs <= 0)) {
        throw new PreloadConfigError(PreloadMessages.invalidStepLockTimeout(step.name, step.owner, step.lockTimeoutMs));
      }
      const seen = byName.get(step.name);
      if (seen) throw new PreloadConfigError(PreloadMessages.duplicateStep(step.name, [seen.owner, step.owner]));
      byName.set(step.name, step);
    }
    const known = [...byName.keys()];
    for (const step of steps) {
      for (const dep of step.after) {
        if (!byName.has(dep)) throw new PreloadConfigError(PreloadMessages.unknownPrerequisite(step.name, dep, known));
      }
    }
    return new StepPlan(topologicalOrder(steps, byName));
  }

  get names(): string[] {
    return this.ordered.map((s) => s.name);
  }

  get(name: string): StepDefinition | undefined {
    return this.byName.get(name);
  }

  /**
   * The given steps plus every step that depends on them, directly or not, in plan order: what a
   * worker must redo when the preloader left `incomplete` unfinished.
   */
  withDependents(incomplete: Iterable<string>): StepDefinition[] {
    const redo = new Set(incomplete);
    for (const step of this.ordered) {
      if (step.after.some((dep) => redo.has(dep))) redo.add(step.name);
    }
    return this.ordered.filter((s) => redo.has(s.name));
  }
}

/** Depth-first topological sort that reports the first cycle it meets as a path. */
function topologicalOrder(steps: readonly StepDefinition[], byName: Map<string, StepDefinition>): StepDefinition[] {
  const order: StepDefinition[] = [];
  const state = new Map<string, 'visiting' | 'done'>();
  const path: string[] = [];
  const visit = (step: StepDefinition): void => {
    const s = state.get(step.name);
    if (s === 'done') return;
    if (s === 'visiting') {
      const start = path.indexOf(step.name);
      throw new PreloadConfigError(PreloadMessages.cycle([...path.slice(start), step.name]));
    }
    state.set(step.name, 'visiting');
    path.push(step.name);
    for (const dep of step.after) visit(byName.get(dep) as StepDefinition);
    path.pop();
    state.set(step.name, 'done');
    order.push(step);
  };
  for (const step of steps) visit(step);
  return order;
}

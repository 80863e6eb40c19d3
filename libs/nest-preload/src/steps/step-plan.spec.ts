import { PreloadConfigError } from '../errors/preload.error';
import { StepPlan } from './step-plan';
import type { StepDefinition } from './step.types';

const step = (name: string, after: string[] = [], critical = false): StepDefinition => ({ name, after, critical, owner: `Steps.${name}` });

describe('StepPlan', () => {
  it('orders prerequisites first and keeps declaration order among independent steps', () => {
    const plan = StepPlan.build([
      step('starter_projects', ['types_cached']),
      step('profile_pictures'),
      step('types_cached', ['bundles']),
      step('bundles'),
      step('superuser', ['migrations']),
      step('migrations'),
    ]);
    expect(plan.names).toEqual(['bundles', 'types_cached', 'starter_projects', 'profile_pictures', 'migrations', 'superuser']);
  });

  it('rejects a duplicate name, naming both declarations', () => {
    expect(() => StepPlan.build([step('a'), { ...step('a'), owner: 'Other.a' }])).toThrow(
      new PreloadConfigError(
        'Preload step "a" is declared more than once (Steps.a, Other.a). Step names must be unique: rename one of them.',
      ),
    );
  });

  it('rejects an unknown prerequisite, naming the step, the missing name and the known steps', () => {
    expect(() => StepPlan.build([step('a'), step('b', ['c'])])).toThrow(
      /step "b" runs after "c", but no step is named "c". Known steps: a, b/,
    );
  });

  it('rejects a cycle and prints its path', () => {
    const build = () => StepPlan.build([step('a', ['c']), step('b', ['a']), step('c', ['b']), step('d')]);
    expect(build).toThrow(PreloadConfigError);
    expect(build).toThrow('Preload steps form a cycle: a -> c -> b -> a.');
  });

  it('rejects a step that runs after itself', () => {
    expect(() => StepPlan.build([step('a', ['a'])])).toThrow('cycle: a -> a');
  });

  it.each([[''], ['has space'], ['../x'], [42]])('rejects the invalid step name %p', (name) => {
    expect(() => StepPlan.build([{ ...step('x'), name: name as string }])).toThrow(/invalid name/);
  });

  it('gives the incomplete steps plus everything that depends on them, in plan order', () => {
    const plan = StepPlan.build([
      step('migrations'),
      step('superuser', ['migrations']),
      step('profile_pictures'),
      step('bundles'),
      step('types_cached', ['bundles']),
      step('starter_projects', ['types_cached', 'superuser']),
      step('flows', ['types_cached']),
    ]);
    expect(plan.withDependents(['types_cached']).map((s) => s.name)).toEqual(['types_cached', 'starter_projects', 'flows']);
    expect(plan.withDependents(['profile_pictures']).map((s) => s.name)).toEqual(['profile_pictures']);
    expect(plan.withDependents(['migrations']).map((s) => s.name)).toEqual(['migrations', 'superuser', 'starter_projects']);
    expect(plan.withDependents([])).toEqual([]);
  });
});

import { CriticalStepError } from '../errors/preload.error';
import { LockCompromisedError, LockTimeoutError } from '../errors/preload.error';
import { StepPlan } from './step-plan';
import { runSteps, type StepRunnerHooks, summaryTable } from './step-runner';
import type { StepDefinition, StepState } from './step.types';

const step = (name: string, after: string[] = [], critical = false): StepDefinition => ({ name, after, critical, owner: name });

function setup(defs: StepDefinition[], behaviour: Record<string, () => unknown>) {
  const plan = StepPlan.build(defs);
  const states = new Map<string, StepState>(
    plan.ordered.map((s) => [
      s.name,
      { name: s.name, critical: s.critical, status: 'pending', ranIn: null, durationMs: null, error: null },
    ]),
  );
  const calls: string[] = [];
  const values = new Map<string, unknown>();
  const errors: string[] = [];
  let clock = 0;
  const hooks: StepRunnerHooks = {
    invoke: async (s) => {
      calls.push(s.name);
      clock += 5;
      return behaviour[s.name]?.();
    },
    onComplete: (s, value) => void values.set(s.name, value),
    log: () => undefined,
    error: (message) => void errors.push(message),
    now: () => clock,
  };
  return { plan, states, calls, values, errors, hooks };
}

describe('runSteps', () => {
  it('runs every step in order and records status, role and duration', async () => {
    const t = setup([step('a'), step('b', ['a'])], { a: () => 1, b: () => ({ x: 2 }) });
    await runSteps(t.plan.ordered, t.states, 'preloader', t.hooks);
    expect(t.calls).toEqual(['a', 'b']);
    expect(t.states.get('b')).toEqual({ name: 'b', critical: false, status: 'complete', ranIn: 'preloader', durationMs: 5, error: null });
    expect(t.values.get('b')).toEqual({ x: 2 });
  });

  it('a failed best-effort step is logged, stays incomplete, its dependents are skipped, and the rest runs', async () => {
    const t = setup([step('pictures'), step('after_pictures', ['pictures']), step('bundles', [], true)], {
      pictures: () => {
        throw new Error('disk full');
      },
    });
    await runSteps(t.plan.ordered, t.states, 'preloader', t.hooks);
    expect(t.calls).toEqual(['pictures', 'bundles']);
    expect(t.states.get('pictures')).toMatchObject({ status: 'failed', error: 'Error: disk full', ranIn: 'preloader' });
    expect(t.states.get('after_pictures')).toMatchObject({
      status: 'skipped',
      error: expect.stringContaining('pictures did not complete'),
    });
    expect(t.states.get('bundles')?.status).toBe('complete');
    expect(t.errors).toEqual(['best-effort step pictures failed (it stays incomplete): Error: disk full']);
  });

  it('a failed critical step throws CriticalStepError at once with the cause, and nothing after it runs', async () => {
    const cause = new Error('archive corrupt');
    const t = setup([step('bundles', [], true), step('types', ['bundles'], true), step('other')], {
      bundles: () => {
        throw cause;
      },
    });
    const run = runSteps(t.plan.ordered, t.states, 'worker', t.hooks);
    await expect(run).rejects.toThrow(CriticalStepError);
    await run.catch((error: CriticalStepError) => {
      expect(error.step).toBe('bundles');
      expect(error.code).toBe('ERR_PRELOAD_CRITICAL_STEP');
      expect(error.cause).toBe(cause);
      expect(error.message).toBe(
        'Critical preload step "bundles" failed in this worker: Error: archive corrupt. This process cannot serve without it and stops.',
      );
    });
    expect(t.calls).toEqual(['bundles']);
    expect(t.states.get('types')?.status).toBe('pending');
  });

  it('a critical step whose best-effort prerequisite failed is skipped, which is critical', async () => {
    const t = setup([step('seed'), step('index', ['seed'], true)], {
      seed: () => {
        throw new Error('x');
      },
    });
    await expect(runSteps(t.plan.ordered, t.states, 'standalone', t.hooks)).rejects.toThrow(
      'Preload step "index" was not run: its prerequisite(s) seed did not complete.',
    );
  });

  it('logs a line when each step starts and ends, and summarizes the run in a table', async () => {
    const t = setup([step('a'), step('b', ['a']), step('c')], {
      c: () => {
        throw new Error('no');
      },
    });
    const lines: string[] = [];
    t.hooks.log = (m) => void lines.push(m);
    await runSteps(t.plan.ordered, t.states, 'preloader', t.hooks);
    expect(lines).toEqual(['step a started', 'step a complete in 5 ms', 'step b started', 'step b complete in 5 ms', 'step c started']);
    expect(summaryTable(t.states.values()).split('\n')).toEqual([
      'STEP  STATUS    RAN IN     DURATION',
      'a     complete  preloader  5 ms',
      'b     complete  preloader  5 ms',
      'c     failed    preloader  5 ms',
      'total 15 ms; workers will redo: c',
    ]);
  });

  it('a step whose lock was lost while it ran is redone once, and then complete', async () => {
    let calls = 0;
    const t = setup([step('superuser', [], true)], {
      superuser: () => {
        if (++calls === 1) throw new LockCompromisedError('lost', 'superuser');
        return 'ok';
      },
    });
    await runSteps(t.plan.ordered, t.states, 'worker', t.hooks);
    expect(t.calls).toEqual(['superuser', 'superuser']);
    expect(t.states.get('superuser')?.status).toBe('complete');
    expect(t.values.get('superuser')).toBe('ok');
  });

  it('a step whose lock wait timed out is not redone: it fails once, with the timeout as its error', async () => {
    const t = setup([step('seed'), step('after-seed', ['seed'])], {
      seed: () => {
        throw new LockTimeoutError('Timed out after 200 ms waiting for the lock "step-seed"', 'step-seed', 200);
      },
    });
    await runSteps(t.plan.ordered, t.states, 'worker', t.hooks);
    expect(t.calls).toEqual(['seed']);
    expect(t.states.get('seed')).toMatchObject({
      status: 'failed',
      error: expect.stringContaining('Timed out after 200 ms waiting for the lock "step-seed"'),
    });
    expect(t.states.get('after-seed')?.status).toBe('skipped');
  });

  it('a step whose onComplete fails (result not written) is failed, not complete', async () => {
    const t = setup([step('a')], { a: () => 1 });
    t.hooks.onComplete = () => {
      throw new Error('ENOSPC');
    };
    await runSteps(t.plan.ordered, t.states, 'preloader', t.hooks);
    expect(t.states.get('a')).toMatchObject({ status: 'failed', error: 'Error: ENOSPC' });
  });
});

import { CriticalStepError, LockCompromisedError } from '../errors/preload.error';
import { PreloadMessages } from '../errors/preload.messages';
import type { PreloadRole } from '../preload.constants';
import { formatTable } from '../format-table';
import type { StepDefinition, StepState } from './step.types';

/** What the runner needs from its host: how to invoke a step and where to report. */
export interface StepRunnerHooks {
  invoke(step: StepDefinition): Promise<unknown>;
  /** Called after a step completed, with its return value; a throw here fails the step. */
  onComplete?(step: StepDefinition, value: unknown, durationMs: number): Promise<void> | void;
  log(message: string): void;
  error(message: string, error: unknown): void;
  now(): number;
}

/**
 * Runs `toRun` in order, updating `states` (which holds every step of the plan).
 *
 * A step runs only when all its prerequisites are complete; otherwise it is skipped and stays
 * incomplete. A failed or skipped critical step throws {@link CriticalStepError} at once; a
 * best-effort failure is logged and the run goes on.
 */
export async function runSteps(
  toRun: readonly StepDefinition[],
  states: Map<string, StepState>,
  role: Exclude<PreloadRole, 'primary'>,
  hooks: StepRunnerHooks,
): Promise<void> {
  for (const step of toRun) {
    const state = states.get(step.name) as StepState;
    const missing = step.after.filter((dep) => states.get(dep)?.status !== 'complete');
    if (missing.length > 0) {
      const message = PreloadMessages.prerequisiteIncomplete(step.name, missing);
      Object.assign(state, { status: 'skipped', ranIn: role, durationMs: null, error: message });
      hooks.log(message);
      if (step.critical) throw new CriticalStepError(message, step.name);
      continue;
    }
    const started = hooks.now();
    hooks.log(`step ${step.name} started`);
    try {
      let value: unknown;
      try {
        value = await hooks.invoke(step);
      } catch (error) {
        // Its lock was lost while it ran (a holder stopped past the stale time): what it did is
        // not trusted, so it runs once more; steps are idempotent and the database constraints hold.
        if (!(error instanceof LockCompromisedError)) throw error;
        hooks.log(`step ${step.name}: ${error.message}; redoing it`);
        value = await hooks.invoke(step);
      }
      const durationMs = Math.round(hooks.now() - started);
      await hooks.onComplete?.(step, value, durationMs);
      Object.assign(state, { status: 'complete', ranIn: role, durationMs, error: null });
      hooks.log(`step ${step.name} complete in ${durationMs} ms`);
    } catch (error) {
      const summary = summarize(error);
      Object.assign(state, { status: 'failed', ranIn: role, durationMs: Math.round(hooks.now() - started), error: summary });
      if (step.critical) {
        throw new CriticalStepError(PreloadMessages.criticalStepFailed(step.name, summary, role), step.name, { cause: error });
      }
      hooks.error(`best-effort step ${step.name} failed (it stays incomplete): ${summary}`, error);
    }
  }
}

/** One line that says what went wrong, without a stack. */
export function summarize(error: unknown): string {
  if (error instanceof Error) return `${error.name}: ${error.message}`.split('\n')[0].slice(0, 500);
  return String(error).slice(0, 500);
}

/** The end-of-preload summary: each step, its outcome and duration, the total, and what workers will redo. */
export function summaryTable(states: Iterable<StepState>): string {
  const rows = [...states];
  const cells = [
    ['STEP', 'STATUS', 'RAN IN', 'DURATION'],
    ...rows.map((s) => [s.name, s.status, s.ranIn ?? '-', s.durationMs === null ? '-' : `${s.durationMs} ms`]),
  ];
  const total = rows.reduce((sum, s) => sum + (s.durationMs ?? 0), 0);
  const redo = rows.filter((s) => s.status !== 'complete').map((s) => s.name);
  return [formatTable(cells), `total ${total} ms; workers will redo: ${redo.length ? redo.join(', ') : 'nothing'}`].join('\n');
}

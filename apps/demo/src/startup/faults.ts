import { setTimeout as sleep } from 'node:timers/promises';
import type { DemoConfig } from '../config';

/**
 * Test hooks, off unless set: `DEMO_FAIL_STEPS=name[@role],…` makes a step throw (in every role,
 * or only in the given one), `DEMO_STEP_DELAY_MS=name[@role]:ms,…` makes it slow.
 */
export async function injectFaults(config: DemoConfig, step: string, role: string): Promise<void> {
  const delay = config.stepDelaysMs[`${step}@${role}`] ?? config.stepDelaysMs[step];
  if (delay) await sleep(delay);
  if (config.failSteps.includes(step) || config.failSteps.includes(`${step}@${role}`)) {
    throw new Error(`injected failure of step ${step} in the ${role} (DEMO_FAIL_STEPS)`);
  }
}

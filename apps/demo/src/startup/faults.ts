import { existsSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import type { DemoConfig } from '../config';

/**
 * Test hooks, off unless set: `DEMO_FAIL_STEPS=name[@role],…` makes a step throw (in every role,
 * or only in the given one), `DEMO_STEP_DELAY_MS=name[@role]:ms,…` makes it slow, and
 * `DEMO_STEP_GATE=name[@role]:/file,…` holds it until a test creates the file (an event, not a delay).
 */
export async function injectFaults(config: DemoConfig, step: string, role: string): Promise<void> {
  const gate = config.stepGates[`${step}@${role}`] ?? config.stepGates[step];
  if (gate) while (!existsSync(gate)) await sleep(20);
  const delay = config.stepDelaysMs[`${step}@${role}`] ?? config.stepDelaysMs[step];
  if (delay) await sleep(delay);
  if (config.failSteps.includes(step) || config.failSteps.includes(`${step}@${role}`)) {
    throw new Error(`injected failure of step ${step} in the ${role} (DEMO_FAIL_STEPS)`);
  }
}

import { NAME_RULE_TEXT } from '../name-rule';

/** A value as a message shows it: JSON where JSON says it truly (`NaN` is not `null`, `undefined` is not left out). */
function shown(value: unknown): string {
  if (typeof value === 'number' && !Number.isFinite(value)) return String(value);
  if (value === undefined) return 'undefined';
  if (typeof value === 'bigint') return `${value}n`;
  if (typeof value === 'function') return 'a function';
  return JSON.stringify(value) ?? String(value);
}
/** Milliseconds as seconds with one decimal, for messages. */
export const msAsSeconds = (ms: number) => (ms / 1000).toFixed(1);

/**
 * Every message this library throws or logs about a user's mistake: what happened, the offending
 * value, and what to do.
 */
export const PreloadMessages = {
  duplicateStep: (name: string, owners: string[]) =>
    `Preload step "${name}" is declared more than once (${owners.join(', ')}). Step names must be unique: rename one of them.`,
  unknownPrerequisite: (step: string, missing: string, known: string[]) =>
    `Preload step "${step}" runs after "${missing}", but no step is named "${missing}". Known steps: ${known.join(', ') || '(none)'}. Fix the name in its "after" list.`,
  cycle: (path: string[]) =>
    `Preload steps form a cycle: ${path.join(' -> ')}. A step cannot (even indirectly) run after itself: remove one of these "after" entries.`,
  invalidStepName: (name: unknown, owner: string) =>
    `Preload step on ${owner} has an invalid name ${JSON.stringify(name)}: use a non-empty string of ${NAME_RULE_TEXT}.`,
  unknownStep: (name: string, known: string[]) => `No preload step is named "${name}". Known steps: ${known.join(', ') || '(none)'}.`,
  resultUnavailable: (name: string, status: string) =>
    `The result of preload step "${name}" is not available in this process: the step is ${status}. Check isStepComplete("${name}") first.`,
  invalidOption: (key: string, value: unknown, expected: string, of = 'preload option') =>
    `Invalid ${of} ${key}=${shown(value)}: expected ${expected}.`,
  /** The same for an option of `runCluster` (the supervisor's and the entry's). */
  invalidClusterOption: (key: string, value: unknown, expected: string) =>
    `Invalid runCluster option ${key}=${shown(value)}: expected ${expected}.`,
  invalidEnv: (name: string, value: string, expected: string) =>
    `Invalid environment variable ${name}=${JSON.stringify(value)}: expected ${expected}.`,
  unknownOption: (key: string, known: string[]) => `Unknown option "${key}". Known options: ${known.join(', ')}. Check its spelling.`,
  lockTimeout: (name: string, timeoutMs: number, lockPath: string) =>
    `Timed out after ${timeoutMs} ms waiting for the startup lock "${name}" (${lockPath}). Another process holds it; if none runs, the lock will be taken over once it is stale.`,
  lockWaiting: (what: string, holder: string, timeoutMs: number) =>
    `The ${what} is held by ${holder}; waiting up to ${msAsSeconds(timeoutMs)} s.`,
  lockStillWaiting: (what: string, holder: string, waitedMs: number, timeoutMs: number) =>
    `Still waiting for the ${what}, held by ${holder} (waited ${msAsSeconds(waitedMs)} s of ${msAsSeconds(timeoutMs)} s).`,
  lockAcquiredAfterWait: (what: string, waitedMs: number) => `Acquired the ${what} after waiting ${msAsSeconds(waitedMs)} s.`,
  lockCompromised: (name: string, cause: string) =>
    `The startup lock "${name}" was lost while its work ran (${cause}). The work is treated as not done and will be redone.`,
  criticalStepFailed: (name: string, cause: string, role = 'preloader') =>
    role === 'preloader'
      ? `Critical preload step "${name}" failed: ${cause}. The preload is abandoned; workers will run the full start-up.`
      : `Critical preload step "${name}" failed in this ${role === 'worker' ? 'worker' : 'app'}: ${cause}. This process cannot serve without it and stops${role === 'worker' ? '' : '; fix the cause and start it again'}.`,
  prerequisiteIncomplete: (name: string, missing: string[]) =>
    `Preload step "${name}" was not run: its prerequisite(s) ${missing.join(', ')} did not complete.`,
  hostLocalLockOnPlatform: (platform: string, variable: string, steps: string[]) =>
    `This app runs on ${platform} (${variable} is set), where an app usually runs as several instances on several hosts, ` +
    `and its database step(s) ${steps.join(', ')} are guarded by a file lock that only excludes processes of this host: ` +
    `instances on other hosts can run them at the same time (two migration runs, duplicate seeds). ` +
    `Fix: PreloadModule.forRoot({ hosts: 'multiple', databaseLock: pgAdvisoryLock({ connection: process.env.DATABASE_URL }) }) ` +
    `(from @lf/nest-preload/pg; typeOrmAdvisoryLock(dataSource) from @lf/nest-preload/typeorm on TypeORM) — also with a one-shot Job (NEST_PRELOAD_ONE_SHOT=true) before the rollout, since every replica's preloader still runs them. ` +
    `If this deployment runs exactly one instance, say so with hosts: 'single' and this warning goes away.`,
} as const;

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
  missingEntry: (key: 'app' | 'serve') =>
    key === 'app'
      ? 'runCluster needs `app`: a function that loads the root module, e.g. () => import("./app.module").then((m) => m.AppModule).'
      : 'runCluster needs `serve`: a function that starts serving the app, e.g. (app) => app.listen(3000).',
  hostsMultipleNeedsCrossHostLock: (given: string | null) =>
    `hosts: "multiple" needs a databaseLock that excludes other hosts${given ? ` (the "${given}" lock given does not)` : ''}: ` +
    'file locks cannot see processes on other hosts. With PostgreSQL, use pgAdvisoryLock({ connection: process.env.DATABASE_URL }) from @lf/nest-preload/pg (any ORM), or typeOrmAdvisoryLock(dataSource) from @lf/nest-preload/typeorm (see "Several hosts" in the README); SQLite cannot be shared by several hosts.',
  invalidStepScope: (name: string, owner: string, scope: unknown, scopes: readonly string[]) =>
    `Preload step "${name}" (${owner}) has scope ${JSON.stringify(scope)}: expected one of ${scopes.map((s) => `"${s}"`).join(', ')}.`,
  invalidStepLockTimeout: (name: string, owner: string, value: unknown) =>
    `Preload step "${name}" (${owner}) has lockTimeoutMs ${JSON.stringify(value)}: expected a positive whole number of milliseconds.`,
  resultUnreadable: (name: string, reason: string) => `The result of preload step "${name}" became unreadable: ${reason}.`,
  pgUrlExpected: (shownUrl: string) =>
    `pgAdvisoryLock needs a postgres:// (or postgresql://) URL, got "${shownUrl}". ` +
    'Pass the URL your ORM connects with (e.g. process.env.DATABASE_URL), or pg client settings ({ host, port, user, password, database }).',
  pgConnectionMissing: () =>
    'pgAdvisoryLock needs `connection`: the postgres:// URL your ORM connects with, or pg client settings ({ host, port, user, password, database }).',
  pgConnectMissing: () => 'PgAdvisoryLock needs `connect`: a function that opens a dedicated PostgreSQL connection.',
  lockConnectFailed: (name: string, where: string, cause: string) =>
    `Could not open the connection for the database lock "${name}"${where}: ${cause}. Check that PostgreSQL is reachable.`,
  typeOrmNotPostgres: (type: string) =>
    `typeOrmAdvisoryLock needs a PostgreSQL DataSource, this one is "${type}". ` +
    (type === 'better-sqlite3' || type === 'sqlite'
      ? 'SQLite cannot be shared by several hosts: use PostgreSQL for a multi-host deployment, or run one host and leave databaseLock unset.'
      : 'Leave databaseLock unset with one host (the file lock guards the work).'),
  hostLocalLockOnPlatform: (platform: string, variable: string, steps: string[]) =>
    `This app runs on ${platform} (${variable} is set), where an app usually runs as several instances on several hosts, ` +
    `and its database step(s) ${steps.join(', ')} are guarded by a file lock that only excludes processes of this host: ` +
    `instances on other hosts can run them at the same time (two migration runs, duplicate seeds). ` +
    `Fix: PreloadModule.forRoot({ hosts: 'multiple', databaseLock: pgAdvisoryLock({ connection: process.env.DATABASE_URL }) }) ` +
    `(from @lf/nest-preload/pg; typeOrmAdvisoryLock(dataSource) from @lf/nest-preload/typeorm on TypeORM) — also with a one-shot Job (NEST_PRELOAD_ONE_SHOT=true) before the rollout, since every replica's preloader still runs them. ` +
    `If this deployment runs exactly one instance, say so with hosts: 'single' and this warning goes away.`,
} as const;

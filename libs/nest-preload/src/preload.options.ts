import { tmpdir } from 'node:os';
import { isAbsolute, join } from 'node:path';
import { PreloadConfigError } from './errors/preload.error';
import { PreloadMessages } from './errors/preload.messages';
import { DEFAULT_LOCK_OPTIONS, isLockBackend, type LockBackend } from './locks/lock-backend';

/** Options of `PreloadModule.forRoot()` / `forRootAsync()`. */
export interface PreloadModuleOptions {
  /**
   * Directory of the host-local startup locks. Every process that must be excluded (all workers
   * of all clusters sharing one database on this host) must use the same dir.
   * @default `${os.tmpdir()}/nest-preload-locks`
   */
  lockDir?: string;
  /**
   * How long `StartupLock.withLock` waits by default. It must be longer than `lockStaleMs`, or a
   * lock left by a killed holder could never be taken over in time.
   * @default 15000
   */
  lockTimeoutMs?: number;
  /**
   * Age after which a lock whose holder stopped refreshing it is taken over (minimum 2000).
   * @default 10000
   */
  lockStaleMs?: number;
  /**
   * Where temp dirs made with `PreloadService.createTempDir()` go (the preloader uses a dir the
   * primary owns instead).
   * @default os.tmpdir()
   */
  tempRoot?: string;
  /**
   * Whether `/health/preload` shows details (role, pid, generation, steps). Keep it off where the
   * endpoint is public.
   * @default false
   */
  healthDetails?: boolean;
  /**
   * Upper bound for tearing down each external cache.
   * @default 5000
   */
  cacheTeardownTimeoutMs?: number;
  /**
   * Per artifact result, how many bytes of the slices a worker reads are kept in its heap after
   * the first read (the first slices read, up to this total). A slice served on every request (an
   * index) is then not copied out of the page cache each time; `0` always reads from the file.
   * @default 8388608 (8 MiB)
   */
  artifactCacheBytes?: number;
  /**
   * The lock for `database`-scope steps (and `StartupLock.withLock(…, { scope: 'database' })`):
   * one that excludes other hosts, e.g. `typeOrmAdvisoryLock(dataSource)` from
   * `@lf/nest-preload/typeorm`. Unset, the file lock guards database work, which is enough on one host.
   * @default null
   */
  databaseLock?: LockBackend | null;
  /**
   * `multiple` when several hosts (replicas, pods) run this app against one database: the module
   * then refuses to start without a cross-host `databaseLock`, instead of racing on the database.
   * `single` says that exactly one host runs it. Unset, one host is assumed — and on a platform
   * that runs several instances (Kubernetes, Heroku, ECS, Cloud Run, Fly.io, …, told by its
   * variables) the process that runs `database`-scope steps under the file lock warns at start.
   * @default unset (one host, with that warning)
   */
  hosts?: 'single' | 'multiple';
}

/** Every option with its default (`hosts` stays `null` when the app did not say). */
export type ResolvedPreloadOptions = Required<Omit<PreloadModuleOptions, 'hosts'>> & { hosts: 'single' | 'multiple' | null };

/** The defaults, in one place. */
export const DEFAULT_PRELOAD_OPTIONS: Readonly<ResolvedPreloadOptions> = Object.freeze({
  lockDir: join(tmpdir(), 'nest-preload-locks'),
  lockTimeoutMs: DEFAULT_LOCK_OPTIONS.timeoutMs,
  lockStaleMs: DEFAULT_LOCK_OPTIONS.staleMs,
  tempRoot: tmpdir(),
  healthDetails: false,
  cacheTeardownTimeoutMs: 5_000,
  artifactCacheBytes: 8 * 2 ** 20,
  databaseLock: null,
  hosts: null,
});

/**
 * Merges `options` over the defaults and validates every field.
 * @throws PreloadConfigError on an unknown key or a bad value.
 */
export function resolvePreloadOptions(options: PreloadModuleOptions = {}): ResolvedPreloadOptions {
  const known = Object.keys(DEFAULT_PRELOAD_OPTIONS);
  for (const key of Object.keys(options)) {
    // ConfigurableModuleBuilder passes its extras (isGlobal) through with the options.
    if (!known.includes(key) && key !== 'isGlobal') throw new PreloadConfigError(PreloadMessages.unknownOption(key, known));
  }
  const defined = Object.fromEntries(Object.entries(options).filter(([k, v]) => v !== undefined && k !== 'isGlobal'));
  const resolved = { ...DEFAULT_PRELOAD_OPTIONS, ...defined } as ResolvedPreloadOptions;
  for (const key of ['lockDir', 'tempRoot'] as const) {
    if (typeof resolved[key] !== 'string' || !isAbsolute(resolved[key])) {
      throw new PreloadConfigError(PreloadMessages.invalidOption(key, resolved[key], 'an absolute path'));
    }
  }
  for (const key of ['lockTimeoutMs', 'cacheTeardownTimeoutMs'] as const) {
    if (!Number.isInteger(resolved[key]) || resolved[key] <= 0) {
      throw new PreloadConfigError(PreloadMessages.invalidOption(key, resolved[key], 'a positive whole number of milliseconds'));
    }
  }
  if (!Number.isInteger(resolved.artifactCacheBytes) || resolved.artifactCacheBytes < 0) {
    throw new PreloadConfigError(
      PreloadMessages.invalidOption('artifactCacheBytes', resolved.artifactCacheBytes, 'a whole number of bytes, 0 or more'),
    );
  }
  if (!Number.isInteger(resolved.lockStaleMs) || resolved.lockStaleMs < 2_000) {
    throw new PreloadConfigError(
      PreloadMessages.invalidOption('lockStaleMs', resolved.lockStaleMs, 'a whole number of milliseconds, at least 2000'),
    );
  }
  if (resolved.lockTimeoutMs <= resolved.lockStaleMs) {
    throw new PreloadConfigError(
      PreloadMessages.invalidOption(
        'lockTimeoutMs',
        resolved.lockTimeoutMs,
        `more than lockStaleMs (${resolved.lockStaleMs}), so that a lock left by a killed holder can be taken over in time`,
      ),
    );
  }
  if (typeof resolved.healthDetails !== 'boolean') {
    throw new PreloadConfigError(PreloadMessages.invalidOption('healthDetails', resolved.healthDetails, 'true or false'));
  }
  if (resolved.databaseLock !== null && !isLockBackend(resolved.databaseLock)) {
    throw new PreloadConfigError(
      PreloadMessages.invalidOption(
        'databaseLock',
        describeValue(resolved.databaseLock),
        'a lock backend (withLock, kind, crossHost), e.g. typeOrmAdvisoryLock(dataSource)',
      ),
    );
  }
  if (resolved.hosts !== null && resolved.hosts !== 'single' && resolved.hosts !== 'multiple') {
    throw new PreloadConfigError(PreloadMessages.invalidOption('hosts', resolved.hosts, '"single" or "multiple"'));
  }
  if (resolved.hosts === 'multiple' && !resolved.databaseLock?.crossHost) {
    throw new PreloadConfigError(
      `hosts: "multiple" needs a databaseLock that excludes other hosts${resolved.databaseLock ? ` (the "${resolved.databaseLock.kind}" lock given does not)` : ''}: ` +
        'file locks cannot see processes on other hosts. With PostgreSQL, use pgAdvisoryLock({ connection: process.env.DATABASE_URL }) from @lf/nest-preload/pg (any ORM), or typeOrmAdvisoryLock(dataSource) from @lf/nest-preload/typeorm (see "Several hosts" in the README); SQLite cannot be shared by several hosts.',
    );
  }
  return resolved;
}

/** A short, safe description of a value that may be a large or circular object. */
function describeValue(value: unknown): string {
  if (typeof value !== 'object' || value === null) return String(value);
  return `an object of class ${(value as object).constructor?.name ?? 'Object'}`;
}

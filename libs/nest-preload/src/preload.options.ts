import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PreloadConfigError } from './errors/preload.error';
import { PreloadMessages } from './errors/preload.messages';
import { DEFAULT_LOCK_OPTIONS, isLockBackend, type LockBackend } from './locks/lock-backend';
import { fixed, kinds, type OptionTable, resolveTable, tableDefaults } from './option-table';

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
   * @default unset
   */
  hosts?: 'single' | 'multiple';
}

/** Every option with its default (`hosts` stays `null` when the app did not say). */
export type ResolvedPreloadOptions = Required<Omit<PreloadModuleOptions, 'hosts'>> & { hosts: 'single' | 'multiple' | null };

/**
 * The options, one row each: the default (as computed, and as the TSDoc above and the README
 * show it), what a valid value is. Defaults, validation and the unknown-key message come from
 * here; `option-tables.spec.ts` keeps the TSDoc and the README equal to it.
 */
export const PRELOAD_OPTION_TABLE: OptionTable<PreloadModuleOptions> = {
  lockDir: { shown: '`${os.tmpdir()}/nest-preload-locks`', default: () => join(tmpdir(), 'nest-preload-locks'), ...kinds.absolutePath },
  lockTimeoutMs: { shown: '15000', default: fixed(DEFAULT_LOCK_OPTIONS.timeoutMs), ...kinds.positiveMs },
  lockStaleMs: {
    shown: '10000',
    default: fixed(DEFAULT_LOCK_OPTIONS.staleMs),
    expected: 'a whole number of milliseconds, at least 2000',
    valid: (v) => Number.isInteger(v) && (v as number) >= 2_000,
  },
  tempRoot: { shown: 'os.tmpdir()', default: () => tmpdir(), ...kinds.absolutePath },
  healthDetails: { shown: 'false', default: fixed(false), ...kinds.boolean },
  cacheTeardownTimeoutMs: { shown: '5000', default: fixed(5_000), ...kinds.positiveMs },
  artifactCacheBytes: {
    shown: '8388608 (8 MiB)',
    default: fixed(8 * 2 ** 20),
    expected: 'a whole number of bytes, 0 or more',
    valid: kinds.count.valid,
  },
  databaseLock: {
    shown: 'null',
    default: fixed(null),
    expected: 'a lock backend (withLock, kind, crossHost), e.g. typeOrmAdvisoryLock(dataSource)',
    valid: (v) => v === null || isLockBackend(v),
    describe: describeValue,
  },
  // `null` when the app did not say.
  hosts: {
    shown: 'unset',
    default: fixed(null),
    expected: '"single" or "multiple"',
    valid: (v) => v === null || v === 'single' || v === 'multiple',
  },
};

/** The defaults, from the table. */
export const DEFAULT_PRELOAD_OPTIONS: Readonly<ResolvedPreloadOptions> = Object.freeze(
  tableDefaults(PRELOAD_OPTION_TABLE) as ResolvedPreloadOptions,
);

/**
 * Merges `options` over the defaults and validates every field.
 * @throws PreloadConfigError on an unknown key or a bad value.
 */
export function resolvePreloadOptions(options: PreloadModuleOptions = {}): ResolvedPreloadOptions {
  // ConfigurableModuleBuilder passes its extras (isGlobal) through with the options.
  const given = Object.fromEntries(Object.entries(options).filter(([k]) => k !== 'isGlobal'));
  const resolved = resolveTable(PRELOAD_OPTION_TABLE, given, (key, value, expected) =>
    PreloadMessages.invalidOption(key, value, expected),
  ) as ResolvedPreloadOptions;
  if (resolved.lockTimeoutMs <= resolved.lockStaleMs) {
    throw new PreloadConfigError(
      PreloadMessages.invalidOption(
        'lockTimeoutMs',
        resolved.lockTimeoutMs,
        `more than lockStaleMs (${resolved.lockStaleMs}), so that a lock left by a killed holder can be taken over in time`,
      ),
    );
  }
  if (resolved.hosts === 'multiple' && !resolved.databaseLock?.crossHost) {
    throw new PreloadConfigError(PreloadMessages.hostsMultipleNeedsCrossHostLock(resolved.databaseLock?.kind ?? null));
  }
  return resolved;
}

/** A short, safe description of a value that may be a large or circular object. */
function describeValue(value: unknown): string {
  if (typeof value !== 'object' || value === null) return String(value);
  return `an object of class ${(value as object).constructor?.name ?? 'Object'}`;
}

import { existsSync, statfsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { DEFAULT_FETCH_POLICY, type FetchPolicy, worstCaseMs } from './components/fetch-policy';

/** The demo's configuration, read from the environment once per process. Nest-free. */
export interface DemoConfig {
  port: number;
  host: string;
  /** Worker count; 0 = standalone (no cluster). */
  workers: number;
  databaseUrl: string | null;
  dataDir: string;
  configDir: string;
  redisUrl: string | null;
  autoLogin: boolean;
  healthDetails: boolean;
  superuser: string;
  superuserPassword: string | null;
  /** Archives of extra component modules: local paths, file:// or http(s):// URLs. */
  bundleUrls: string[];
  /** `BUNDLE_REQUIRED` (default true): a bundle that cannot be loaded fails the preload; false skips it with a warning. */
  bundleRequired: boolean;
  /** `BUNDLE_TIMEOUT_MS`, `BUNDLE_RETRIES`, `BUNDLE_RETRY_DELAY_MS`: each download's bound and its retries. */
  bundleFetch: FetchPolicy;
  /** Archive-bomb limits for bundles. */
  bundleLimits: { maxEntries: number; maxBytes: number };
  /** `STARTER_PROJECTS_DIR`: the starter projects to seed (default: the ones shipped in assets/). */
  starterProjectsDir: string;
  /** A directory of flow JSON files to load, or null. */
  flowsPath: string | null;
  /** Whether the built-in component library is part of the index (off only to measure the floor). */
  builtinComponents: boolean;
  gracefulTimeoutMs: number;
  preloadTimeoutMs: number;
  /** Supervision options passed to runCluster when set (unset: the library's defaults). */
  supervision: Partial<Record<(typeof SUPERVISION_ENV)[number][1], number>>;
  /** Where the primary creates its private cluster dir (runCluster's runRoot), or null for the default. */
  runRoot: string | null;
  /** Test-only endpoints (/__test/hang, /__test/slow); never on in production. */
  testHooks: boolean;
  /** On SIGHUP, preload a new generation first (runCluster's reloadPreload). */
  reloadPreload: boolean;
  /** `pipelined`, `serial` or `auto` (runCluster's preloadStart). */
  preloadStart: 'pipelined' | 'serial' | 'auto';
  /** `serves` or `exits` (runCluster's preloader). */
  preloader: 'serves' | 'exits';
  /** `HEAVY_PRELOADER_RATIO`: runCluster's heavyPreloaderRatio, or null for its default. */
  heavyPreloaderRatio: number | null;
  /** Test hooks: steps to fail and steps to slow down (`name` or `name@role`). */
  failSteps: string[];
  stepDelaysMs: Record<string, number>;
  /** `DEMO_STEP_GATE=name[@role]:/abs/file,…`: the step waits until the file exists (tests give the signal). */
  stepGates: Record<string, string>;
  /** `DEMO_EXIT_AFTER_READY_MS`: a test hook; each worker exits with code 1 this long after it listens (a crash loop). */
  exitAfterReadyMs: number;
  /** Several hosts run this app against one database (PreloadModule's `hosts: 'multiple'`). */
  multiHost: boolean;
  /** How long startup locks wait (PreloadModule's lockTimeoutMs; more than its 10 s stale time). */
  lockTimeoutMs: number;
  /** `DB_RETRY_ATTEMPTS`: TypeORM's connection attempts at start, 1 s apart (TypeORM's own default is 10, 3 s apart). */
  dbRetryAttempts: number;
  /** Run only the preload in this process and exit with its status (runCluster's oneShot). */
  oneShot: boolean;
  /** PreloadModule's artifactCacheBytes (bytes of index slices a worker keeps after reading them). */
  artifactCacheBytes: number;
  /** runCluster's compileCache (Node ≥ 22.1). */
  compileCache: boolean;
  /** Extra Node flags for the workers only (runCluster's workerExecArgv). */
  workerNodeFlags: string[];
  /** `AGENTIC_EXPERIENCE`: seed Langflow's agentic variables and MCP-server config (default true). */
  agenticExperience: boolean;
  /** Seed the database and config dir (superuser, starter projects, flows, pictures); off only to measure the floor. */
  seed: boolean;
}

/** Environment variable → runCluster option, for the supervision knobs. */
export const SUPERVISION_ENV = [
  ['BOOT_TIMEOUT_MS', 'bootTimeoutMs'],
  ['MAX_RESTARTS', 'maxRestarts'],
  ['RESTART_WINDOW_MS', 'restartWindowMs'],
  ['HEARTBEAT_INTERVAL_MS', 'heartbeatIntervalMs'],
  ['HEARTBEAT_TIMEOUT_MS', 'heartbeatTimeoutMs'],
  ['MAX_REQUESTS', 'maxRequests'],
  ['MAX_REQUESTS_JITTER', 'maxRequestsJitter'],
  ['MAX_RSS_MB', 'maxRssMb'],
  ['PIPELINE_CONCURRENCY', 'pipelineConcurrency'],
  ['DRAIN_TIMEOUT_MS', 'drainTimeoutMs'],
  ['MIN_UPTIME_MS', 'minUptimeMs'],
  ['RESTART_DELAY_MS', 'restartDelayMs'],
  ['MAX_RESTART_DELAY_MS', 'maxRestartDelayMs'],
] as const;

/** A ratio of 1 or more, or 0; unset → null. */
function ratio(env: NodeJS.ProcessEnv, name: string): number | null {
  const raw = env[name]?.trim();
  if (!raw) return null;
  const value = Number(raw);
  if (!Number.isFinite(value) || (value !== 0 && value < 1))
    throw new DemoConfigError(`${name}=${JSON.stringify(raw)} is invalid: use a ratio of 1 or more (e.g. 1.12), or 0.`);
  return value;
}

/** A bad environment variable: the message says which, what it was, and what is expected. */
export class DemoConfigError extends Error {
  override name = 'DemoConfigError';
}

const bool = (env: NodeJS.ProcessEnv, name: string, fallback: boolean): boolean => {
  const raw = env[name]?.trim().toLowerCase();
  if (raw === undefined || raw === '') return fallback;
  if (['true', '1', 'yes', 'on'].includes(raw)) return true;
  if (['false', '0', 'no', 'off'].includes(raw)) return false;
  throw new DemoConfigError(`${name}=${JSON.stringify(env[name])} is not a boolean: use true or false.`);
};

const int = (env: NodeJS.ProcessEnv, name: string, fallback: number, min: number, max: number): number => {
  const raw = env[name]?.trim();
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!/^\d+$/.test(raw) || value < min || value > max) {
    throw new DemoConfigError(`${name}=${JSON.stringify(raw)} is invalid: use a whole number from ${min} to ${max}.`);
  }
  return value;
};

const oneOf = <T extends string>(env: NodeJS.ProcessEnv, name: string, values: readonly T[], fallback: T): T => {
  const raw = env[name]?.trim();
  if (raw === undefined || raw === '') return fallback;
  if (!values.includes(raw as T)) throw new DemoConfigError(`${name}=${JSON.stringify(raw)} is invalid: use one of ${values.join(', ')}.`);
  return raw as T;
};

/** Reads and validates the demo's environment. @throws DemoConfigError */
export function readDemoConfig(env: NodeJS.ProcessEnv = process.env, cwd = process.cwd()): DemoConfig {
  const dataDir = resolve(cwd, env.DATA_DIR || '.data');
  const databaseUrl = env.DATABASE_URL?.trim() || null;
  if (databaseUrl && !/^postgres(ql)?:\/\//.test(databaseUrl)) {
    throw new DemoConfigError(
      `DATABASE_URL must be a postgres:// URL (got a value starting ${JSON.stringify(databaseUrl.slice(0, 12))}); unset it to use SQLite in DATA_DIR.`,
    );
  }
  const redisUrl = env.REDIS_URL?.trim() || null;
  if (redisUrl && !/^rediss?:\/\//.test(redisUrl))
    throw new DemoConfigError(`REDIS_URL must be a redis:// URL; unset it to use the in-memory cache.`);
  const configDir = env.CONFIG_DIR ? resolve(cwd, env.CONFIG_DIR) : join(dataDir, 'config');
  const stepDelaysMs: Record<string, number> = {};
  for (const item of (env.DEMO_STEP_DELAY_MS ?? '').split(',').filter(Boolean)) {
    const [step, ms] = item.split(':');
    if (!step || !/^\d+$/.test(ms ?? ''))
      throw new DemoConfigError(`DEMO_STEP_DELAY_MS item ${JSON.stringify(item)} is invalid: use step[@role]:milliseconds.`);
    stepDelaysMs[step] = Number(ms);
  }
  const stepGates: Record<string, string> = {};
  for (const item of (env.DEMO_STEP_GATE ?? '').split(',').filter(Boolean)) {
    const at = item.indexOf(':');
    const [step, file] = at > 0 ? [item.slice(0, at), item.slice(at + 1)] : [item, ''];
    if (!file.startsWith('/'))
      throw new DemoConfigError(`DEMO_STEP_GATE item ${JSON.stringify(item)} is invalid: use step[@role]:/absolute/file.`);
    stepGates[step] = file;
  }
  const config: DemoConfig = {
    port: int(env, 'PORT', 3000, 0, 65535),
    host: env.HOST?.trim() || '127.0.0.1',
    workers: int(env, 'WORKERS', availableParallelism(), 0, 256),
    bundleUrls: (env.BUNDLE_URLS ?? '')
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean),
    bundleRequired: bool(env, 'BUNDLE_REQUIRED', true),
    bundleFetch: {
      timeoutMs: int(env, 'BUNDLE_TIMEOUT_MS', DEFAULT_FETCH_POLICY.timeoutMs, 1, 3_600_000),
      retries: int(env, 'BUNDLE_RETRIES', DEFAULT_FETCH_POLICY.retries, 0, 20),
      retryDelayMs: int(env, 'BUNDLE_RETRY_DELAY_MS', DEFAULT_FETCH_POLICY.retryDelayMs, 0, 600_000),
    },
    bundleLimits: {
      maxEntries: int(env, 'BUNDLE_MAX_ENTRIES', 20_000, 1, 10_000_000),
      maxBytes: int(env, 'BUNDLE_MAX_MB', 512, 1, 1_000_000) * 2 ** 20,
    },
    starterProjectsDir: env.STARTER_PROJECTS_DIR?.trim()
      ? resolve(cwd, env.STARTER_PROJECTS_DIR.trim())
      : join(ASSETS_DIR, 'starter_projects'),
    flowsPath: env.FLOWS_PATH?.trim() ? resolve(cwd, env.FLOWS_PATH.trim()) : null,
    builtinComponents: bool(env, 'BUILTIN_COMPONENTS', true),
    gracefulTimeoutMs: int(env, 'GRACEFUL_TIMEOUT_MS', 30_000, 1, 3_600_000),
    preloadTimeoutMs: int(env, 'PRELOAD_TIMEOUT_MS', 120_000, 1, 3_600_000),
    preloadStart: oneOf(env, 'PRELOAD_START', ['pipelined', 'serial', 'auto'] as const, 'auto'),
    preloader: oneOf(env, 'PRELOADER', ['serves', 'exits'] as const, 'serves'),
    heavyPreloaderRatio: ratio(env, 'HEAVY_PRELOADER_RATIO'),
    reloadPreload: bool(env, 'RELOAD_PRELOAD', false),
    supervision: Object.fromEntries(
      SUPERVISION_ENV.filter(([name]) => env[name]?.trim()).map(([name, option]) => [option, int(env, name, 0, 0, 86_400_000)]),
    ),
    testHooks: bool(env, 'DEMO_TEST_HOOKS', false),
    exitAfterReadyMs: int(env, 'DEMO_EXIT_AFTER_READY_MS', 0, 0, 3_600_000),
    runRoot: env.RUN_ROOT?.trim() ? resolve(cwd, env.RUN_ROOT.trim()) : null,
    databaseUrl,
    dataDir,
    configDir,
    redisUrl,
    autoLogin: bool(env, 'AUTO_LOGIN', true),
    healthDetails: bool(env, 'HEALTH_DETAILS', false),
    superuser: env.SUPERUSER?.trim() || 'langflow',
    superuserPassword: env.SUPERUSER_PASSWORD || null,
    failSteps: (env.DEMO_FAIL_STEPS ?? '')
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean),
    stepDelaysMs,
    stepGates,
    multiHost: bool(env, 'MULTI_HOST', false),
    lockTimeoutMs: int(env, 'LOCK_TIMEOUT_MS', 120_000, 10_001, 3_600_000),
    dbRetryAttempts: int(env, 'DB_RETRY_ATTEMPTS', 2, 0, 1_000),
    oneShot: bool(env, 'PRELOAD_ONLY', false),
    seed: bool(env, 'DEMO_SEED', true),
    agenticExperience: bool(env, 'AGENTIC_EXPERIENCE', true),
    compileCache: bool(env, 'COMPILE_CACHE', false),
    workerNodeFlags: (env.WORKER_NODE_FLAGS ?? '').split(/\s+/).filter(Boolean),
    artifactCacheBytes: int(env, 'ARTIFACT_CACHE_BYTES', 8 * 2 ** 20, 0, 2 ** 31 - 1),
  };
  // A bundle that never answers must be given up (and skipped, when optional) before the primary
  // gives up on the whole preload.
  const giveUpMs = worstCaseMs(config.bundleFetch);
  if (config.bundleUrls.length && giveUpMs >= config.preloadTimeoutMs) {
    throw new DemoConfigError(
      `BUNDLE_TIMEOUT_MS=${config.bundleFetch.timeoutMs} with BUNDLE_RETRIES=${config.bundleFetch.retries} and BUNDLE_RETRY_DELAY_MS=${config.bundleFetch.retryDelayMs} ` +
        `can spend ${giveUpMs} ms on one bundle, not less than PRELOAD_TIMEOUT_MS=${config.preloadTimeoutMs}: lower the timeout or the retries, or raise PRELOAD_TIMEOUT_MS.`,
    );
  }
  if (config.multiHost && !config.databaseUrl) {
    throw new DemoConfigError(
      'MULTI_HOST=true needs DATABASE_URL (PostgreSQL): SQLite is a file on one host and cannot be shared by several hosts safely. ' +
        'Set DATABASE_URL to a postgres:// URL, or unset MULTI_HOST to run on one host.',
    );
  }
  const networkFs = config.databaseUrl ? null : networkFilesystem(config.dataDir);
  if (networkFs && !bool(env, 'SQLITE_ALLOW_NETWORK_FS', false)) {
    throw new DemoConfigError(
      `DATA_DIR=${config.dataDir} is on a network filesystem (${networkFs}): SQLite's locking is not reliable there, and a database shared by several hosts ` +
        'through it would be corrupted. Use DATABASE_URL (PostgreSQL) for several hosts, a local DATA_DIR for one, or SQLITE_ALLOW_NETWORK_FS=true if only this host ever opens it.',
    );
  }
  if (!isAbsolute(config.dataDir)) throw new DemoConfigError(`DATA_DIR could not be resolved to an absolute path.`);
  // Auto-login gives a superuser session to whoever reaches the port: only on loopback, unless asked for.
  if (config.autoLogin && !isLoopback(config.host) && !bool(env, 'AUTO_LOGIN_ALLOW_REMOTE', false)) {
    throw new DemoConfigError(
      `AUTO_LOGIN is on and HOST=${config.host} is not a loopback address: anyone who can reach the port would be a superuser. ` +
        'Set AUTO_LOGIN=false (with SUPERUSER and SUPERUSER_PASSWORD), listen on 127.0.0.1, or set AUTO_LOGIN_ALLOW_REMOTE=true if you really mean it.',
    );
  }
  return config;
}

/** statfs magic numbers of network filesystems (linux/magic.h). */
const NETWORK_FS: Record<number, string> = {
  0x6969: 'nfs',
  0x517b: 'smb',
  0xff534d42: 'cifs',
  0xfe534d42: 'smb2',
  0x00c36400: 'ceph',
  0x5346414f: 'afs',
  0x01021997: '9p',
};

/** The network filesystem `dir` (or its nearest existing ancestor) is on, or null. */
export function networkFilesystem(dir: string, statfs: (path: string) => { type: number } = statfsSync): string | null {
  let at = dir;
  while (!existsSync(at) && dirname(at) !== at) at = dirname(at);
  try {
    return NETWORK_FS[statfs(at).type >>> 0] ?? null;
  } catch {
    return null;
  }
}

/** True for 127.0.0.0/8, ::1 and localhost. */
function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);
}

/** Where the demo's shipped assets are (next to both `src/` and `dist/`). */
export const ASSETS_DIR = join(__dirname, '..', 'assets');

import { availableParallelism, tmpdir } from 'node:os';
import { isAbsolute } from 'node:path';
import { PreloadConfigError } from '../errors/preload.error';
import { PreloadMessages } from '../errors/preload.messages';
import { controlFileFromEnv, timelineBeside, timelineFileFromEnv } from '../control/control-paths';
import { booleanFromEnv } from '../env-boolean';
import { PRELOAD_ENV } from '../preload.constants';
import type { SupervisorHooks } from './supervisor.hooks';
import type { AppEntry } from '../app-entry';
import { fixed, kinds, type OptionTable, resolveTable, tableDefaults } from '../option-table';

/** The supervisor's own options (everything but how to load and serve the app). */
export interface SupervisorOptions {
  /**
   * Number of workers; `0` runs the app in this process, without a cluster (standalone).
   * @default os.availableParallelism()
   */
  workers?: number;
  /**
   * Run the app's preload steps once, in a preloader child, before the workers start.
   * @default `NEST_PRELOAD` env (`true`/`false`), else `true`
   */
  preload?: boolean;
  /**
   * `pipelined`: fork the workers together with the preloader (at most `pipelineConcurrency`
   * building at once); they build their apps while it runs and wait for its hand-over before their
   * own steps. `serial`: fork them once it has handed over. `auto` is pipelined: it was faster at
   * every worker count measured.
   * @default 'auto'
   */
  preloadStart?: 'pipelined' | 'serial' | 'auto';
  /**
   * `serves`: the preloader builds the full app, runs the steps, hands over, then goes on serving
   * as worker 0 — the cluster pays for its one-time work once and for no extra app boot.
   * `exits`: the preloader builds an application context only, hands over and exits (one more
   * boot on the critical path; its heap never serves).
   * @default 'serves'
   */
  preloader?: 'serves' | 'exits';
  /**
   * Once the cluster is ready, a serving preloader whose RSS grew by more than this ratio during its
   * steps (what they left in its heap, e.g. hundreds of imported modules) is replaced gracefully,
   * off the critical path: its replacement starts from the hand-over like any worker. 0 never
   * replaces it. Measured on the demo (2 cores): a lean app's preloader grows 1.03–1.07× in its
   * steps, one that imports 300 components 1.14–1.18×, 1000 components 1.23–1.33×.
   * @default 1.12
   */
  heavyPreloaderRatio?: number;
  /**
   * On SIGHUP, run the preload again as a new generation before replacing the workers (they then
   * start from it); the old generation's results stay until its last worker is gone.
   * @default false
   */
  reloadPreload?: boolean;
  /**
   * How long the preloader may take; a hung preloader is killed and the workers do the full start-up.
   * @default 120000
   */
  preloadTimeoutMs?: number;
  /**
   * On SIGTERM/SIGINT, how long workers may take to finish in-flight requests before SIGKILL.
   * @default 30000
   */
  gracefulTimeoutMs?: number;
  /**
   * How long a worker being replaced (reload, recycle, scale-down) may take to finish its in-flight
   * requests; then it is told to close the connections still open (the log says how many), and
   * killed if it does not exit.
   * @default 30000
   */
  drainTimeoutMs?: number;
  /**
   * A worker that served at least this long was stable: its index's restart count starts over. An
   * exit sooner (or before ready) is unstable and counts toward `maxRestarts` (PM2's `min_uptime`).
   * @default 5000
   */
  minUptimeMs?: number;
  /**
   * First delay before a crashed worker is replaced; doubles on each crash of the same worker.
   * @default 100
   */
  restartDelayMs?: number;
  /**
   * Upper bound of the restart delay.
   * @default 10000
   */
  maxRestartDelayMs?: number;
  /**
   * A worker not ready after this long of its own boot is killed (the time it waits for the
   * preload's hand-over does not count: `preloadTimeoutMs` bounds that). During the first start
   * that is a boot error (exit code 3); afterwards it is retried.
   * @default 60000
   */
  bootTimeoutMs?: number;
  /**
   * An index with more than this many unstable exits within `restartWindowMs` is crash-looping;
   * the cluster halts (exit code 5) only when every index is and none is serving — while one
   * worker serves, the others go on being retried at `maxRestartDelayMs`.
   * @default 5
   */
  maxRestarts?: number;
  /**
   * The window of `maxRestarts`: unstable exits older than this no longer count (`minUptimeMs`
   * decides which exits are unstable and when an index's backoff starts over).
   * @default 60000
   */
  restartWindowMs?: number;
  /**
   * How often workers send a heartbeat from their event loop.
   * @default 1000
   */
  heartbeatIntervalMs?: number;
  /**
   * A ready worker silent this long (event loop blocked) is killed and replaced; 0 turns the watchdog off.
   * @default 10000
   */
  heartbeatTimeoutMs?: number;
  /**
   * Recycle a worker (replacement first, then a graceful drain) after this many requests; 0 = never.
   * @default 0
   */
  maxRequests?: number;
  /**
   * Up to this many extra requests, drawn per worker, so workers do not all recycle at once.
   * @default 0
   */
  maxRequestsJitter?: number;
  /**
   * Recycle a worker whose RSS exceeds this many MB (checked at each heartbeat); 0 = never.
   * @default 0
   */
  maxRssMb?: number;
  /**
   * Pipelined start: how many workers build their apps at once while the preloader runs (it
   * needs a core of its own); the others are forked as those finish building, or when the
   * hand-over is ready. Keeps 8 workers on 2 cores from starving the preloader.
   * @default `max(1, os.availableParallelism() - 1)`
   */
  pipelineConcurrency?: number;
  /**
   * Extra Node flags for the workers and for a serving preloader (not the primary, not a
   * preloader that exits), after the primary's own `process.execArgv`. `['--max-semi-space-size=1']`
   * cut a worker's PSS by 25–28% for the same throughput on a 450 KB response in the repository's
   * benchmark.
   * @default []
   */
  workerExecArgv?: string[];
  /**
   * On Node ≥ 22.1, a V8 compile cache in the cluster's private dir (`NODE_COMPILE_CACHE`) for the
   * preloader and the workers: the preloader flushes what it compiled while building its app
   * before the workers are forked, so their boot reuses it — the closest Node gets to Gunicorn
   * importing the app before fork. Ignored on older Node. Off by default because it did not pay:
   * on Node 22.23 it made a preloaded start 1.42–2.38× slower, and a cache kept across starts
   * (a `NODE_COMPILE_CACHE` of your own, inherited by the workers) was 0.93–1.10× warm and
   * 1.18–2.09× cold (`npm run measure:compile-cache`); measure it on your app before turning it on.
   * @default false
   */
  compileCache?: boolean;
  /**
   * Where the primary writes the file the `nest-preload` CLI finds its control socket by; `false`
   * turns the control socket off.
   * @default `NEST_PRELOAD_CONTROL_FILE` env, else `${process.cwd()}/.nest-preload/control.json`
   */
  controlFile?: string | false;
  /**
   * Where the primary writes the start-up timeline — every process's phases (fork, node boot, app
   * build, each step and its lock wait, the hand-over wait, serve, ready) in Chrome's trace-event
   * format, which Perfetto and `chrome://tracing` open and `nest-preload timeline` prints; written
   * when the cluster is ready, after later changes, and when it stops. `false` records nothing.
   * @default `NEST_PRELOAD_TIMELINE_FILE` env (`off` for `false`), else beside `controlFile` (`timeline.json` beside `control.json`, `b.timeline.json` beside `b.json`), else — with `controlFile: false` — `false`
   */
  timeline?: string | false;
  /**
   * Lifecycle hooks, run in the primary.
   * @default {}
   */
  hooks?: Partial<SupervisorHooks>;
  /**
   * More dirs where, at start, `nest-preload-*` dirs left by processes that are gone are removed
   * (besides `runRoot`): where the app's workers create their own temp dirs.
   * @default [os.tmpdir()]
   */
  sweepRoots?: string[];
  /**
   * Where the primary creates its private cluster dir (run dir and the preloader's temp dirs).
   * @default os.tmpdir()
   */
  runRoot?: string;
}

export type ResolvedSupervisorOptions = Required<Omit<SupervisorOptions, 'preloadStart'>> & { preloadStart: 'pipelined' | 'serial' };

const HOOKS: ReadonlyArray<keyof SupervisorHooks> = [
  'onStarting',
  'whenReady',
  'preFork',
  'postFork',
  'workerReady',
  'workerExit',
  'onReload',
  'onExit',
];

const ms = (value: number) => ({ shown: String(value), default: fixed(value), ...kinds.positiveMs });
const count = (value: number) => ({ shown: String(value), default: fixed(value), ...kinds.count });

/**
 * The supervisor's options, one row each: the default (as computed, and as the TSDoc above and the
 * README show it) and what a valid value is. Defaults, validation and the unknown-key message come
 * from here; `option-tables.spec.ts` keeps the TSDoc and the README equal to it.
 */
export const SUPERVISOR_OPTION_TABLE: OptionTable<SupervisorOptions> = {
  workers: {
    shown: 'os.availableParallelism()',
    default: () => availableParallelism(),
    ...kinds.integerIn(0, 1024, 'a whole number from 1 to 1024, or 0 to run without a cluster'),
  },
  preload: { shown: '`NEST_PRELOAD` env (`true`/`false`), else `true`', default: (env) => preloadFromEnv(env), ...kinds.boolean },
  preloadStart: { shown: "'auto'", default: fixed('auto'), ...kinds.oneOf('pipelined', 'serial', 'auto') },
  preloader: { shown: "'serves'", default: fixed('serves'), ...kinds.oneOf('serves', 'exits') },
  heavyPreloaderRatio: {
    shown: '1.12',
    default: fixed(1.12),
    expected: 'a ratio of 1 or more (e.g. 1.12), or 0 never to replace the preloader',
    valid: (v) => typeof v === 'number' && Number.isFinite(v) && (v === 0 || v >= 1),
  },
  reloadPreload: { shown: 'false', default: fixed(false), ...kinds.boolean },
  preloadTimeoutMs: ms(120_000),
  gracefulTimeoutMs: ms(30_000),
  drainTimeoutMs: ms(30_000),
  minUptimeMs: ms(5_000),
  restartDelayMs: ms(100),
  maxRestartDelayMs: ms(10_000),
  bootTimeoutMs: ms(60_000),
  maxRestarts: count(5),
  restartWindowMs: ms(60_000),
  heartbeatIntervalMs: ms(1_000),
  heartbeatTimeoutMs: count(10_000),
  maxRequests: count(0),
  maxRequestsJitter: count(0),
  maxRssMb: count(0),
  pipelineConcurrency: {
    shown: '`max(1, os.availableParallelism() - 1)`',
    default: () => Math.max(1, availableParallelism() - 1),
    ...kinds.integerIn(1, 1024),
  },
  workerExecArgv: {
    shown: '[]',
    default: () => [],
    expected: 'a list of Node flags such as ["--max-semi-space-size=1"]',
    valid: (v) => Array.isArray(v) && v.every((a) => typeof a === 'string' && /^--?[A-Za-z]/.test(a)),
  },
  compileCache: { shown: 'false', default: fixed(false), ...kinds.boolean },
  controlFile: {
    shown: '`NEST_PRELOAD_CONTROL_FILE` env, else `${process.cwd()}/.nest-preload/control.json`',
    default: (env) => controlFileFromEnv(env),
    ...kinds.absolutePathOrFalse,
  },
  timeline: {
    shown:
      '`NEST_PRELOAD_TIMELINE_FILE` env (`off` for `false`), else beside `controlFile` (`timeline.json` beside `control.json`, `b.timeline.json` beside `b.json`), else — with `controlFile: false` — `false`',
    default: (env, given) => defaultTimelineFile(env, given.controlFile),
    ...kinds.absolutePathOrFalse,
  },
  hooks: {
    shown: '{}',
    default: () => ({}),
    expected: 'an object of hook functions',
    valid: (v) => typeof v === 'object' && v !== null,
  },
  sweepRoots: {
    shown: '[os.tmpdir()]',
    default: () => [tmpdir()],
    expected: 'a list of absolute paths',
    valid: (v) => Array.isArray(v) && v.every((r) => typeof r === 'string' && isAbsolute(r)),
  },
  runRoot: { shown: 'os.tmpdir()', default: () => tmpdir(), ...kinds.absolutePath },
};

/**
 * The options of `runCluster` that are not the supervisor's: how to load and serve the app, and
 * `oneShot` (documented on `RunClusterOptions`).
 */
export const ENTRY_OPTION_TABLE: OptionTable<AppEntry & { oneShot?: boolean }> = {
  app: {
    shown: 'required',
    expected: 'a function that loads the root module',
    valid: (v) => typeof v === 'function',
    required: PreloadMessages.missingEntry('app'),
  },
  serve: {
    shown: 'required',
    expected: 'a function that starts serving the app',
    valid: (v) => typeof v === 'function',
    required: PreloadMessages.missingEntry('serve'),
  },
  nestOptions: {
    shown: '{}',
    default: () => ({}),
    expected: 'an object of Nest application options',
    valid: (v) => typeof v === 'object' && v !== null,
  },
  oneShot: {
    shown: '`NEST_PRELOAD_ONE_SHOT` env (`true`/`1`/`yes`/`on` or `false`/`0`/`no`/`off`), else `false`',
    default: (env) => oneShotFromEnv(env),
    ...kinds.boolean,
  },
};

const MACHINE_DEFAULTS = [
  'preload',
  'workers',
  'runRoot',
  'preloadStart',
  'controlFile',
  'timeline',
  'sweepRoots',
  'pipelineConcurrency',
] as const;

/** The defaults that do not depend on the machine or the environment, from the table. */
export const DEFAULT_SUPERVISOR_OPTIONS = Object.freeze(tableDefaults(SUPERVISOR_OPTION_TABLE, MACHINE_DEFAULTS)) as Readonly<
  Omit<ResolvedSupervisorOptions, (typeof MACHINE_DEFAULTS)[number]>
>;

/**
 * Resolves and validates the supervisor options before anything is forked.
 * @param extraKeys keys the caller handles itself (they are not "unknown").
 * @throws PreloadConfigError with one message naming the bad value.
 */
export function resolveSupervisorOptions(
  options: Record<string, unknown>,
  env: NodeJS.ProcessEnv = process.env,
  extraKeys: readonly string[] = [],
): ResolvedSupervisorOptions {
  // The variable is checked even when the option overrides it: a typo in it is still a typo.
  preloadFromEnv(env);
  const merged = resolveTable(SUPERVISOR_OPTION_TABLE, options, PreloadMessages.invalidClusterOption, env, extraKeys);
  const resolved: ResolvedSupervisorOptions = {
    ...merged,
    // Pipelined start with bounded concurrency beats serial at every worker count measured.
    preloadStart: merged.preloadStart === 'auto' ? 'pipelined' : merged.preloadStart,
  };
  if (resolved.heartbeatTimeoutMs > 0 && resolved.heartbeatTimeoutMs <= resolved.heartbeatIntervalMs) {
    throw new PreloadConfigError(
      PreloadMessages.invalidClusterOption(
        'heartbeatTimeoutMs',
        resolved.heartbeatTimeoutMs,
        `more than heartbeatIntervalMs (${resolved.heartbeatIntervalMs}), or 0 to turn the watchdog off`,
      ),
    );
  }
  for (const [name, hook] of Object.entries(resolved.hooks)) {
    if (!HOOKS.includes(name as keyof SupervisorHooks))
      throw new PreloadConfigError(
        PreloadMessages.unknownOption(
          `hooks.${name}`,
          HOOKS.map((h) => `hooks.${h}`),
        ),
      );
    if (typeof hook !== 'function')
      throw new PreloadConfigError(PreloadMessages.invalidClusterOption(`hooks.${name}`, typeof hook, 'a function'));
  }
  if (resolved.maxRestartDelayMs < resolved.restartDelayMs) {
    throw new PreloadConfigError(
      PreloadMessages.invalidClusterOption(
        'maxRestartDelayMs',
        resolved.maxRestartDelayMs,
        `at least restartDelayMs (${resolved.restartDelayMs})`,
      ),
    );
  }
  return resolved;
}

/**
 * Where the timeline goes by default: `NEST_PRELOAD_TIMELINE_FILE` (`off` records nothing), else
 * beside the control file (the one given, else the default one), so that the CLI finds both in one
 * place; with `controlFile: false`, nowhere.
 */
export function defaultTimelineFile(env: NodeJS.ProcessEnv, controlFile: unknown): string | false {
  const fromEnv = timelineFileFromEnv(env);
  if (fromEnv !== undefined) return fromEnv;
  // With the control socket off, nothing is written to the working dir unless asked for.
  if (controlFile === false) return false;
  return timelineBeside(typeof controlFile === 'string' && isAbsolute(controlFile) ? controlFile : controlFileFromEnv(env));
}

/** `NEST_PRELOAD`: unset means on. */
export const preloadFromEnv = (env: NodeJS.ProcessEnv): boolean => booleanFromEnv(env, PRELOAD_ENV.preload, true);

/** `NEST_PRELOAD_ONE_SHOT`: unset means off. */
export const oneShotFromEnv = (env: NodeJS.ProcessEnv): boolean => booleanFromEnv(env, PRELOAD_ENV.oneShot, false);

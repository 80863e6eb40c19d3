/**
 * Names shared by every role. This file imports nothing, so the primary can use it
 * without loading Nest.
 */

/** The role a process plays in a preloaded cluster. */
export type PreloadRole = 'primary' | 'preloader' | 'worker' | 'standalone';

/** Environment variables the supervisor sets for its children (never secrets, never data). */
export const PRELOAD_ENV = {
  /** `preloader` or `worker`; unset in the primary and in a standalone app. */
  role: 'NEST_PRELOAD_ROLE',
  /** Turns preload on or off for `runCluster` (`true`/`false`), like `LANGFLOW_GUNICORN_PRELOAD`. */
  preload: 'NEST_PRELOAD',
  /** Absolute path of the manifest a worker should trust (workers of a preloaded cluster only). */
  manifest: 'NEST_PRELOAD_MANIFEST',
  /** The generation id the manifest must carry. */
  generation: 'NEST_PRELOAD_GENERATION',
  /** The private run dir the preloader writes its results into (preloader only). */
  runDir: 'NEST_PRELOAD_RUN_DIR',
  /** Where the preloader creates its temp dirs: a dir the primary owns and removes (preloader only). */
  tempRoot: 'NEST_PRELOAD_TEMP_ROOT',
  /** `1` in a worker forked while the preload runs (pipelined start): it asks for the hand-over over IPC. */
  awaitHandover: 'NEST_PRELOAD_AWAIT_HANDOVER',
  /** `1` in a preloader that goes on serving as worker 0 once it has handed over. */
  preloaderServes: 'NEST_PRELOAD_PRELOADER_SERVES',
  /** How often a worker sends its heartbeat, in ms (0: never). */
  heartbeatMs: 'NEST_PRELOAD_HEARTBEAT_MS',
  /** The worker's index, 0..N-1. */
  workerIndex: 'NEST_PRELOAD_WORKER_INDEX',
  /** Where the primary writes its control file and the CLI looks for it. */
  controlFile: 'NEST_PRELOAD_CONTROL_FILE',
  /** `true`: `runCluster` runs only the preload, in this process, and exits with its status. */
  oneShot: 'NEST_PRELOAD_ONE_SHOT',
  /** Where the primary writes the start-up timeline and `nest-preload timeline` reads it. */
  timelineFile: 'NEST_PRELOAD_TIMELINE_FILE',
  /** `1` in a child whose start-up phases the primary records (the `timeline` option is on). */
  recordTimeline: 'NEST_PRELOAD_RECORD_TIMELINE',
} as const;

/** Prefix of every IPC message type this library sends, so apps can share the channel. */
export const IPC_PREFIX = 'nest-preload:';

/** Exit codes the supervisor uses. */
export const EXIT_CODES = {
  OK: 0,
  /** Options or environment were invalid; nothing was forked. */
  CONFIG_ERROR: 2,
  /** During the first start a worker (or the preloader) could not create or serve the app: restarting it would loop. */
  WORKER_BOOT_ERROR: 3,
  /** The preloader could not hand over; in one-shot mode, a critical step or the app failed. */
  PRELOAD_FAILED: 4,
  /** Every worker index crash-looped (more than `maxRestarts` unstable exits within `restartWindowMs`) and none served. */
  RESTART_LIMIT: 5,
  /** One-shot: every critical step completed, but a best-effort step did not (workers will redo it). */
  ONE_SHOT_INCOMPLETE: 6,
} as const;

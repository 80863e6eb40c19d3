import { PRELOAD_ENV, type PreloadRole } from './preload.constants';
import { parseBooleanWord } from './env-boolean';

/**
 * What the supervisor told this process through its environment. Nest-free; read once per
 * process. Provided in DI as a class token so tests can replace it.
 */
export class PreloadProcessContext {
  constructor(
    readonly role: Exclude<PreloadRole, 'primary'>,
    readonly parentPid: number,
    readonly workerIndex: number | null = null,
    readonly manifestPath: string | null = null,
    readonly generation: string | null = null,
    readonly runDir: string | null = null,
    readonly tempRoot: string | null = null,
    /** Pipelined start: ask the primary for the hand-over before running any step. */
    readonly awaitHandover = false,
  ) {}

  /** Reads the context from an environment (the supervisor's variables; none → standalone). */
  static fromEnv(env: NodeJS.ProcessEnv = process.env, parentPid = process.ppid): PreloadProcessContext {
    const role = env[PRELOAD_ENV.role];
    const index = env[PRELOAD_ENV.workerIndex];
    if (role === 'preloader') {
      return new PreloadProcessContext(
        'preloader',
        parentPid,
        index !== undefined && /^\d+$/.test(index) ? Number(index) : null,
        null,
        env[PRELOAD_ENV.generation] ?? null,
        env[PRELOAD_ENV.runDir] ?? null,
        env[PRELOAD_ENV.tempRoot] ?? null,
      );
    }
    if (role === 'worker') {
      return new PreloadProcessContext(
        'worker',
        parentPid,
        index !== undefined && /^\d+$/.test(index) ? Number(index) : null,
        env[PRELOAD_ENV.manifest] || null,
        env[PRELOAD_ENV.generation] || null,
        null,
        null,
        parseBooleanWord(env[PRELOAD_ENV.awaitHandover]) === true,
      );
    }
    return new PreloadProcessContext('standalone', parentPid);
  }
}

/**
 * This process's role under `runCluster` — `preloader`, `worker` or `standalone` — read from the
 * environment the supervisor set. For code that must know it before Nest's container exists, such
 * as a module factory choosing database options; inside the app, inject `PreloadService` (`role`).
 */
export function preloadRole(env: NodeJS.ProcessEnv = process.env): Exclude<PreloadRole, 'primary'> {
  return PreloadProcessContext.fromEnv(env).role;
}

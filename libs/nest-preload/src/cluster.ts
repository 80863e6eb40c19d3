/**
 * `@lf/nest-preload/cluster`: the entry a `main.ts` calls. Loading it loads nothing of Nest, so
 * the primary stays small; the preloader and worker code is imported only in those processes.
 */
import { claimControlFile, type ControlClaim } from './control/control-claim';
import { PreloadError } from './errors/preload.error';
import { PreloadMessages } from './errors/preload.messages';
import { EXIT_CODES, PRELOAD_ENV } from './preload.constants';
import type { AppEntry } from './app-entry';
import { ENTRY_OPTION_TABLE, oneShotFromEnv, resolveSupervisorOptions, type SupervisorOptions } from './supervisor/cluster.options';
import { resolveTable } from './option-table';
import { nodePorts } from './supervisor/node-ports';
import { Supervisor } from './supervisor/supervisor';
import { exitProcess } from './process-exit';

/** Options of {@link runCluster}. */
export interface RunClusterOptions extends AppEntry, SupervisorOptions {
  /**
   * Run only the preload, in this process, then exit with its status (0 done, 6 a best-effort step
   * incomplete, 4 failed) — for a deployment job or init container; nothing is forked or served.
   * @default `NEST_PRELOAD_ONE_SHOT` env (`true`/`1`/`yes`/`on` or `false`/`0`/`no`/`off`), else `false`
   */
  oneShot?: boolean;
}

export type { AppEntry } from './app-entry';
export { DEFAULT_SUPERVISOR_OPTIONS, preloadFromEnv, type SupervisorOptions } from './supervisor/cluster.options';
export { describeExit, Supervisor, type SupervisorState } from './supervisor/supervisor';
export type { ChildHandle, ClusterPort, ProcessPort, SupervisorLogger, TimerPort } from './supervisor/supervisor.ports';
export { EXIT_CODES, PRELOAD_ENV, type PreloadRole } from './preload.constants';

const ENTRY_KEYS = Object.keys(ENTRY_OPTION_TABLE);
const pick = (from: Record<string, unknown>, keys: string[]) => Object.fromEntries(Object.entries(from).filter(([k]) => keys.includes(k)));

/**
 * Runs the app as a cluster. The same entry file runs in every process; the role comes from the
 * environment the primary sets:
 * - primary (no role set, `workers` ≥ 1): validates options, forks the preloader (when `preload`)
 *   and the workers, supervises them, and exits the process when the cluster stops;
 * - preloader: runs the preload steps once and hands over, then serves as worker 0 (unless
 *   `preloader: 'exits'`);
 * - worker: serves, skipping what the preloader completed;
 * - standalone (`workers: 0`): the app runs in this process, every step included.
 *
 * Invalid options print one message and exit with code 2 before anything is forked.
 */
export async function runCluster(options: RunClusterOptions): Promise<void> {
  const code = await clusterMain(options);
  // The library's one exit, at its edge: every role above resolved its code instead of exiting.
  if (code !== null) exitProcess(code);
}

/**
 * What {@link runCluster} does in this process's role, resolved to the code the process exits with
 * — or `null` when it goes on serving (a worker, the serving preloader, a standalone app), which
 * then ends when it is drained.
 */
async function clusterMain(options: RunClusterOptions): Promise<number | null> {
  const role = process.env[PRELOAD_ENV.role];
  if (role === 'preloader') {
    const { runPreloader } = await import('./preloader/preloader.role');
    return runPreloader(options);
  }
  if (role === 'worker') {
    const { runWorker } = await import('./worker/worker.role');
    return runWorker(options);
  }
  let resolved;
  let oneShot: boolean;
  try {
    const given = options as unknown as Record<string, unknown>;
    const entry = resolveTable(ENTRY_OPTION_TABLE, pick(given, ENTRY_KEYS), PreloadMessages.invalidClusterOption);
    resolved = resolveSupervisorOptions(given, process.env, ENTRY_KEYS);
    // The variable is checked even when the option overrides it: a typo in it is still a typo.
    oneShotFromEnv(process.env);
    oneShot = entry.oneShot;
  } catch (error) {
    if (!(error instanceof PreloadError)) throw error;
    console.error(`[nest-preload] ${error.message}`);
    return EXIT_CODES.CONFIG_ERROR;
  }
  if (oneShot) {
    const { runOneShot } = await import('./one-shot/one-shot.role');
    return runOneShot(options);
  }
  if (resolved.workers === 0) {
    const { runStandalone } = await import('./standalone/standalone.role');
    await runStandalone(options);
    return null;
  }
  let claim: ControlClaim | null = null;
  if (resolved.controlFile) {
    const outcome = await claimControlFile(resolved.controlFile);
    if (typeof outcome === 'string') {
      console.error(`[nest-preload] ${outcome}`);
      return EXIT_CODES.CONFIG_ERROR;
    }
    claim = outcome;
  }
  const ports = nodePorts();
  const code = await new Supervisor(resolved, ports.cluster, ports.process, ports.timers, ports.logger).run();
  claim?.release();
  return code;
}

import { basename, dirname, join, resolve } from 'node:path';
import { parseBooleanWord } from '../env-boolean';
import { PRELOAD_ENV } from '../preload.constants';

/**
 * Where the primary writes its control file and the CLI looks for it: `NEST_PRELOAD_CONTROL_FILE`
 * (relative to the working dir), else `./.nest-preload/control.json`. One rule for both sides.
 */
export function controlFileFromEnv(env: NodeJS.ProcessEnv): string {
  const given = env[PRELOAD_ENV.controlFile]?.trim();
  return given ? resolve(given) : join(process.cwd(), '.nest-preload', 'control.json');
}

/**
 * `NEST_PRELOAD_TIMELINE_FILE`: a path, `false` (a no word: turned off), or `undefined` (unset, or
 * a yes word: where it goes by default).
 */
export function timelineFileFromEnv(env: NodeJS.ProcessEnv): string | false | undefined {
  const given = env[PRELOAD_ENV.timelineFile]?.trim();
  if (!given) return undefined;
  const flag = parseBooleanWord(given);
  return flag === undefined ? resolve(given) : flag ? undefined : false;
}

/**
 * Where the timeline is when nothing else names it: beside the control file, named after it —
 * `control.json` → `timeline.json`, `b.json` → `b.timeline.json` — so that two clusters with their
 * own control files in one dir keep their own traces.
 */
export function timelineBeside(controlFile: string): string {
  const name = basename(controlFile);
  return join(dirname(controlFile), name === 'control.json' ? 'timeline.json' : `${name.replace(/\.json$/, '')}.timeline.json`);
}

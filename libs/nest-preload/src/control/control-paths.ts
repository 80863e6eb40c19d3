import { basename, dirname, join, resolve } from 'node:path';
import { PRELOAD_ENV } from '../preload.constants';

/**
 * Where the primary writes its control file and the CLI looks for it: `NEST_PRELOAD_CONTROL_FILE`
 * (relative to the working dir), else `./.nest-preload/control.json`. One rule for both sides.
 */
export function controlFileFromEnv(env: NodeJS.ProcessEnv): string {
  const given = env[PRELOAD_ENV.controlFile]?.trim();
  return given ? resolve(given) : join(process.cwd(), '.nest-preload', 'control.json');
}

/** Values of `NEST_PRELOAD_TIMELINE_FILE` that turn the timeline off, and that leave it where it goes by default. */
const TIMELINE_OFF = new Set(['off', 'false', '0', 'no']);
const TIMELINE_ON = new Set(['on', 'true', '1', 'yes']);

/** `NEST_PRELOAD_TIMELINE_FILE`: a path, `false` (turned off), or `undefined` (unset, or on: the default). */
export function timelineFileFromEnv(env: NodeJS.ProcessEnv): string | false | undefined {
  const given = env[PRELOAD_ENV.timelineFile]?.trim();
  if (!given || TIMELINE_ON.has(given.toLowerCase())) return undefined;
  return TIMELINE_OFF.has(given.toLowerCase()) ? false : resolve(given);
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

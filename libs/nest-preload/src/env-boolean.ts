import { PreloadConfigError } from './errors/preload.error';
import { PreloadMessages } from './errors/preload.messages';

/**
 * The library's one reading of a yes/no environment variable — the user's (`NEST_PRELOAD`,
 * `NEST_PRELOAD_ONE_SHOT`, `NEST_PRELOAD_TIMELINE_FILE=on|off`) and those the primary sets for its
 * children alike: `true`/`1`/`yes`/`on` or `false`/`0`/`no`/`off`, in any case, spaces trimmed.
 */
const YES = new Set(['true', '1', 'yes', 'on']);
const NO = new Set(['false', '0', 'no', 'off']);

/** `true` or `false` for a yes/no word; `undefined` for an unset or empty value or any other word. */
export function parseBooleanWord(raw: string | undefined): boolean | undefined {
  const value = raw?.trim().toLowerCase();
  if (value === undefined || value === '') return undefined;
  return YES.has(value) ? true : NO.has(value) ? false : undefined;
}

/**
 * A yes/no variable; unset or empty gives `fallback`.
 * @throws PreloadConfigError naming the variable and what it holds.
 */
export function booleanFromEnv(env: NodeJS.ProcessEnv, name: string, fallback: boolean): boolean {
  const raw = env[name];
  if (raw === undefined || raw.trim() === '') return fallback;
  const value = parseBooleanWord(raw);
  if (value === undefined) throw new PreloadConfigError(PreloadMessages.invalidEnv(name, raw, 'true or false (or 1/0, yes/no, on/off)'));
  return value;
}

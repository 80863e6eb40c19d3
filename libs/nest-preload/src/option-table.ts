import { isAbsolute } from 'node:path';
import { PreloadConfigError } from './errors/preload.error';
import { PreloadMessages } from './errors/preload.messages';

/**
 * One option of an options object: its default — computed, and as the option's TSDoc `@default`
 * and the README's table state it (`option-tables.spec.ts` fails when those drift apart) — and
 * what a valid value is.
 */
export interface OptionRow {
  /** The default as the TSDoc `@default` and the README show it; `required` for an option without one. */
  readonly shown: string;
  /** The default, computed when the options are resolved (from the environment, or from the other options given). Absent: required. */
  readonly default?: (env: NodeJS.ProcessEnv, given: Readonly<Record<string, unknown>>) => unknown;
  /** What a valid value is, as the error says it ("a positive whole number of milliseconds"). */
  readonly expected: string;
  /** Whether a value — given, or the default — is valid. Checks between options stay in the resolver. */
  readonly valid: (value: unknown) => boolean;
  /** How an invalid value is shown in the error (a large object is named, not printed). */
  readonly describe?: (value: unknown) => unknown;
  /** For a required option: the whole error when it is missing or invalid. */
  readonly required?: string;
}

/** The rows of one options object: exactly its keys (the compiler refuses a table that lacks or adds one). */
export type OptionTable<T> = { readonly [K in keyof Required<T>]: OptionRow };

/** A row whose default is a constant. */
export const fixed = (value: unknown) => () => value;

/** The checks the options share, each with the words its error uses. */
export const kinds = {
  boolean: { expected: 'true or false', valid: (v: unknown) => typeof v === 'boolean' },
  positiveMs: { expected: 'a positive whole number of milliseconds', valid: (v: unknown) => Number.isInteger(v) && (v as number) > 0 },
  count: { expected: 'a whole number, 0 or more', valid: (v: unknown) => Number.isInteger(v) && (v as number) >= 0 },
  absolutePath: { expected: 'an absolute path', valid: (v: unknown) => typeof v === 'string' && isAbsolute(v) },
  absolutePathOrFalse: {
    expected: 'an absolute path, or false',
    valid: (v: unknown) => v === false || (typeof v === 'string' && isAbsolute(v)),
  },
  /** One of a few strings: `"a", "b" or "c"`. */
  oneOf: (...values: string[]) => ({
    expected:
      values.length === 1
        ? `"${values[0]}"`
        : `${values
            .slice(0, -1)
            .map((v) => `"${v}"`)
            .join(', ')} or "${values.at(-1)}"`,
    valid: (v: unknown) => typeof v === 'string' && values.includes(v),
  }),
  integerIn: (min: number, max: number, expected = `a whole number from ${min} to ${max}`) => ({
    expected,
    valid: (v: unknown) => Number.isInteger(v) && (v as number) >= min && (v as number) <= max,
  }),
} as const;

/**
 * Resolves an options object from its table: refuses a key the table does not have (naming the
 * known ones), fills in each default, and checks every value, given or default.
 * @param invalid the message of a bad value (`PreloadMessages.invalidOption` or `invalidClusterOption`)
 * @param extraKeys keys the caller handles itself (they are not "unknown", and are left out of the result)
 * @throws PreloadConfigError with one message naming the first bad key or value.
 */
export function resolveTable<T>(
  table: OptionTable<T>,
  given: Readonly<Record<string, unknown>>,
  invalid: (key: string, value: unknown, expected: string) => string,
  env: NodeJS.ProcessEnv = process.env,
  extraKeys: readonly string[] = [],
): Required<T> {
  const rows = table as Readonly<Record<string, OptionRow>>;
  const known = Object.keys(rows);
  for (const key of Object.keys(given)) {
    if (!(key in rows) && !extraKeys.includes(key))
      throw new PreloadConfigError(PreloadMessages.unknownOption(key, [...known, ...extraKeys]));
  }
  const resolved: Record<string, unknown> = {};
  for (const [key, row] of Object.entries(rows)) {
    const value = given[key] !== undefined ? given[key] : row.default?.(env, given);
    if (!row.valid(value)) {
      throw new PreloadConfigError(row.required ?? invalid(key, row.describe ? row.describe(value) : value, row.expected));
    }
    resolved[key] = value;
  }
  return resolved as Required<T>;
}

/** The defaults of a table, by key, leaving out `except` (those that depend on the machine or the environment). */
export function tableDefaults<T>(table: OptionTable<T>, except: ReadonlyArray<keyof T> = []): Partial<Required<T>> {
  const defaults: Record<string, unknown> = {};
  for (const [key, row] of Object.entries(table as Readonly<Record<string, OptionRow>>)) {
    if (row.default && !except.includes(key as keyof T)) defaults[key] = row.default({}, {});
  }
  return defaults as Partial<Required<T>>;
}

/**
 * The one rule for the names the library puts in file names, lock keys and messages: step names,
 * lock names and temp-dir prefixes. Letters, digits, `_`, `-` and `.`.
 */
const CHARS = 'A-Za-z0-9_.-';

/** A whole name that follows the rule. */
export const NAME_RULE = new RegExp(`^[${CHARS}]+$`);

/** The rule in words, for error messages. */
export const NAME_RULE_TEXT = 'letters, digits, "_", "-" or "."';

/** Whether `name` is a non-empty string that follows the rule. */
export const isSafeName = (name: unknown): name is string => typeof name === 'string' && NAME_RULE.test(name);

/** `raw` made to follow the rule: every other character becomes `_`; an empty result becomes `fallback`. */
export const toSafeName = (raw: string, fallback: string): string => raw.replace(new RegExp(`[^${CHARS}]`, 'g'), '_') || fallback;

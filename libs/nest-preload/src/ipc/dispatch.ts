import { isOurs } from './messages';

/** A dispatch table: for each message type a side handles, what to do with it. */
export type DispatchTable<M> = { [K in keyof M]?: (message: M[K]) => void };

/**
 * What became of a message: `handled`; `unhandled` (ours, but not one this table takes here);
 * `malformed` (taken here, but its shape check failed: dropped); `foreign` (not of this protocol —
 * another library may use the same channel).
 */
export type Dispatched = 'handled' | 'unhandled' | 'malformed' | 'foreign';

/**
 * Routes one IPC message to its handler by `type`, as Node's own cluster does with its internal
 * messages: one table per side instead of a chain of `if`s, and a shape check before the handler
 * sees it. Used by the primary and the children alike.
 */
export function dispatch<M>(message: unknown, table: DispatchTable<M>, check?: (message: { type: string }) => boolean): Dispatched {
  if (!isOurs(message)) return 'foreign';
  const handler = (table as Record<string, ((message: unknown) => void) | undefined>)[message.type];
  if (!handler) return 'unhandled';
  if (check && !check(message)) return 'malformed';
  handler(message);
  return 'handled';
}

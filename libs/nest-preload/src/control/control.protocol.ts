/**
 * The control protocol between the CLI and a running primary: one JSON object per line, over a
 * Unix socket that only the owner can open. Versioned; every request is checked before it is used.
 */
import type { StepLine } from '../supervisor/supervisor.ports';
export const CONTROL_PROTOCOL_VERSION = 1;
/** A request line longer than this is refused (and the connection closed). */
export const MAX_REQUEST_BYTES = 16 * 1024;

export type ControlCommand = 'status' | 'reload' | 'scale' | 'stop';

export type ControlRequest =
  | { v: 1; id: number; cmd: 'status' }
  | { v: 1; id: number; cmd: 'reload'; preload?: boolean }
  | { v: 1; id: number; cmd: 'scale'; workers: number }
  | { v: 1; id: number; cmd: 'stop' };

export type ControlResponse =
  { v: 1; id: number | null; ok: true; result: unknown } | { v: 1; id: number | null; ok: false; error: string };

/** What the primary writes where the CLI can find it. */
export interface ControlFile {
  v: typeof CONTROL_PROTOCOL_VERSION;
  pid: number;
  socket: string;
  startedAt: string;
}

/** One worker line of `status`. */
export interface WorkerStatus {
  index: number;
  pid: number | null;
  state: 'preloading' | 'starting' | 'waiting' | 'ready' | 'replacing' | 'draining';
  uptimeMs: number;
  /** From its fork until it was ready, or null while it is not. */
  startMs?: number | null;
  /** How long it waited for the preload's hand-over after building its app (pipelined start), or null. */
  handoverWaitMs?: number | null;
  /** How long it waited for start-up locks in all (from its timeline), or null before it reported one. */
  lockWaitMs?: number | null;
  restarts: number;
  pssMb: number | null;
  requests: number;
  generation: string | null;
  leader: boolean;
}

/** The answer to `status`. */
export interface ClusterStatus {
  pid: number;
  state: string;
  target: number;
  uptimeMs: number;
  primaryPssMb: number | null;
  workers: WorkerStatus[];
  /** A reload under way or queued (an accepted intent is kept until it is carried out). */
  reload?: { withPreload: boolean; queued: boolean } | null;
  /**
   * Restarts since the cluster started, by why the worker replaced ended: `crashed` (a non-zero
   * exit), `exited` (exit 0 on its own), `killed` (a signal from elsewhere, e.g. the OOM killer),
   * `hung` and `boot_timeout` (killed by the supervisor), `replacement_failed` (a reload's or a
   * recycle's replacement that failed before it served).
   */
  restartsByReason?: Record<string, number>;
  /** Rolling reloads started since the cluster started. */
  reloads?: number;
  preload: {
    generation: string | null;
    durationMs: number | null;
    /** The preloader's record of each step; one it did not complete also says how the workers redid it. */
    steps: StepLine[];
    /** A preload under way (the first start's or a reload's), or null. */
    running?: { generation: string; forMs: number } | null;
  } | null;
}

/** Checks one request line; returns the request or why it is refused. */
export function parseControlRequest(line: string): { request: ControlRequest } | { error: string; id: number | null } {
  let value: Record<string, unknown>;
  try {
    value = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return { error: 'not valid JSON', id: null };
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return { error: 'a request must be a JSON object', id: null };
  const id = Number.isInteger(value.id) ? (value.id as number) : null;
  if (id === null) return { error: '"id" must be an integer', id: null };
  if (value.v !== CONTROL_PROTOCOL_VERSION)
    return { error: `unsupported protocol version ${JSON.stringify(value.v)} (this primary speaks ${CONTROL_PROTOCOL_VERSION})`, id };
  const allowed: Record<ControlCommand, string[]> = { status: [], reload: ['preload'], scale: ['workers'], stop: [] };
  const cmd = value.cmd as ControlCommand;
  if (!(typeof cmd === 'string' && cmd in allowed))
    return { error: `unknown command ${JSON.stringify(value.cmd)}: use status, reload, scale or stop`, id };
  const extra = Object.keys(value).filter((k) => !['v', 'id', 'cmd', ...allowed[cmd]].includes(k));
  if (extra.length) return { error: `unexpected field(s) for ${cmd}: ${extra.join(', ')}`, id };
  if (cmd === 'reload' && value.preload !== undefined && typeof value.preload !== 'boolean')
    return { error: '"preload" must be true or false', id };
  if (cmd === 'scale' && !(Number.isInteger(value.workers) && (value.workers as number) >= 1 && (value.workers as number) <= 1024)) {
    return { error: '"workers" must be a whole number from 1 to 1024', id };
  }
  return { request: value as unknown as ControlRequest };
}

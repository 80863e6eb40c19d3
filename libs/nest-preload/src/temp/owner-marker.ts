import { lstatSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { procStat } from '../control/process-alive';
import { removeDir } from './remove-dir';

/** The file in every dir this library creates that says which process owns it. */
export const OWNER_FILE = '.owner';

/** Who owns a dir: a pid, and that process's start time, so that a reused pid is not mistaken for it. */
export interface Owner {
  pid: number;
  /** Start time of the process in clock ticks since boot (/proc/PID/stat field 22); null off Linux. */
  startTicks: number | null;
  /** The preload generation, where the dir belongs to one. */
  generation?: string;
}

/** Start time of a process (clock ticks since boot), or null when it cannot be read. */
export function processStartTicks(pid: number): number | null {
  return procStat(pid)?.startTicks ?? null;
}

/** Writes the owner marker of `dir` for this process. */
export function markOwner(dir: string, generation?: string): void {
  const owner: Owner = { pid: process.pid, startTicks: processStartTicks(process.pid), ...(generation ? { generation } : {}) };
  writeFileSync(join(dir, OWNER_FILE), JSON.stringify(owner), { mode: 0o600 });
}

/** Whether the owner of a marker is gone: no such process, an exited one not reaped yet, or another process under the same pid. */
function ownerGone(owner: Owner): boolean {
  const stat = procStat(owner.pid);
  if (stat?.state === 'Z') return true;
  const ticks = stat?.startTicks ?? null;
  if (ticks === null) {
    try {
      process.kill(owner.pid, 0);
      return false;
    } catch (error) {
      return (error as NodeJS.ErrnoException).code === 'ESRCH';
    }
  }
  return owner.startTicks !== null && ticks !== owner.startTicks;
}

/**
 * Removes the `nest-preload-*` dirs under `root` that this user owns and whose owner process is
 * gone (a primary or worker that was killed). Dirs without a marker, of another user, or of a live
 * owner are left alone.
 * @returns the dirs removed.
 */
export function sweepStaleDirs(root: string): string[] {
  const removed: string[] = [];
  let entries: string[];
  try {
    entries = readdirSync(root).filter((e) => e.startsWith('nest-preload-'));
  } catch {
    return removed;
  }
  for (const entry of entries) {
    const dir = join(root, entry);
    try {
      const stat = lstatSync(dir);
      if (!stat.isDirectory() || (process.getuid && stat.uid !== process.getuid())) continue;
      const owner = JSON.parse(readFileSync(join(dir, OWNER_FILE), 'utf8')) as Owner;
      if (!Number.isInteger(owner.pid) || owner.pid === process.pid || !ownerGone(owner)) continue;
    } catch {
      continue;
    }
    if (removeDir(dir) === null) removed.push(dir);
  }
  return removed;
}

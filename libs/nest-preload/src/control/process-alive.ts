import { readFileSync } from 'node:fs';

/** State letter and start time (clock ticks since boot) of a process, from /proc; null when it cannot be read. */
export function procStat(pid: number): { state: string; startTicks: number } | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { state: fields[0], startTicks: Number(fields[19]) };
  } catch {
    return null;
  }
}

/**
 * Whether the process runs. One that belongs to another user counts (EPERM); one that exited but
 * whose parent has not reaped it yet (a zombie) does not.
 */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  return procStat(pid)?.state !== 'Z';
}

import { readFileSync } from 'node:fs';

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
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat[stat.lastIndexOf(')') + 2] !== 'Z';
  } catch {
    return true;
  }
}

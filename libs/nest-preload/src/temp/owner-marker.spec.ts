import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { markOwner, OWNER_FILE, processStartTicks, sweepStaleDirs } from './owner-marker';

/** A pid that certainly belonged to a process that has exited. */
function deadPid(): number {
  return Number(spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' }).stdout);
}

describe('owner markers and the sweep of stale dirs', () => {
  it('removes the dirs of owners that are gone (or whose pid was reused), and only those', () => {
    const root = mkdtempSync(join(tmpdir(), 'sweep-spec-'));
    const make = (name: string, owner?: object) => {
      const dir = join(root, name);
      mkdirSync(dir);
      if (owner) writeFileSync(join(dir, OWNER_FILE), JSON.stringify(owner));
      return dir;
    };
    const dead = make('nest-preload-1-dead', { pid: deadPid(), startTicks: 1 });
    const reused = make('nest-preload-2-reused', { pid: process.ppid, startTicks: -5 });
    const live = make('nest-preload-3-live', { pid: process.ppid, startTicks: processStartTicks(process.ppid) });
    const mine = join(root, 'nest-preload-4-mine');
    mkdirSync(mine);
    markOwner(mine, 'gen-x');
    const unmarked = make('nest-preload-5-unmarked');
    const other = make('something-else', { pid: deadPid(), startTicks: 1 });
    expect(sweepStaleDirs(root).sort()).toEqual([dead, reused].sort());
    for (const kept of [live, mine, unmarked, other]) expect(existsSync(kept)).toBe(true);
    expect(existsSync(dead) || existsSync(reused)).toBe(false);
  });

  it('a missing root is nothing to sweep', () => {
    expect(sweepStaleDirs(join(tmpdir(), 'no-such-dir-for-sweep'))).toEqual([]);
  });
});

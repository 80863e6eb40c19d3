import { mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { dirname, join, resolve, sep } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { procStat, processAlive } from './process-alive';

/** A claim of a control file by this primary: one control file, one cluster. */
export interface ControlClaim {
  /** Gives the claim up (once the cluster has stopped). */
  release(): void;
}

interface ClaimOwner {
  pid: number;
  startTicks: number | null;
}

/** How long a claim dir may stay without its owner file before it counts as left by a crash. */
const HALF_MADE_MS = 5_000;

const ownerOf = (dir: string): ClaimOwner | null => {
  try {
    const owner = JSON.parse(readFileSync(join(dir, 'owner'), 'utf8')) as ClaimOwner;
    return Number.isInteger(owner.pid) ? owner : null;
  } catch {
    return null;
  }
};

const ownerAlive = (owner: ClaimOwner) =>
  processAlive(owner.pid) && (owner.startTicks === null || procStat(owner.pid)?.startTicks === owner.startTicks);

/**
 * Claims `controlFile` for this primary, atomically: the claim is a dir (`mkdir` fails for all but
 * one of two primaries started at the same instant) holding its owner's pid and start time. A claim
 * whose owner is gone is taken over by renaming it away first, so that of two primaries that find
 * the same stale claim only one removes it.
 * @returns the claim, or why this primary cannot have it.
 */
export async function claimControlFile(controlFile: string): Promise<ControlClaim | string> {
  try {
    return await claim(controlFile);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (!code || !UNWRITABLE.has(code)) throw error;
    const where = (error as NodeJS.ErrnoException).path ?? controlFile;
    const inTemp = resolve(controlFile).startsWith(`${resolve(tmpdir())}${sep}`);
    return (
      `cannot write the control file ${controlFile} (${code}: ${(error as NodeJS.ErrnoException).syscall ?? 'write'} ${where}): ` +
      'give the cluster a writable path with NEST_PRELOAD_CONTROL_FILE (or the controlFile option) — ' +
      (inTemp
        ? `this one is already under the temp dir ${tmpdir()}: use a dir this user owns there or a mounted volume, e.g. NEST_PRELOAD_CONTROL_FILE=${join(tmpdir(), `nest-preload-${process.getuid?.() ?? 'app'}`, 'control.json')}`
        : 'on a read-only root filesystem, one under a writable volume, e.g. NEST_PRELOAD_CONTROL_FILE=/tmp/nest-preload/control.json')
    );
  }
}

/** Why a path cannot be written: a read-only filesystem, permissions, a file where a dir should be, a full disk. */
const UNWRITABLE = new Set(['EROFS', 'EACCES', 'EPERM', 'ENOTDIR', 'ENOSPC']);

async function claim(controlFile: string): Promise<ControlClaim | string> {
  const dir = `${controlFile}.claim`;
  mkdirSync(dirname(controlFile), { recursive: true, mode: 0o700 });
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      mkdirSync(dir, { mode: 0o700 });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      let owner = ownerOf(dir);
      // Another primary may be between its mkdir and writing its owner file.
      for (let waited = 0; !owner && waited < 500; waited += 25) {
        await sleep(25);
        owner = ownerOf(dir);
      }
      if (owner && ownerAlive(owner)) {
        return `another cluster (primary pid ${owner.pid}) is running with the control file ${controlFile}: stop it, or give this one another controlFile (or NEST_PRELOAD_CONTROL_FILE)`;
      }
      if (!owner) {
        let ageMs: number;
        try {
          ageMs = Date.now() - statSync(dir).mtimeMs;
        } catch {
          continue;
        }
        if (ageMs < HALF_MADE_MS)
          return `another cluster is starting with the control file ${controlFile}: wait for it, or give this one another controlFile`;
      }
      const tomb = `${dir}.stale-${process.pid}-${randomBytes(4).toString('hex')}`;
      try {
        renameSync(dir, tomb);
      } catch {
        continue;
      }
      const taken = ownerOf(tomb);
      if (taken && owner && (taken.pid !== owner.pid || taken.startTicks !== owner.startTicks)) {
        // The stale claim was replaced in between: this rename took a live one; give it back.
        try {
          renameSync(tomb, dir);
        } catch {
          // Its owner still runs without its claim dir; it only affects a third primary.
        }
        return `another cluster (primary pid ${taken.pid}) is running with the control file ${controlFile}: stop it, or give this one another controlFile`;
      }
      rmSync(tomb, { recursive: true, force: true });
      continue;
    }
    const me: ClaimOwner = { pid: process.pid, startTicks: procStat(process.pid)?.startTicks ?? null };
    writeFileSync(join(dir, 'owner'), JSON.stringify(me), { mode: 0o600 });
    return {
      release() {
        if (ownerOf(dir)?.pid === process.pid) rmSync(dir, { recursive: true, force: true });
      },
    };
  }
  return `could not claim the control file ${controlFile}: other primaries keep racing for it; start one at a time`;
}

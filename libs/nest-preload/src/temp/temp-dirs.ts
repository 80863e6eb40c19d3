import { chmodSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { toSafeName } from '../name-rule';
import { markOwner } from './owner-marker';
import { removeDir } from './remove-dir';

export { removeDir } from './remove-dir';

/**
 * The temp dirs one process made and must remove: created 0700 under `root`, tracked until they
 * are removed or handed over to the primary.
 */
export class OwnedTempDirs {
  private readonly dirs = new Set<string>();

  constructor(private readonly root: string = tmpdir()) {}

  /** Creates a private (0700) temp dir and records it as owned by this process. */
  create(prefix: string): string {
    const safe = toSafeName(prefix, 'dir');
    const dir = mkdtempSync(join(this.root, `nest-preload-${safe}-`));
    chmodSync(dir, 0o700);
    // So that a later start can tell it was left by a process that is gone (and sweep it).
    markOwner(dir);
    this.dirs.add(dir);
    return dir;
  }

  list(): string[] {
    return [...this.dirs];
  }

  /** Gives up ownership (to the primary, which removes them) and returns what was owned. */
  handOver(): string[] {
    const dirs = this.list();
    this.dirs.clear();
    return dirs;
  }

  /** Removes every owned dir; returns the ones that could not be removed with why. */
  removeAll(): string[] {
    const failures: string[] = [];
    for (const dir of this.dirs) {
      const error = removeDir(dir);
      if (error) failures.push(`${dir}: ${error}`);
      this.dirs.delete(dir);
    }
    return failures;
  }
}

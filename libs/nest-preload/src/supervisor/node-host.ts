import { mkdirSync, mkdtempSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { markOwner, sweepStaleDirs } from '../temp/owner-marker';
import { removeDir } from '../temp/remove-dir';
import type { HostPort, StepLine } from './supervisor.ports';

/** The real filesystem and Linux's `/proc`. */
export const nodeHost: HostPort = {
  sweep: (roots) => [...new Set(roots)].flatMap((root) => sweepStaleDirs(root)),
  makeClusterDir(runRoot, pid) {
    const dir = mkdtempSync(join(runRoot, `nest-preload-${pid}-`));
    markOwner(dir);
    return dir;
  },
  makeDir(path, generation) {
    mkdirSync(path, { mode: 0o700 });
    if (generation) markOwner(path, generation);
  },
  removeDir,
  manifestSteps(manifestPath) {
    try {
      const manifest = JSON.parse(readFileSync(manifestPath, 'utf8')) as { steps: StepLine[] };
      return manifest.steps.map(({ name, status, ranIn, durationMs, critical }) => ({ name, status, ranIn, durationMs, critical }));
    } catch {
      return [];
    }
  },
  pssMb(pid) {
    try {
      const kb = /^Pss:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'))?.[1];
      return kb ? Math.round(Number(kb) / 102.4) / 10 : null;
    } catch {
      return null;
    }
  },
};

import { mkdirSync, mkdtempSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
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
  writeFile(path, text) {
    try {
      mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
      const temp = `${path}.${process.pid}.tmp`;
      writeFileSync(temp, text, { mode: 0o600 });
      renameSync(temp, path);
      return null;
    } catch (error) {
      return error instanceof Error ? error.message : String(error);
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

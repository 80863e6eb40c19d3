import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { StepState } from '../../steps/step.types';
import { MANIFEST_VERSION, type ResultEntry, writeManifest } from '../manifest';
import { ResultFiles } from '../result-files';

/**
 * For specs: a preloader's hand-over in a new run dir — each value written as a result file, and a
 * manifest of generation `g1` for primary `primaryPid`. A step record needs only a name and a
 * status; the rest defaults to a best-effort step the preloader ran in 1 ms.
 */
export async function writeHandover(
  steps: Array<Pick<StepState, 'name' | 'status'> & Partial<StepState>>,
  values: Record<string, unknown> = {},
  primaryPid = 777,
): Promise<{ path: string; runDir: string; results: Record<string, ResultEntry> }> {
  const runDir = mkdtempSync(join(tmpdir(), 'handover-'));
  const files = new ResultFiles(runDir);
  const results: Record<string, ResultEntry> = {};
  for (const [name, value] of Object.entries(values)) results[name] = await files.write(name, value);
  const path = await writeManifest(runDir, {
    version: MANIFEST_VERSION,
    generation: 'g1',
    primaryPid,
    preloaderPid: primaryPid + 1,
    createdAt: '',
    steps: steps.map((s) => ({ critical: false, ranIn: 'preloader', durationMs: 1, error: null, ...s })),
    results,
    tempDirs: [],
  });
  return { path, runDir, results };
}

import { dirname } from 'node:path';
import type { StepPlan } from '../steps/step-plan';
import type { StepDefinition, StepState } from '../steps/step.types';
import { type Manifest, readTrustedManifest } from './manifest';
import { ResultFiles } from './result-files';

/** What a worker takes over from a trusted hand-over. */
export interface Adoption {
  trusted: true;
  manifest: Manifest;
  /** The preloader's records of the steps this worker skips: complete, with a verified result file where they returned a value. */
  adopted: StepState[];
  /** The steps this worker runs itself, in plan order: what did not complete (or whose file failed its check), and every step that depends on one of those, directly or not. */
  redo: StepDefinition[];
  /** The verified result files of the adopted steps, open, for `PreloadService.result()`. */
  files: ResultFiles;
  /** One line per result file that failed its check (its step is redone). */
  warnings: string[];
}

/**
 * A worker's reading of the preloader's hand-over, in one place: trust the manifest (a regular
 * file of this user, of the expected generation, written for this worker's parent), verify each
 * completed step's result file once, and adopt what passed.
 * @param hotBytes `artifactCacheBytes`, for the artifact handles handed out later
 * @returns the adoption, or why the manifest is not trusted (the worker then runs every step)
 */
export function readHandover(
  manifestPath: string,
  expected: { generation: string; parentPid: number },
  plan: Pick<StepPlan, 'names' | 'withDependents'>,
  hotBytes = 0,
): Adoption | { trusted: false; reason: string } {
  const trust = readTrustedManifest(manifestPath, expected);
  if (!trust.trusted) return trust;
  const { manifest } = trust;
  const files = new ResultFiles(dirname(manifestPath), hotBytes);
  const inPlan = new Set(plan.names);
  const complete = new Map<string, StepState>();
  const warnings: string[] = [];
  for (const record of manifest.steps) {
    if (!inPlan.has(record.name) || record.status !== 'complete') continue;
    const entry = manifest.results[record.name];
    const reason = entry ? files.verify(record.name, entry) : null;
    if (reason) warnings.push(`the result of step ${record.name} cannot be used (${reason}); this worker redoes the step`);
    else complete.set(record.name, record);
  }
  const redo = plan.withDependents(plan.names.filter((name) => !complete.has(name)));
  for (const step of redo) {
    complete.delete(step.name);
    files.forget(step.name);
  }
  return { trusted: true, manifest, adopted: [...complete.values()], redo, files, warnings };
}

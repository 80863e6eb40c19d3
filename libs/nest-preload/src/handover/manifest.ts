import { lstatSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import writeFileAtomic from 'write-file-atomic';
import type { StepState } from '../steps/step.types';

export const MANIFEST_FILE = 'manifest.json';
export const MANIFEST_VERSION = 1;

/** A step's return value, written once by the preloader. */
export interface ResultEntry {
  /** `value`: a v8-serialized value, decoded on first use; `artifact`: a {@link PreloadArtifact} file, read in slices. */
  kind: 'value' | 'artifact';
  /** File name inside the run dir (no directory part). */
  file: string;
  size: number;
  sha256: string;
}

/** What the preloader hands over to the workers through the run dir. */
export interface Manifest {
  version: typeof MANIFEST_VERSION;
  generation: string;
  /** The primary that forked the preloader; workers trust the manifest only if it is their parent. */
  primaryPid: number;
  preloaderPid: number;
  createdAt: string;
  steps: StepState[];
  results: Record<string, ResultEntry>;
  /** Temp dirs the preloader made; the primary owns and removes them. */
  tempDirs: string[];
}

/** Whether a worker may trust a manifest, and if not, why. */
export type ManifestTrust = { trusted: true; manifest: Manifest } | { trusted: false; reason: string };

/**
 * Writes `data` to `path` atomically (temp file, rename), owner-only. No fsync: these files live
 * in a run dir that lasts one cluster's life and is swept after a crash, so durability across a
 * power loss buys nothing, and each fsync sat on the preloader's critical path; the rename alone
 * makes a reader see the whole file or none.
 */
export async function writePrivateFile(path: string, data: string | Buffer): Promise<void> {
  await writeFileAtomic(path, data, { mode: 0o600, fsync: false });
}

/** Writes the manifest (mode 0600, atomic) and returns its path. */
export async function writeManifest(runDir: string, manifest: Manifest): Promise<string> {
  const path = join(runDir, MANIFEST_FILE);
  await writePrivateFile(path, JSON.stringify(manifest, null, 2));
  return path;
}

/**
 * Reads the manifest at `path` and decides whether this process may trust it: it must be a
 * regular file that parses, carry the expected generation, and name this process's parent as its
 * primary.
 */
export function readTrustedManifest(path: string, expected: { generation: string; parentPid: number }): ManifestTrust {
  let text: string;
  try {
    const stat = lstatSync(path);
    if (!stat.isFile()) return { trusted: false, reason: `${path} is not a regular file` };
    // Written by our own preloader, so by this user: a manifest another user could write is not ours.
    if (process.getuid && stat.uid !== process.getuid())
      return { trusted: false, reason: `${path} belongs to uid ${stat.uid}, not to this process's user` };
    if (stat.mode & 0o022) return { trusted: false, reason: `${path} is writable by others (mode ${(stat.mode & 0o777).toString(8)})` };
    text = readFileSync(path, 'utf8');
  } catch (error) {
    return { trusted: false, reason: `the manifest ${path} cannot be read (${(error as NodeJS.ErrnoException).code ?? String(error)})` };
  }
  let manifest: Manifest;
  try {
    manifest = JSON.parse(text) as Manifest;
  } catch {
    return { trusted: false, reason: `the manifest ${path} is not valid JSON (corrupt or truncated)` };
  }
  if (!isManifest(manifest))
    return { trusted: false, reason: `the manifest ${path} does not have the expected shape (version ${MANIFEST_VERSION})` };
  if (manifest.generation !== expected.generation) {
    return { trusted: false, reason: `the manifest is of generation ${manifest.generation}, this worker expects ${expected.generation}` };
  }
  if (manifest.primaryPid !== expected.parentPid) {
    return {
      trusted: false,
      reason: `the manifest was written for primary pid ${manifest.primaryPid}, but this worker's parent is pid ${expected.parentPid}`,
    };
  }
  return { trusted: true, manifest };
}

function isManifest(value: unknown): value is Manifest {
  const m = value as Manifest;
  return (
    typeof m === 'object' &&
    m !== null &&
    m.version === MANIFEST_VERSION &&
    typeof m.generation === 'string' &&
    Number.isInteger(m.primaryPid) &&
    Array.isArray(m.steps) &&
    m.steps.every((s) => typeof s?.name === 'string' && typeof s?.status === 'string') &&
    typeof m.results === 'object' &&
    m.results !== null &&
    Array.isArray(m.tempDirs)
  );
}

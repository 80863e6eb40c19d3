import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

export const LIB = resolve(__dirname, '../../libs/nest-preload');

/** `npm pack` of the built library into a new temp dir: what `npm i @lf/nest-preload` would fetch. */
export function packLibrary(): { tarball: string; dir: string } {
  const dir = mkdtempSync(join(tmpdir(), 'np-pack-'));
  execFileSync('npm', ['pack', '--pack-destination', dir, '--silent'], { cwd: LIB, encoding: 'utf8' });
  return { tarball: join(dir, readdirSync(dir).find((f) => f.endsWith('.tgz')) as string), dir };
}

/**
 * For a test file that installs the packed library into apps in temp dirs: packs it once before
 * the file's tests, and removes the tarball's dir and every dir made by `tempDir` after them.
 * Register it after any afterAll that must run before the removal (Jest runs them in order).
 */
export function usePackedLibrary(): { tarball: () => string; tempDir: (prefix: string) => string } {
  const dirs: string[] = [];
  let tarball = '';
  beforeAll(() => {
    const packed = packLibrary();
    dirs.push(packed.dir);
    tarball = packed.tarball;
  });
  afterAll(() => {
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });
  return {
    tarball: () => tarball,
    tempDir: (prefix) => {
      const dir = mkdtempSync(join(tmpdir(), prefix));
      dirs.push(dir);
      return dir;
    },
  };
}

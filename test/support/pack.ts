import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

export const LIB = resolve(__dirname, '../../libs/nest-preload');

/** `npm pack` of the built library into a new temp dir: what `npm i @lf/nest-preload` would fetch. */
export function packLibrary(): { tarball: string; dir: string } {
  const dir = mkdtempSync(join(tmpdir(), 'np-pack-'));
  execFileSync('npm', ['pack', '--pack-destination', dir, '--silent'], { cwd: LIB, encoding: 'utf8' });
  return { tarball: join(dir, readdirSync(dir).find((f) => f.endsWith('.tgz')) as string), dir };
}

import { existsSync, mkdtempSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { OwnedTempDirs } from './temp-dirs';

describe('OwnedTempDirs', () => {
  const root = mkdtempSync(join(tmpdir(), 'owned-spec-'));

  it('creates private dirs under its root and removes what it owns, contents included', () => {
    const dirs = new OwnedTempDirs(root);
    const a = dirs.create('bundle a/../b');
    writeFileSync(join(a, 'f'), 'x');
    expect(a.startsWith(join(root, 'nest-preload-bundle_a_.._b-'))).toBe(true);
    expect(statSync(a).mode & 0o777).toBe(0o700);
    expect(dirs.list()).toEqual([a]);
    expect(dirs.removeAll()).toEqual([]);
    expect(existsSync(a)).toBe(false);
    expect(dirs.list()).toEqual([]);
  });

  it('hands dirs over: afterwards it owns, and removes, nothing', () => {
    const dirs = new OwnedTempDirs(root);
    const a = dirs.create('x');
    expect(dirs.handOver()).toEqual([a]);
    expect(dirs.list()).toEqual([]);
    dirs.removeAll();
    expect(existsSync(a)).toBe(true);
  });
});

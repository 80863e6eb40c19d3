import { chmodSync, chownSync, mkdtempSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Manifest, MANIFEST_VERSION, readTrustedManifest, writeManifest } from './manifest';

const manifest = (over: Partial<Manifest> = {}): Manifest => ({
  version: MANIFEST_VERSION,
  generation: 'gen-1',
  primaryPid: 4242,
  preloaderPid: 4243,
  createdAt: new Date(0).toISOString(),
  steps: [{ name: 'a', critical: true, status: 'complete', ranIn: 'preloader', durationMs: 3, error: null }],
  results: {},
  tempDirs: ['/tmp/x'],
  ...over,
});

describe('manifest hand-over', () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'manifest-spec-'))));

  it('writes the manifest atomically with mode 0600 and trusts it for the right generation and parent', async () => {
    const path = await writeManifest(dir, manifest());
    expect(statSync(path).mode & 0o777).toBe(0o600);
    const trust = readTrustedManifest(path, { generation: 'gen-1', parentPid: 4242 });
    expect(trust).toEqual({ trusted: true, manifest: manifest() });
  });

  it('refuses a manifest of another generation', async () => {
    const path = await writeManifest(dir, manifest());
    expect(readTrustedManifest(path, { generation: 'gen-2', parentPid: 4242 })).toEqual({
      trusted: false,
      reason: 'the manifest is of generation gen-1, this worker expects gen-2',
    });
  });

  it("refuses a manifest written for another primary than the worker's parent", async () => {
    const path = await writeManifest(dir, manifest());
    expect(readTrustedManifest(path, { generation: 'gen-1', parentPid: 1 })).toEqual({
      trusted: false,
      reason: "the manifest was written for primary pid 4242, but this worker's parent is pid 1",
    });
  });

  it('refuses a corrupt, truncated, misshapen or missing manifest, saying why', async () => {
    const path = await writeManifest(dir, manifest());
    const text = readFileSync(path, 'utf8');
    writeFileSync(path, text.slice(0, text.length / 2));
    expect(readTrustedManifest(path, { generation: 'gen-1', parentPid: 4242 })).toMatchObject({
      trusted: false,
      reason: expect.stringContaining('not valid JSON'),
    });
    writeFileSync(path, JSON.stringify({ ...manifest(), version: 99 }));
    expect(readTrustedManifest(path, { generation: 'gen-1', parentPid: 4242 })).toMatchObject({
      trusted: false,
      reason: expect.stringContaining('expected shape'),
    });
    expect(readTrustedManifest(join(dir, 'missing.json'), { generation: 'gen-1', parentPid: 4242 })).toMatchObject({
      trusted: false,
      reason: expect.stringContaining('ENOENT'),
    });
  });

  it('refuses a manifest another user owns, or others can write', async () => {
    const path = await writeManifest(dir, manifest());
    chmodSync(path, 0o666);
    expect(readTrustedManifest(path, { generation: 'gen-1', parentPid: 4242 })).toEqual({
      trusted: false,
      reason: `${path} is writable by others (mode 666)`,
    });
    chmodSync(path, 0o600);
    if (process.getuid?.() === 0) {
      chownSync(path, 65534, 65534);
      expect(readTrustedManifest(path, { generation: 'gen-1', parentPid: 4242 })).toEqual({
        trusted: false,
        reason: `${path} belongs to uid 65534, not to this process's user`,
      });
    }
  });

  it('refuses a symlink planted where the manifest should be', async () => {
    const real = await writeManifest(dir, manifest());
    const link = join(dir, 'link.json');
    symlinkSync(real, link);
    expect(readTrustedManifest(link, { generation: 'gen-1', parentPid: 4242 })).toMatchObject({
      trusted: false,
      reason: expect.stringContaining('not a regular file'),
    });
  });
});

import { mkdtempSync, readFileSync, renameSync, statSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type ArtifactHandle, FileArtifact, PreloadArtifact } from './artifact';
import { ResultFiles } from './result-files';

// The modules themselves (not an import namespace), so that a spy sees what result-files.ts calls.
const crypto: typeof import('node:crypto') = require('node:crypto');
const fs: typeof import('node:fs') = require('node:fs');

const value = { index: { inputs: ['ChatInput'] }, when: new Date(5), tags: new Map([['a', 1]]) };
const artifact = () => new PreloadArtifact(Buffer.from('{"a":1}\n{"b":22}'), { a: [0, 7], b: [8, 8] });

describe('ResultFiles', () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'results-spec-'))));
  afterEach(() => jest.restoreAllMocks());

  it('writes a value to a checksummed 0600 file, lists its entry for the manifest, and a worker reads it back', async () => {
    const preloader = new ResultFiles(dir);
    const entry = await preloader.write('types_cached', value);
    expect(entry).toMatchObject({ kind: 'value', file: 'result-types_cached.v8' });
    expect(statSync(join(dir, entry.file)).mode & 0o777).toBe(0o600);
    expect(preloader.entries()).toEqual({ types_cached: entry });
    const worker = new ResultFiles(dir);
    expect(worker.verify('types_cached', entry)).toBeNull();
    expect(worker.read('types_cached')).toEqual({ value });
    // Decoded once: the same object every time.
    const first = worker.read('types_cached') as { value: unknown };
    expect((worker.read('types_cached') as { value: unknown }).value).toBe(first.value);
  });

  it('hashes each file once: at verification, never again when the value is read', async () => {
    const entry = await new ResultFiles(dir).write('types_cached', value);
    const hash = jest.spyOn(crypto, 'createHash');
    const worker = new ResultFiles(dir);
    expect(worker.verify('types_cached', entry)).toBeNull();
    expect(hash).toHaveBeenCalledTimes(1);
    expect(worker.read('types_cached')).toEqual({ value });
    expect(hash).toHaveBeenCalledTimes(1);
  });

  it('reads the file it verified: one swapped in by a rename afterwards is not what it reads', async () => {
    const entry = await new ResultFiles(dir).write('x', { ok: true });
    const worker = new ResultFiles(dir);
    expect(worker.verify('x', entry)).toBeNull();
    // The write is atomic: a new file is renamed over the old path.
    await new ResultFiles(dir).write('x', { ok: false });
    expect(worker.read('x')).toEqual({ value: { ok: true } });
  });

  it('refuses a file changed in place after it was verified', async () => {
    const entry = await new ResultFiles(dir).write('x', { ok: true });
    const worker = new ResultFiles(dir);
    expect(worker.verify('x', entry)).toBeNull();
    const path = join(dir, entry.file);
    writeFileSync(path, readFileSync(path));
    utimesSync(path, new Date(), new Date(Date.now() + 5_000));
    expect(worker.read('x')).toEqual({ reason: `${path} changed after it was verified` });
  });

  it('refuses, saying why: a changed file, a wrong size, a path that is not a plain name, a symlink, a missing file', async () => {
    const entry = await new ResultFiles(dir).write('x', value);
    const path = join(dir, entry.file);
    const worker = new ResultFiles(dir);
    const bytes = readFileSync(path);
    bytes[bytes.length - 1] ^= 0xff;
    writeFileSync(path, bytes);
    expect(worker.verify('x', entry)).toBe(`${path} does not match its sha256 checksum`);
    expect(worker.verify('x', { ...entry, size: 1 })).toBe(`${path} has ${entry.size} bytes, the manifest says 1`);
    expect(worker.verify('x', { ...entry, file: '../etc/passwd' })).toBe('result file name "../etc/passwd" is not a plain file name');
    renameSync(path, join(dir, 'elsewhere'));
    symlinkSync(join(dir, 'elsewhere'), path);
    expect(worker.verify('x', entry)).toBe(`${path} is not a regular file`);
    expect(worker.verify('x', { ...entry, file: 'missing.v8' })).toBe(`${join(dir, 'missing.v8')} cannot be read (ENOENT)`);
    expect(worker.has('x')).toBe(false);
    expect(worker.read('x')).toEqual({ reason: 'step x has no verified result file' });
  });

  it('hands an artifact out as a file-backed handle over the verified descriptor, and closes it with the rest', async () => {
    const entry = await new ResultFiles(dir).write('index', artifact());
    expect(entry).toMatchObject({ kind: 'artifact', file: 'result-index.artifact' });
    const worker = new ResultFiles(dir, 1024);
    expect(worker.verify('index', entry)).toBeNull();
    const handle = (worker.read('index') as { value: ArtifactHandle }).value;
    expect(handle).toBeInstanceOf(FileArtifact);
    expect(handle.slice('b')?.toString()).toBe('{"b":22}');
    worker.close();
    expect(() => handle.slice('a')).toThrow('is closed (the app is shutting down)');
    expect(worker.read('other')).toEqual({ reason: 'step other has no verified result file' });
  });

  it('an artifact file that checks out but cannot be opened as one is refused, and its descriptor is closed once', async () => {
    const entry = await new ResultFiles(dir).write('index', { not: 'an artifact' });
    const worker = new ResultFiles(dir);
    expect(worker.verify('index', { ...entry, kind: 'artifact' })).toBeNull();
    expect(worker.read('index')).toEqual({
      reason: `${join(dir, entry.file)} cannot be read (${join(dir, entry.file)} is not an artifact file)`,
    });
    const close = jest.spyOn(fs, 'closeSync');
    worker.close();
    expect(close).toHaveBeenCalledTimes(1);
    expect(() => worker.close()).not.toThrow();
  });

  it('forget closes a verified file and drops it (the step is redone)', async () => {
    const entry = await new ResultFiles(dir).write('x', 1);
    const worker = new ResultFiles(dir);
    expect(worker.verify('x', entry)).toBeNull();
    const close = jest.spyOn(fs, 'closeSync');
    expect(worker.has('x')).toBe(true);
    worker.forget('x');
    expect(close).toHaveBeenCalledTimes(1);
    expect(worker.has('x')).toBe(false);
    worker.close();
    expect(close).toHaveBeenCalledTimes(1);
  });
});

import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { text } from 'node:stream/consumers';
import { encodeArtifact, FileArtifact, MemoryArtifact, PreloadArtifact } from './artifact';

const payload = Buffer.from('{"a":1}\n{"b":22}');
const artifact = () => new PreloadArtifact(payload, { a: [0, 7], b: [8, 8], empty: [3, 0] });

describe('artifacts', () => {
  it('refuses a slice outside the bytes', () => {
    expect(() => new PreloadArtifact(payload, { bad: [10, 20] })).toThrow('artifact slice "bad" [10, 20] is outside the 16 bytes');
  });

  it.each([
    ['in memory', () => new MemoryArtifact(artifact())],
    [
      'from the hand-over file',
      () => {
        const path = join(mkdtempSync(join(tmpdir(), 'art-')), 'x.artifact');
        const bytes = encodeArtifact(artifact());
        writeFileSync(path, bytes);
        return new FileArtifact(path, bytes.length);
      },
    ],
  ])('%s: reads slices and streams, whole or by key', async (_, open) => {
    const handle = open();
    expect(handle.size).toBe(16);
    expect(handle.keys()).toEqual(['a', 'b', 'empty']);
    expect(handle.slice('b')?.toString()).toBe('{"b":22}');
    expect(handle.slice('nope')).toBeUndefined();
    expect(handle.has('a')).toBe(true);
    expect(await text(handle.stream())).toBe(payload.toString());
    expect(await text(handle.stream('a'))).toBe('{"a":1}');
    expect(await text(handle.stream('empty'))).toBe('');
    expect(() => handle.stream('nope')).toThrow('no artifact slice "nope"');
  });

  it('keeps the first slices read up to its hot budget, and reads the others from the file every time', async () => {
    const path = join(mkdtempSync(join(tmpdir(), 'art-')), 'x.artifact');
    const bytes = encodeArtifact(artifact());
    writeFileSync(path, bytes);
    const handle = new FileArtifact(path, bytes.length, 8);
    expect(await text(handle.stream('a'))).toBe('{"a":1}');
    expect(handle.hotSize).toBe(7);
    // 'b' (8 bytes) no longer fits the 1 byte left: read from the file on each use, never kept.
    expect(handle.slice('b')?.toString()).toBe('{"b":22}');
    expect(await text(handle.stream('b'))).toBe('{"b":22}');
    expect(handle.hotSize).toBe(7);
    // The kept slice is served from memory: rewriting the file does not change it, other slices follow the file.
    writeFileSync(path, Buffer.from(bytes.toString().replace('{"a":1}', '{"a":9}').replace('{"b":22}', '{"b":99}')));
    expect(await text(handle.stream('a'))).toBe('{"a":1}');
    expect(handle.slice('b')?.toString()).toBe('{"b":99}');
    const cold = new FileArtifact(path, bytes.length, 0);
    expect(await text(cold.stream('a'))).toBe('{"a":9}');
    expect(cold.hotSize).toBe(0);
  });

  it('streams a slice larger than one read chunk in order', async () => {
    const big = Buffer.alloc(3 * (1 << 20) + 17, 'x');
    big.write('HEAD', 0);
    big.write('TAIL', big.length - 4);
    const path = join(mkdtempSync(join(tmpdir(), 'art-')), 'big.artifact');
    const encoded = encodeArtifact(new PreloadArtifact(big, { all: [0, big.length] }));
    writeFileSync(path, encoded);
    const streamed = await text(new FileArtifact(path, encoded.length).stream('all'));
    expect([streamed.length, streamed.slice(0, 4), streamed.slice(-4)]).toEqual([big.length, 'HEAD', 'TAIL']);
  });

  it('refuses a file that is not an artifact', () => {
    const path = join(mkdtempSync(join(tmpdir(), 'art-')), 'x');
    writeFileSync(path, 'not an artifact at all');
    expect(() => new FileArtifact(path, 22)).toThrow('is not an artifact file');
  });
});

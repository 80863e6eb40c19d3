import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { unpackBundle } from './bundle-archive';
import { BUILTIN_DIR, buildTypesArtifact, listComponentModules } from './component-index';

const { generateBundle } = require('../../../../tools/gen-bundle.cjs') as {
  generateBundle(o: { count: number; out: string; prefix?: string }): Promise<unknown>;
};

describe('component types index', () => {
  it('the built-in library has two dozen component modules', async () => {
    expect(await listComponentModules(BUILTIN_DIR)).toHaveLength(24);
  });

  it('is deterministic, sorted by category and name, and its slices match the whole', async () => {
    const a = await buildTypesArtifact([{ source: 'builtin', dir: BUILTIN_DIR }]);
    const b = await buildTypesArtifact([{ source: 'builtin', dir: BUILTIN_DIR }]);
    expect(a.count).toBe(24);
    expect(a.artifact.bytes.equals(b.artifact.bytes)).toBe(true);
    const [offset, length] = a.artifact.index.all;
    const all = JSON.parse(a.artifact.bytes.subarray(offset, offset + length).toString());
    expect(Object.keys(all)).toEqual([...Object.keys(all)].sort());
    expect(Object.keys(all.processing)).toEqual([...Object.keys(all.processing)].sort());
    const [to, tl] = a.artifact.index['t:SplitText'];
    expect(JSON.parse(a.artifact.bytes.subarray(to, to + tl).toString())).toEqual(all.processing.SplitText);
    expect(all.processing.SplitText.template.chunk_size).toEqual({ type: 'int', required: false, value: 1000, display_name: 'Chunk Size' });
    const [mo, ml] = a.artifact.index['m:SplitText'];
    expect(JSON.parse(a.artifact.bytes.subarray(mo, mo + ml).toString())).toEqual({
      source: 'builtin',
      file: expect.stringMatching(/^split-text\.component\.(ts|js)$/),
    });
    expect(a.artifact.bytes.subarray(offset, offset + length).toString()).not.toContain(BUILTIN_DIR);
    // The gzipped copy is the same JSON, and is the same bytes in every build (no timestamp).
    const [go, gl] = a.artifact.index['all.gz'];
    expect(gunzipSync(a.artifact.bytes.subarray(go, go + gl)).equals(a.artifact.bytes.subarray(offset, offset + length))).toBe(true);
    expect(gl).toBeLessThan(length / 3);
  });

  it('adds bundled components and refuses a name defined twice, naming both files', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'index-spec-'));
    for (const name of ['one', 'two']) {
      await generateBundle({ count: 5, out: join(dir, `${name}.zip`) });
      await unpackBundle(join(dir, `${name}.zip`), join(dir, name), name);
    }
    const { count } = await buildTypesArtifact([
      { source: 'builtin', dir: BUILTIN_DIR },
      { source: 0, dir: join(dir, 'one') },
    ]);
    expect(count).toBe(29);
    await expect(
      buildTypesArtifact([
        { source: 0, dir: join(dir, 'one') },
        { source: 1, dir: join(dir, 'two') },
      ]),
    ).rejects.toThrow(/component Acme\w+ is defined twice: in .*one.* and in .*two.*; rename one of them/);
  });
});

import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const { generateBundle } = require('../../tools/gen-bundle.cjs') as {
  generateBundle(o: { count: number; out: string; prefix?: string }): Promise<{ out: string }>;
};

/** Writes a bundle of `count` generated components (kind by extension) and returns its path. */
export async function makeBundle(count: number, ext: 'tar.gz' | 'zip' = 'tar.gz', prefix = 'Acme'): Promise<string> {
  const out = join(mkdtempSync(join(tmpdir(), 'np-bundle-')), `bundle-${count}.${ext}`);
  await generateBundle({ count, out, prefix });
  return out;
}

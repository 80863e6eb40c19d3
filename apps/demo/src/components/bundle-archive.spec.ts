import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import * as yazl from 'yazl';
import { BundleError, fetchBundle, unpackBundle } from './bundle-archive';

const { generateBundle } = require('../../../../tools/gen-bundle.cjs') as {
  generateBundle(o: { count: number; out: string; prefix?: string }): Promise<unknown>;
};

const work = () => mkdtempSync(join(tmpdir(), 'bundle-spec-'));

/** A .tar.gz with raw ustar headers, so entries can carry names a well-behaved packer refuses. */
function craftTarGz(entries: Array<{ name: string; body?: string; type?: '0' | '2' | '5'; link?: string }>): Buffer {
  const blocks: Buffer[] = [];
  for (const e of entries) {
    const body = Buffer.from(e.body ?? '');
    const header = Buffer.alloc(512);
    header.write(e.name, 0, 100);
    header.write('0000644\0', 100);
    header.write('0000000\0', 108);
    header.write('0000000\0', 116);
    header.write(`${body.length.toString(8).padStart(11, '0')}\0`, 124);
    header.write('00000000000\0', 136);
    header.write('        ', 148);
    header.write(e.type ?? '0', 156);
    if (e.link) header.write(e.link, 157, 100);
    header.write('ustar\0', 257);
    header.write('00', 263);
    let sum = 0;
    for (const byte of header) sum += byte;
    header.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148);
    blocks.push(header, body, Buffer.alloc((512 - (body.length % 512)) % 512));
  }
  blocks.push(Buffer.alloc(1024));
  return gzipSync(Buffer.concat(blocks));
}

/** A .zip whose entry names are patched after yazl (which refuses unsafe names) wrote them. */
async function craftZip(entries: Array<{ name: string; placeholder: string; body: string; symlink?: boolean }>): Promise<Buffer> {
  const zip = new yazl.ZipFile();
  for (const e of entries) zip.addBuffer(Buffer.from(e.body), e.placeholder, e.symlink ? { mode: 0o120777 } : {});
  zip.end();
  const chunks: Buffer[] = [];
  for await (const chunk of zip.outputStream) chunks.push(chunk as Buffer);
  let bytes = Buffer.concat(chunks);
  for (const e of entries) {
    if (e.name.length !== e.placeholder.length) throw new Error('placeholder must be as long as the name');
    bytes = Buffer.from(bytes.toString('latin1').split(e.placeholder).join(e.name), 'latin1');
  }
  return bytes;
}

describe('bundles', () => {
  it.each([['tar.gz'], ['zip']])('unpacks a generated .%s bundle of component modules', async (ext) => {
    const dir = work();
    const archive = join(dir, `b.${ext}`);
    await generateBundle({ count: 7, out: archive });
    await unpackBundle(archive, join(dir, 'out'), archive);
    expect(readdirSync(join(dir, 'out', 'components')).filter((f) => f.endsWith('.js'))).toHaveLength(7);
  });

  it.each([
    ['a ../ entry', [{ name: '../evil.js', body: 'x' }], 'entry "../evil.js" would be written outside the bundle dir'],
    ['a nested ../ entry', [{ name: 'components/../../evil.js', body: 'x' }], 'would be written outside the bundle dir'],
    ['an absolute path', [{ name: '/tmp/evil.js', body: 'x' }], 'entry "/tmp/evil.js" has an absolute path'],
    [
      'a symlink escaping the dir',
      [{ name: 'components/link', type: '2' as const, link: '../../../etc/passwd' }],
      'is a link that points outside the bundle dir (../../../etc/passwd)',
    ],
    [
      'a symlink to an absolute path',
      [{ name: 'link', type: '2' as const, link: '/etc/passwd' }],
      'is a link to an absolute path (/etc/passwd)',
    ],
  ])('refuses a .tar.gz with %s, and writes nothing', async (_, entries, message) => {
    const dir = work();
    const archive = join(dir, 'bad.tar.gz');
    writeFileSync(archive, craftTarGz([{ name: 'components/ok.js', body: 'module.exports = {}' }, ...entries]));
    const unpack = unpackBundle(archive, join(dir, 'out'), 'bad.tar.gz');
    await expect(unpack).rejects.toBeInstanceOf(BundleError);
    await expect(unpack).rejects.toThrow(/^bundle bad\.tar\.gz is unsafe: entry "[^"]+" .*\(zip-slip\)\. Nothing was unpacked\.$/);
    await expect(unpack).rejects.toThrow(message);
    expect(readdirSync(join(dir, 'out'))).toEqual([]);
    expect(existsSync(join(dir, 'evil.js'))).toBe(false);
  });

  it('unpacks a .tar.gz whose symlink stays inside the dir', async () => {
    const dir = work();
    const archive = join(dir, 'ok.tar.gz');
    writeFileSync(
      archive,
      craftTarGz([
        { name: 'components/a.js', body: 'A' },
        { name: 'components/b.js', type: '2', link: 'a.js' },
      ]),
    );
    await unpackBundle(archive, join(dir, 'out'), archive);
    expect(readFileSync(join(dir, 'out', 'components', 'b.js'), 'utf8')).toBe('A');
  });

  it.each([
    [
      'a ../ entry',
      [{ name: '../evil.js', placeholder: 'AA/evil.js', body: 'x' }],
      /entry "\.\.\/evil.js" would be written outside the bundle dir/,
    ],
    ['an absolute path', [{ name: '/tmp/evil.js', placeholder: 'Xtmp/evil.js', body: 'x' }], /entry "\/tmp\/evil.js" has an absolute path/],
    [
      'a symlink escaping the dir',
      [{ name: 'components/lnk', placeholder: 'components/lnk', body: '../../../etc/passwd', symlink: true }],
      /is a link that points outside the bundle dir/,
    ],
  ])('refuses a .zip with %s, and writes nothing', async (_, entries, message) => {
    const dir = work();
    const archive = join(dir, 'bad.zip');
    writeFileSync(archive, await craftZip([{ name: 'components/ok.js', placeholder: 'components/ok.js', body: 'ok' }, ...entries]));
    const unpack = unpackBundle(archive, join(dir, 'out'), 'bad.zip');
    await expect(unpack).rejects.toBeInstanceOf(BundleError);
    await expect(unpack).rejects.toThrow(/^bundle bad\.zip is unsafe/);
    await expect(unpack).rejects.toThrow(message);
    expect(readdirSync(join(dir, 'out'))).toEqual([]);
  });

  it.each([['tar.gz'], ['zip']])(
    'refuses a .%s archive bomb (too many entries, or too many bytes once unpacked) before writing anything',
    async (ext) => {
      const dir = work();
      const many = join(dir, `many.${ext}`);
      await generateBundle({ count: 12, out: many });
      await expect(unpackBundle(many, join(dir, 'a'), 'many', { maxEntries: 10, maxBytes: 1e9 })).rejects.toThrow(
        'bundle many has more than 10 entries (an archive bomb?). Nothing was unpacked.',
      );
      expect(readdirSync(join(dir, 'a'))).toEqual([]);
      const big = join(dir, `big.${ext}`);
      if (ext === 'tar.gz') {
        writeFileSync(big, craftTarGz([{ name: 'components/zeros.js', body: '0'.repeat(3 * 2 ** 20) }]));
      } else {
        writeFileSync(
          big,
          await craftZip([{ name: 'components/zeros.js', placeholder: 'components/zeros.js', body: '0'.repeat(3 * 2 ** 20) }]),
        );
      }
      await expect(unpackBundle(big, join(dir, 'b'), 'big', { maxEntries: 100, maxBytes: 2 ** 20 })).rejects.toThrow(
        `bundle big unpacks to more than ${2 ** 20} bytes (an archive bomb?). Nothing was unpacked.`,
      );
      expect(readdirSync(join(dir, 'b'))).toEqual([]);
    },
  );

  it('refuses a file that is not an archive, naming the bundle', async () => {
    const dir = work();
    writeFileSync(join(dir, 'notes.zip'), 'just text');
    await expect(unpackBundle(join(dir, 'notes.zip'), join(dir, 'out'), 'notes.zip')).rejects.toThrow(
      'bundle notes.zip is not a .tar.gz or .zip archive',
    );
  });

  describe('fetching', () => {
    let server: Server;
    let base: string;
    const archiveDir = work();
    beforeAll(async () => {
      await generateBundle({ count: 3, out: join(archiveDir, 'b.tar.gz') });
      server = createServer((req, res) => {
        if (req.url === '/b.tar.gz') return res.end(readFileSync(join(archiveDir, 'b.tar.gz')));
        res.statusCode = 404;
        res.end('not found');
      });
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
    });
    afterAll(() => new Promise((r) => server.close(r)));

    it('downloads an http:// bundle into the work dir', async () => {
      const dir = work();
      const path = await fetchBundle(`${base}/b.tar.gz`, dir);
      expect(path).toBe(join(dir, 'download.tar.gz'));
      await unpackBundle(path, join(dir, 'out'), 'x');
      expect(readdirSync(join(dir, 'out', 'components'))).toHaveLength(3);
    });

    it('fails clearly on a 404', async () => {
      await expect(fetchBundle(`${base}/missing.zip`, work())).rejects.toThrow(
        `bundle ${base}/missing.zip could not be downloaded: HTTP 404 Not Found`,
      );
    });

    it('takes file:// URLs and plain paths, and names a missing one', async () => {
      const file = join(archiveDir, 'b.tar.gz');
      await expect(fetchBundle(`file://${file}`, work())).resolves.toBe(file);
      await expect(fetchBundle(file, work())).resolves.toBe(file);
      await expect(fetchBundle('/no/such/bundle.zip', work())).rejects.toThrow(
        'bundle /no/such/bundle.zip does not exist or is not a file',
      );
    });
  });
});

import { createWriteStream } from 'node:fs';
import { mkdir, open, stat, symlink } from 'node:fs/promises';
import { dirname, isAbsolute, join, normalize, resolve, sep } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import * as tar from 'tar';
import * as yauzl from 'yauzl';
import { DEFAULT_FETCH_POLICY, type FetchPolicy, retryDelay } from './fetch-policy';

/** A bundle that cannot be used: the message names the bundle and says why. */
export class BundleError extends Error {
  override name = 'BundleError';

  /** True when trying again may help (network error, timeout, HTTP 5xx or 429). */
  constructor(
    message: string,
    readonly transient = false,
  ) {
    super(message);
  }
}

/**
 * {@link fetchBundle}, trying a transient failure again `policy.retries` times (waiting
 * `retryDelayMs`, then twice that, …); `onRetry` hears each failure that will be retried.
 */
export async function fetchBundleWithRetries(
  source: string,
  workDir: string,
  policy: FetchPolicy,
  onRetry: (error: BundleError, attempt: number, delayMs: number) => void,
): Promise<string> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await fetchBundle(source, workDir, policy.timeoutMs);
    } catch (error) {
      if (!(error instanceof BundleError) || !error.transient || attempt > policy.retries) throw error;
      const delayMs = retryDelay(policy, attempt);
      onRetry(error, attempt, delayMs);
      await sleep(delayMs);
    }
  }
}

export type ArchiveKind = 'tar.gz' | 'zip';

/** Limits against archive bombs, checked before anything is written. */
export interface BundleLimits {
  /** At most this many entries. */
  maxEntries: number;
  /** At most this many bytes once unpacked (declared sizes; zip entries are also checked as they are read). */
  maxBytes: number;
}

/** Defaults: generous for real component bundles, far below what fills a disk. */
export const DEFAULT_BUNDLE_LIMITS: BundleLimits = { maxEntries: 20_000, maxBytes: 512 * 2 ** 20 };

/**
 * Gets the archive named by `source` (a local path, `file://` or `http(s)://` URL) into `workDir`
 * if it must be downloaded, and returns its local path.
 */
export async function fetchBundle(source: string, workDir: string, timeoutMs = DEFAULT_FETCH_POLICY.timeoutMs): Promise<string> {
  if (/^https?:\/\//i.test(source)) {
    const signal = AbortSignal.timeout(timeoutMs);
    const failed = (error: unknown) =>
      new BundleError(
        `bundle ${source} could not be downloaded: ${signal.aborted ? `no complete answer within ${timeoutMs} ms` : String((error as Error).cause ?? (error as Error).message)}`,
        true,
      );
    let response: Response;
    try {
      response = await fetch(source, { redirect: 'follow', signal });
    } catch (error) {
      throw failed(error);
    }
    if (!response.ok || !response.body) {
      await response.body?.cancel().catch(() => undefined);
      throw new BundleError(
        `bundle ${source} could not be downloaded: HTTP ${response.status} ${response.statusText}`,
        response.status >= 500 || response.status === 429,
      );
    }
    const target = join(workDir, `download${extensionOf(new URL(source).pathname) ?? ''}`);
    try {
      await pipeline(
        Readable.fromWeb(response.body as import('node:stream/web').ReadableStream),
        createWriteStream(target, { mode: 0o600 }),
      );
    } catch (error) {
      throw failed(error);
    }
    return target;
  }
  const path = source.startsWith('file://') ? fileURLToPath(source) : resolve(source);
  const info = await stat(path).catch(() => null);
  if (!info?.isFile()) throw new BundleError(`bundle ${source} does not exist or is not a file (${path})`);
  return path;
}

/** Tells the archive kind from the file's first bytes (gzip or zip), whatever its name. */
export async function archiveKind(path: string, source: string): Promise<ArchiveKind> {
  const handle = await open(path, 'r');
  try {
    const { buffer, bytesRead } = await handle.read(Buffer.alloc(4), 0, 4, 0);
    if (bytesRead >= 2 && buffer[0] === 0x1f && buffer[1] === 0x8b) return 'tar.gz';
    if (bytesRead === 4 && buffer.readUInt32LE(0) === 0x04034b50) return 'zip';
  } finally {
    await handle.close();
  }
  throw new BundleError(`bundle ${source} is not a .tar.gz or .zip archive`);
}

/**
 * Unpacks the archive into `dest` after checking every entry: no absolute path, no `..`, no link
 * pointing outside `dest` (zip-slip). An unsafe archive is refused whole; nothing is written.
 */
export async function unpackBundle(
  path: string,
  dest: string,
  source: string,
  limits: BundleLimits = DEFAULT_BUNDLE_LIMITS,
): Promise<void> {
  const kind = await archiveKind(path, source);
  await mkdir(dest, { recursive: true, mode: 0o700 });
  if (kind === 'tar.gz') await unpackTar(path, dest, source, limits);
  else await unpackZip(path, dest, source, limits);
}

/** Counts entries and bytes during the first pass; throws once a limit is passed. */
function budget(source: string, limits: BundleLimits) {
  let entries = 0;
  let bytes = 0;
  return (size: number) => {
    entries++;
    bytes += size;
    if (entries > limits.maxEntries)
      throw new BundleError(`bundle ${source} has more than ${limits.maxEntries} entries (an archive bomb?). Nothing was unpacked.`);
    if (bytes > limits.maxBytes)
      throw new BundleError(`bundle ${source} unpacks to more than ${limits.maxBytes} bytes (an archive bomb?). Nothing was unpacked.`);
  };
}

/** Why an entry would escape `dest`, or null. */
function escapeReason(name: string, linkTarget: string | null): string | null {
  if (isAbsolute(name) || /^[A-Za-z]:[\\/]/.test(name)) return 'has an absolute path';
  if (normalize(name).split(/[\\/]/).includes('..')) return 'would be written outside the bundle dir';
  if (linkTarget !== null) {
    if (isAbsolute(linkTarget)) return `is a link to an absolute path (${linkTarget})`;
    const root = resolve('/bundle');
    const target = resolve(root, dirname(name), linkTarget);
    if (target !== root && !target.startsWith(root + sep)) return `is a link that points outside the bundle dir (${linkTarget})`;
  }
  return null;
}

function refuse(source: string, entry: string, reason: string): never {
  throw new BundleError(`bundle ${source} is unsafe: entry ${JSON.stringify(entry)} ${reason} (zip-slip). Nothing was unpacked.`);
}

async function unpackTar(path: string, dest: string, source: string, limits: BundleLimits): Promise<void> {
  let bad: [string, string] | null = null;
  let over: BundleError | null = null;
  const count = budget(source, limits);
  try {
    await tar.t({
      file: path,
      onReadEntry: (entry) => {
        try {
          count(entry.size ?? 0);
        } catch (error) {
          over ??= error as BundleError;
        }
        const link = entry.type === 'SymbolicLink' || entry.type === 'Link' ? (entry.linkpath ?? '') : null;
        const reason = escapeReason(entry.path, link);
        if (reason && !bad) bad = [entry.path, reason];
      },
    });
  } catch (error) {
    throw new BundleError(`bundle ${source} is not a readable .tar.gz archive: ${(error as Error).message}`);
  }
  if (over) throw over;
  if (bad) refuse(source, bad[0], bad[1]);
  await tar.x({ file: path, cwd: dest, strict: true, preservePaths: false });
}

function openZip(path: string): Promise<yauzl.ZipFile> {
  return new Promise((ok, fail) =>
    yauzl.open(path, { lazyEntries: true, autoClose: false, decodeStrings: false, validateEntrySizes: true }, (error, zip) =>
      error ? fail(error) : ok(zip),
    ),
  );
}

/** Calls `onEntry` for each entry in order; resolves when the archive ends. */
function eachEntry(zip: yauzl.ZipFile, onEntry: (entry: yauzl.Entry) => Promise<void>): Promise<void> {
  return new Promise((ok, fail) => {
    zip.on('entry', (entry: yauzl.Entry) => onEntry(entry).then(() => zip.readEntry(), fail));
    zip.on('end', () => ok());
    zip.on('error', fail);
    zip.readEntry();
  });
}

function readEntry(zip: yauzl.ZipFile, entry: yauzl.Entry): Promise<Readable> {
  return new Promise((ok, fail) => zip.openReadStream(entry, (error, stream) => (error ? fail(error) : ok(stream))));
}

const isZipSymlink = (entry: yauzl.Entry) => ((entry.externalFileAttributes >>> 16) & 0o170000) === 0o120000;

/** The entry's name. yauzl is opened with decodeStrings off, so that every unsafe name gets our one message. */
const zipName = (entry: yauzl.Entry): string => {
  const raw = entry.fileName as unknown as Buffer | string;
  return typeof raw === 'string' ? raw : raw.toString('utf8');
};

async function unpackZip(path: string, dest: string, source: string, limits: BundleLimits): Promise<void> {
  const count = budget(source, limits);
  let zip: yauzl.ZipFile;
  try {
    zip = await openZip(path);
  } catch (error) {
    throw new BundleError(`bundle ${source} is not a readable .zip archive: ${(error as Error).message}`);
  }
  try {
    // First pass: check every name and link target. yauzl itself rejects some names; report those too.
    try {
      await eachEntry(zip, async (entry) => {
        count(entry.uncompressedSize);
        const link = isZipSymlink(entry) ? await streamText(await readEntry(zip, entry)) : null;
        const reason = escapeReason(zipName(entry), link);
        if (reason) refuse(source, zipName(entry), reason);
      });
    } catch (error) {
      if (error instanceof BundleError) throw error;
      throw new BundleError(`bundle ${source} is unsafe or corrupt: ${(error as Error).message}. Nothing was unpacked.`);
    }
    zip.close();
    zip = await openZip(path);
    await eachEntry(zip, async (entry) => {
      const name = zipName(entry);
      const target = join(dest, name);
      if (name.endsWith('/')) return void (await mkdir(target, { recursive: true, mode: 0o700 }));
      await mkdir(dirname(target), { recursive: true, mode: 0o700 });
      if (isZipSymlink(entry)) return void (await symlink(await streamText(await readEntry(zip, entry)), target));
      await pipeline(await readEntry(zip, entry), createWriteStream(target, { mode: 0o600 }));
    });
  } finally {
    zip.close();
  }
}

async function streamText(stream: Readable): Promise<string> {
  let text = '';
  for await (const chunk of stream) text += chunk.toString('utf8');
  return text;
}

function extensionOf(pathname: string): string | null {
  const m = /(\.tar\.gz|\.tgz|\.zip)$/i.exec(pathname);
  return m ? m[1].toLowerCase() : null;
}

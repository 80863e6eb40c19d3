import { createHash } from 'node:crypto';
import { closeSync, fstatSync, lstatSync, openSync, readSync } from 'node:fs';
import { basename, join } from 'node:path';
import { deserialize, serialize } from 'node:v8';
import { encodeArtifact, FileArtifact, PreloadArtifact } from './artifact';
import { type ResultEntry, writePrivateFile } from './manifest';

/** Bytes per read while hashing a result file. */
const HASH_CHUNK = 1 << 20;

/** A result file that passed its checks, held open so that what is read later is what was verified. */
interface Verified {
  entry: ResultEntry;
  path: string;
  fd: number;
  mtimeMs: number;
}

/**
 * The result files of one run dir, for the one process that uses them.
 *
 * The preloader {@link write}s each step's value beside the manifest. A worker {@link verify}s each
 * file once when it adopts the hand-over — plain name, regular file, size, sha256, hashed through a
 * descriptor it keeps open — and later {@link read}s the value through that same descriptor,
 * without hashing it again: decoded on first use, or, for a step that returned a
 * {@link PreloadArtifact}, a {@link FileArtifact} handle. Whatever it opened or handed out it
 * closes in {@link close}, when the app shuts down. @internal
 */
export class ResultFiles {
  private readonly verified = new Map<string, Verified>();
  private readonly handedOut = new Map<string, unknown>();
  private readonly written = new Map<string, ResultEntry>();
  private closed = false;

  /**
   * @param runDir the run dir the manifest is in
   * @param hotBytes how many bytes of artifact slices a handle keeps in the heap (`artifactCacheBytes`)
   */
  constructor(
    readonly runDir: string,
    private readonly hotBytes = 0,
  ) {}

  /**
   * Writes a step's value (mode 0600, atomic): a {@link PreloadArtifact} as its bytes, anything else
   * with `v8.serialize`.
   * @returns the manifest entry that describes the file.
   */
  async write(step: string, value: unknown): Promise<ResultEntry> {
    const artifact = value instanceof PreloadArtifact;
    const bytes = artifact ? encodeArtifact(value) : serialize(value);
    const file = `result-${step}.${artifact ? 'artifact' : 'v8'}`;
    await writePrivateFile(join(this.runDir, file), bytes);
    const entry: ResultEntry = { kind: artifact ? 'artifact' : 'value', file, size: bytes.length, sha256: sha256(bytes) };
    this.written.set(step, entry);
    return entry;
  }

  /** The entries of the files written here, by step, for the manifest. */
  entries(): Record<string, ResultEntry> {
    return Object.fromEntries(this.written);
  }

  /**
   * Checks a step's file against its manifest entry, once, and keeps it open for {@link read}.
   * @returns why it must not be used, or `null`.
   */
  verify(step: string, entry: ResultEntry): string | null {
    this.forget(step);
    if (basename(entry.file) !== entry.file) return `result file name ${JSON.stringify(entry.file)} is not a plain file name`;
    const path = join(this.runDir, entry.file);
    let fd: number | undefined;
    try {
      if (!lstatSync(path).isFile()) return `${path} is not a regular file`;
      fd = openSync(path, 'r');
      const stat = fstatSync(fd);
      if (stat.size !== entry.size) return this.refuse(fd, `${path} has ${stat.size} bytes, the manifest says ${entry.size}`);
      const hash = createHash('sha256');
      const chunk = Buffer.allocUnsafe(HASH_CHUNK);
      for (let n = readSync(fd, chunk); n > 0; n = readSync(fd, chunk)) hash.update(chunk.subarray(0, n));
      if (hash.digest('hex') !== entry.sha256) return this.refuse(fd, `${path} does not match its sha256 checksum`);
      this.verified.set(step, { entry, path, fd, mtimeMs: stat.mtimeMs });
      return null;
    } catch (error) {
      return this.refuse(fd, `${path} cannot be read (${(error as NodeJS.ErrnoException).code ?? String(error)})`);
    }
  }

  /** Whether a step has a verified file (or a value already read from one). */
  has(step: string): boolean {
    return this.verified.has(step) || this.handedOut.has(step);
  }

  /**
   * The value of a verified file, read the first time it is asked for and kept: decoded, or an
   * artifact handle. The file is not hashed again; a value file changed since it was verified
   * (size or modification time) is refused.
   * @returns the value, or why it cannot be had.
   */
  read(step: string): { value: unknown } | { reason: string } {
    if (this.handedOut.has(step)) return { value: this.handedOut.get(step) };
    const file = this.verified.get(step);
    if (!file) return { reason: `step ${step} has no verified result file` };
    if (this.closed) return { reason: `the result files were closed (the app is shutting down)` };
    try {
      let value: unknown;
      if (file.entry.kind === 'artifact') {
        // Read in slices, on demand, through the descriptor it was verified through (a slice is
        // never hashed again: that is what keeps it in the page cache, shared); the handle takes the
        // descriptor over and closes it itself.
        value = new FileArtifact(file.path, file.entry.size, this.hotBytes, file.fd);
      } else {
        const stat = fstatSync(file.fd);
        if (stat.size !== file.entry.size || stat.mtimeMs !== file.mtimeMs) return { reason: `${file.path} changed after it was verified` };
        value = deserialize(readAll(file.fd, file.entry.size, file.path));
        closeSync(file.fd);
      }
      this.verified.delete(step);
      this.handedOut.set(step, value);
      return { value };
    } catch (error) {
      return { reason: `${file.path} cannot be read (${error instanceof Error ? error.message : String(error)})` };
    }
  }

  /** Drops a step's file (this process redoes the step); closes it if it was open. */
  forget(step: string): void {
    const file = this.verified.get(step);
    if (file) closeSync(file.fd);
    this.verified.delete(step);
    const handle = this.handedOut.get(step);
    if (handle instanceof FileArtifact) handle.close();
    this.handedOut.delete(step);
  }

  /** Closes every file still open and every artifact handed out; later reads fail. */
  close(): void {
    this.closed = true;
    for (const step of [...this.verified.keys()]) this.forget(step);
    for (const handle of this.handedOut.values()) if (handle instanceof FileArtifact) handle.close();
  }

  private refuse(fd: number | undefined, reason: string): string {
    if (fd !== undefined) closeSync(fd);
    return reason;
  }
}

function readAll(fd: number, size: number, path: string): Buffer {
  const bytes = Buffer.allocUnsafe(size);
  for (let done = 0; done < size;) {
    const n = readSync(fd, bytes, done, size - done, done);
    if (n === 0) throw new Error(`${path} ended early`);
    done += n;
  }
  return bytes;
}

function sha256(bytes: Buffer): string {
  return createHash('sha256').update(bytes).digest('hex');
}

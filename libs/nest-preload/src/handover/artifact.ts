import { closeSync, openSync, readSync } from 'node:fs';
import { Readable } from 'node:stream';

/** Offsets of named slices inside an artifact: `key → [offset, length]`. */
export type ArtifactIndex = Record<string, readonly [offset: number, length: number]>;

/**
 * What a step returns to hand over bytes that workers must not each copy into their heaps: the
 * preloader writes them once to a file; workers read slices on demand, so the bytes live in the
 * kernel page cache, shared by every worker.
 */
export class PreloadArtifact {
  constructor(
    readonly bytes: Buffer,
    /** Named slices, so one part can be read without the rest. */
    readonly index: ArtifactIndex = {},
  ) {
    for (const [key, [offset, length]] of Object.entries(index)) {
      if (!Number.isInteger(offset) || !Number.isInteger(length) || offset < 0 || length < 0 || offset + length > bytes.length) {
        throw new RangeError(`artifact slice "${key}" [${offset}, ${length}] is outside the ${bytes.length} bytes`);
      }
    }
  }
}

/** Read access to an artifact, wherever it was made. `PreloadService.result()` returns one for artifact steps. */
export interface ArtifactHandle {
  /** Size of the payload in bytes. */
  readonly size: number;
  /** Names of the slices. */
  keys(): string[];
  has(key: string): boolean;
  /** The bytes of one named slice, or `undefined`. */
  slice(key: string): Buffer | undefined;
  /** A stream of the whole payload, or of one named slice. */
  stream(key?: string): Readable;
}

/** Backed by the bytes in this process (where the step ran). */
export class MemoryArtifact implements ArtifactHandle {
  constructor(private readonly artifact: PreloadArtifact) {}
  get size() {
    return this.artifact.bytes.length;
  }
  keys() {
    return Object.keys(this.artifact.index);
  }
  has(key: string) {
    return key in this.artifact.index;
  }
  slice(key: string) {
    const range = this.artifact.index[key];
    return range ? this.artifact.bytes.subarray(range[0], range[0] + range[1]) : undefined;
  }
  stream(key?: string) {
    const bytes = key === undefined ? this.artifact.bytes : this.slice(key);
    if (!bytes) throw new RangeError(`no artifact slice "${key}"`);
    return Readable.from([bytes]);
  }
}

/*
 * File layout: 8 bytes "NPART001", a 4-byte big-endian header length, the JSON header
 * ({ index }), then the payload. Offsets in the index are relative to the payload.
 */
const MAGIC = Buffer.from('NPART001');

/** Bytes per read when streaming a slice from the file. */
const STREAM_CHUNK = 1 << 20;

/** Serializes an artifact into its file form. */
export function encodeArtifact(artifact: PreloadArtifact): Buffer {
  const header = Buffer.from(JSON.stringify({ index: artifact.index }));
  const length = Buffer.alloc(4);
  length.writeUInt32BE(header.length);
  return Buffer.concat([MAGIC, length, header, artifact.bytes]);
}

/**
 * Backed by the hand-over file: reads slices with positioned reads; keeps the index in the heap,
 * and the first slices read up to `hotBytes` in all (a served index is read on every request, and
 * copying it out of the page cache each time costs more than keeping it). `0` keeps none.
 */
export class FileArtifact implements ArtifactHandle {
  private readonly fd: number;
  private closed = false;
  private readonly index: ArtifactIndex;
  private readonly payloadStart: number;
  private readonly hot = new Map<string | undefined, Buffer>();
  private hotLeft: number;
  readonly size: number;

  /**
   * @param fd a descriptor already open on `path` (the one its checksum was verified through); the
   *   handle takes it over once it is built (if building fails, it stays the caller's). Without
   *   one, the handle opens the file itself.
   */
  constructor(
    readonly path: string,
    fileSize: number,
    hotBytes = 0,
    fd?: number,
  ) {
    this.hotLeft = hotBytes;
    this.fd = fd ?? openSync(path, 'r');
    try {
      const head = this.read(0, MAGIC.length + 4);
      if (!head.subarray(0, MAGIC.length).equals(MAGIC)) throw new Error(`${path} is not an artifact file`);
      const headerLength = head.readUInt32BE(MAGIC.length);
      this.index = (JSON.parse(this.read(MAGIC.length + 4, headerLength).toString('utf8')) as { index: ArtifactIndex }).index;
      this.payloadStart = MAGIC.length + 4 + headerLength;
      this.size = fileSize - this.payloadStart;
    } catch (error) {
      // A descriptor lent by its owner stays the owner's to close.
      if (fd === undefined) closeSync(this.fd);
      throw error;
    }
  }

  keys() {
    return Object.keys(this.index);
  }
  has(key: string) {
    return key in this.index;
  }
  slice(key: string) {
    const range = this.index[key];
    return range ? this.hotOrRead(key, range[0], range[1]) : undefined;
  }
  /** Bytes held by the hot-slice cache. */
  get hotSize(): number {
    let total = 0;
    for (const bytes of this.hot.values()) total += bytes.length;
    return total;
  }
  /** Closes the file; later reads fail. Called by the result files that handed it out, when the app shuts down. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.hot.clear();
    this.hotLeft = 0;
    closeSync(this.fd);
  }

  stream(key?: string) {
    const [offset, length] = key === undefined ? [0, this.size] : (this.index[key] ?? [-1, 0]);
    if (offset < 0) throw new RangeError(`no artifact slice "${key}"`);
    if (length === 0) return Readable.from([]);
    if (this.hot.has(key) || length <= this.hotLeft) return Readable.from([this.hotOrRead(key, offset, length)]);
    // From the descriptor already open, in large positioned reads: no open/stat/close per request
    // (createReadStream's), and each chunk is one copy out of the page cache.
    let position = this.payloadStart + offset;
    const end = position + length;
    const readable: Readable = new Readable({
      highWaterMark: STREAM_CHUNK,
      read: () => {
        try {
          const chunk = this.read(position, Math.min(STREAM_CHUNK, end - position));
          position += chunk.length;
          readable.push(chunk);
          if (position >= end) readable.push(null);
        } catch (error) {
          readable.destroy(error as Error);
        }
      },
    });
    return readable;
  }

  private hotOrRead(key: string | undefined, offset: number, length: number): Buffer {
    const cached = this.hot.get(key);
    if (cached) return cached;
    const bytes = this.read(this.payloadStart + offset, length);
    if (length <= this.hotLeft) {
      this.hot.set(key, bytes);
      this.hotLeft -= length;
    }
    return bytes;
  }

  private read(position: number, length: number): Buffer {
    if (this.closed) throw new Error(`artifact ${this.path} is closed (the app is shutting down)`);
    const buffer = Buffer.allocUnsafe(length);
    let done = 0;
    while (done < length) {
      const n = readSync(this.fd, buffer, done, length - done, position + done);
      if (n === 0) throw new Error(`${this.path} ended early`);
      done += n;
    }
    return buffer;
  }
}

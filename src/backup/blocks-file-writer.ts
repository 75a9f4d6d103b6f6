/**
 * Appends block extents to a backup's blocks file, hashing them as they go so the manifest's digest
 * needs no second read. Its own BLAKE3 hasher, not the shared one in blob/blake3.ts: a backup yields
 * to the event loop between writes, and commits running meanwhile hash blobs with the shared one.
 */
import fs from 'node:fs';
import { createBLAKE3 } from 'hash-wasm';
import { ioError } from '../errors.js';

type Hasher = Awaited<ReturnType<typeof createBLAKE3>>;

/** Bytes gathered before one write call. */
const WRITE_CHUNK = 1 << 20;

export class BlocksFileWriter {
  private pending: Uint8Array[] = [];
  private pendingBytes = 0;
  private closed = false;
  /** Bytes appended so far: the position of the next extent. */
  size = 0;

  private constructor(
    private readonly file: string,
    private readonly fd: number,
    private readonly hasher: Hasher,
  ) {}

  /** Creates `file`, which must not exist. */
  static async create(file: string): Promise<BlocksFileWriter> {
    const hasher = await createBLAKE3();
    let fd: number;
    try {
      fd = fs.openSync(file, 'wx');
    } catch (err) {
      throw ioError('create', file, err);
    }
    hasher.init();
    return new BlocksFileWriter(file, fd, hasher);
  }

  /** Appends an extent; returns where it starts in the file. */
  append(extent: Uint8Array): number {
    const at = this.size;
    this.pending.push(extent);
    this.pendingBytes += extent.length;
    this.size += extent.length;
    this.hasher.update(extent);
    if (this.pendingBytes >= WRITE_CHUNK) this.flush();
    return at;
  }

  /**
   * Writes what is pending, fsyncs and closes; returns the file's size and hex BLAKE3. The fsync runs
   * off the event loop: flushing megabytes can take longer than commits should wait.
   */
  async finish(): Promise<{ bytes: number; blake3: string }> {
    try {
      this.flush();
      const fd = this.fd;
      await new Promise<void>((resolve, reject) => fs.fsync(fd, (err) => (err ? reject(ioError('fsync', this.file, err)) : resolve())));
    } finally {
      this.close();
    }
    return { bytes: this.size, blake3: this.hasher.digest('hex') };
  }

  /** Closes without finishing (after a failure). Safe to call twice. */
  close(): void {
    // A descriptor number is reused once closed: closing it twice could close someone else's file.
    if (this.closed) return;
    this.closed = true;
    try {
      fs.closeSync(this.fd);
    } catch {
      // Already closed: nothing is left to release.
    }
  }

  private flush(): void {
    if (this.pendingBytes === 0) return;
    const run = Buffer.concat(this.pending, this.pendingBytes);
    this.pending = [];
    this.pendingBytes = 0;
    try {
      for (let o = 0; o < run.length; ) o += fs.writeSync(this.fd, run, o, run.length - o);
    } catch (err) {
      throw ioError('write', this.file, err);
    }
  }
}

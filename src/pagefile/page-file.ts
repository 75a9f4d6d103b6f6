/**
 * The page file of one shard: two header slots, then blocks. This class reads and writes slots and
 * blocks through the FileIO seam; it decides nothing about which extents are free (allocator.ts and
 * the shard's free-space rules do) or what blocks mean (the tree layer does).
 */
import { CorruptionError, ioError } from '../errors.js';
import type { FileHandle, FileIO } from '../io/file-io.js';
import type { PageCodec } from '../codec/page-codec.js';
import { openBlock, type BlockHeader } from './block.js';
import { decodeHeaderSlot, encodeHeaderSlot, type HeaderSlot, type SlotReadResult } from './header-slot.js';
import { SLOT_SIZE, type BlockRef } from './layout.js';
import { uninitializedBytes } from '../util/bytes.js';

/** Coalesced writes larger than this are split, to bound the temporary buffer. */
const MAX_COALESCED_WRITE = 8 << 20;

export class PageFile {
  private closed = false;
  /** Bytes read from the file so far (for metrics). */
  bytesRead = 0;
  /** Buffer of readExtentTransient. */
  private scratch = uninitializedBytes(16 * 1024);
  /** Snapshots and versions still reading this file (it outlives a compaction that replaced it). */
  private users = 0;
  private closeWhenUnused = false;

  private constructor(
    private readonly handle: FileHandle,
    private filePath: string,
    /** Decodes blocks; set once the store's keys are known (header slots are read without it). */
    public codec: PageCodec,
    /** Distinguishes files across compactions, for cache keys and diagnostics. */
    readonly generation: number,
  ) {}

  /** Where the file is; errors name it. */
  get path(): string {
    return this.filePath;
  }

  /** The file was renamed (compaction moves its new file into place): errors name the new path. */
  renamed(path: string): void {
    this.filePath = path;
  }

  static open(io: FileIO, path: string, codec: PageCodec, generation: number, readOnly = false): PageFile {
    let handle: FileHandle;
    try {
      handle = io.open(path, readOnly ? 'read' : 'readWrite');
    } catch (err) {
      throw ioError('open', path, err);
    }
    return new PageFile(handle, path, codec, generation);
  }

  /** Creates a new file holding the given two slots, durably. Fails if the path exists. */
  static create(io: FileIO, path: string, codec: PageCodec, slots: [HeaderSlot, HeaderSlot], generation: number): PageFile {
    let handle: FileHandle;
    try {
      handle = io.open(path, 'createNew');
    } catch (err) {
      throw ioError('create', path, err);
    }
    const file = new PageFile(handle, path, codec, generation);
    try {
      file.writeSlot(0, slots[0]);
      file.writeSlot(1, slots[1]);
      file.sync();
    } catch (err) {
      file.close();
      throw err;
    }
    return file;
  }

  readSlot(index: 0 | 1): SlotReadResult {
    const buf = new Uint8Array(SLOT_SIZE);
    const n = this.read(buf, index * SLOT_SIZE);
    if (n < SLOT_SIZE) return n === 0 ? { state: 'empty' } : { state: 'invalid', reason: 'header slot is truncated' };
    return decodeHeaderSlot(buf);
  }

  writeSlot(index: 0 | 1, slot: HeaderSlot): void {
    this.write(encodeHeaderSlot(slot), index * SLOT_SIZE);
  }

  /** Reads exactly `length` bytes at `offset` into a new buffer; a short read is corruption. */
  readExtent(offset: number, length: number): Uint8Array {
    return this.readExtentInto(uninitializedBytes(length), offset);
  }

  /**
   * Like {@link readExtent}, into a buffer this file reuses: the result is only valid until the next
   * call. For reads whose bytes are decoded into fresh memory anyway (decompressed or decrypted), it
   * saves allocating, and faulting in, a buffer per block.
   */
  readExtentTransient(offset: number, length: number): Uint8Array {
    if (this.scratch.length < length) this.scratch = uninitializedBytes(Math.max(length, 2 * this.scratch.length));
    return this.readExtentInto(this.scratch.subarray(0, length), offset);
  }

  /** Reads exactly `buf.length` bytes at `offset` into `buf`; a short read is corruption. */
  readExtentInto(buf: Uint8Array, offset: number): Uint8Array {
    const n = this.read(buf, offset);
    this.bytesRead += n;
    if (n < buf.length) throw new CorruptionError(this.path, offset, `extent of ${buf.length} bytes runs past the end of the file`);
    return buf;
  }

  /** Reads, checks and decodes the block `ref` points at. */
  readBlock(ref: BlockRef, kind: number): { header: BlockHeader; payload: Uint8Array } {
    return openBlock(this.readExtent(ref.offset, ref.length), ref.offset, this.path, ref.crc, kind, this.codec);
  }

  /** Writes whole extents; adjacent ones are coalesced into one system call. */
  writeExtents(extents: { offset: number; bytes: Uint8Array }[]): void {
    extents.sort((a, b) => a.offset - b.offset);
    let i = 0;
    while (i < extents.length) {
      let j = i + 1;
      let end = extents[i]!.offset + extents[i]!.bytes.length;
      let total = extents[i]!.bytes.length;
      while (j < extents.length && extents[j]!.offset === end && total + extents[j]!.bytes.length <= MAX_COALESCED_WRITE) {
        end += extents[j]!.bytes.length;
        total += extents[j]!.bytes.length;
        j++;
      }
      if (j === i + 1) {
        this.write(extents[i]!.bytes, extents[i]!.offset);
      } else {
        const run = new Uint8Array(total);
        let o = 0;
        for (let k = i; k < j; k++) {
          run.set(extents[k]!.bytes, o);
          o += extents[k]!.bytes.length;
        }
        this.write(run, extents[i]!.offset);
      }
      i = j;
    }
  }

  sync(): void {
    try {
      this.handle.datasync();
    } catch (err) {
      throw ioError('fdatasync', this.path, err);
    }
  }

  size(): number {
    try {
      return this.handle.size();
    } catch (err) {
      throw ioError('stat', this.path, err);
    }
  }

  truncate(length: number): void {
    try {
      this.handle.truncate(length);
    } catch (err) {
      throw ioError('truncate', this.path, err);
    }
  }

  retain(): void {
    this.users++;
  }

  release(): void {
    this.users--;
    if (this.users <= 0 && this.closeWhenUnused) this.close();
  }

  /** Closes now if nothing reads the file, else once the last reader releases it. */
  retire(): void {
    if (this.users <= 0) this.close();
    else this.closeWhenUnused = true;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    try {
      this.handle.close();
    } catch {
      // Closing a descriptor only fails if it is already invalid; nothing is left to release.
    }
  }

  private read(buf: Uint8Array, position: number): number {
    try {
      return this.handle.read(buf, 0, buf.length, position);
    } catch (err) {
      throw ioError('read', this.path, err);
    }
  }

  private write(buf: Uint8Array, position: number): void {
    try {
      this.handle.write(buf, 0, buf.length, position);
    } catch (err) {
      throw ioError('write', this.path, err);
    }
  }
}

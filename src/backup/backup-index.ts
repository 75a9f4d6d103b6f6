/**
 * The block index of one shard in a backup, `shards/<NNN>.index`. Read in order, its entries list
 * every block the shard's checkpoint reaches (its *listing*, see backup-listing.ts): a block entry
 * stands for a block stored in this backup's blocks file; a range entry stands for a run of entries
 * of the base backup's listing, the blocks reused from it. An incremental backup of an append-mostly
 * store is thus a few new blocks and a few ranges, not a full listing. Byte layout (little-endian;
 * docs/format.md, "Backups", is normative):
 *
 *   header, 36 bytes:
 *     0   8  magic "RDBBKIX1"
 *     8   4  format version (1)
 *    12   4  entry size (48)
 *    16   4  entry count n (in this file)
 *    20   4  listed blocks: the length of the listing the entries expand to
 *    24   8  the shard's database id
 *    32   4  CRC-32 of bytes [0, 32)
 *   n entries of 48 bytes:
 *     0   8  offset of the block in the page file                      (range: 0)
 *     8   4  extent length                                             (range: 0)
 *    12   4  the block's CRC-32 (as in its header and its parent's ref) (range: 0)
 *    16   8  txn of the checkpoint that wrote it (header bytes 16..24) (range: 0)
 *    24   1  kind (1 leaf, 2 branch, 3 value, 4 catalog, 5 freelist; 0 marks a range)
 *    25   1  codec flags                                               (range: 0)
 *    26   2  key id                                                    (range: 0)
 *    28   2  source: 0 for a block entry, 1 for a range (the base)
 *    30   2  zero
 *    32   8  block: position of the extent in this backup's blocks file; range: first listing
 *              entry of the base taken
 *    40   4  block: subtree size, this entry and the listing entries below it (pre-order: entries
 *              i .. i+size-1 of the listing); range: number of base listing entries taken
 *    44   4  CRC-32 of bytes [0, 44) of the entry
 */
import { readU16, readU32, readU64, writeU16, writeU32, writeU64 } from '../util/binary.js';
import { crc32 } from '../util/crc.js';

export const INDEX_MAGIC = Buffer.from('RDBBKIX1', 'latin1');
export const INDEX_HEADER_SIZE = 36;
export const INDEX_ENTRY_SIZE = 48;
/** Kind byte of a range entry. */
export const RANGE_KIND = 0;
/** The source field is a u16 in a listing: the longest chain a backup can belong to. */
export const MAX_CHAIN_DEPTH = 0xffff;

export interface IndexEntry {
  offset: number;
  length: number;
  crc: number;
  txn: number;
  kind: number;
  flags: number;
  keyId: number;
  source: number;
  position: number;
  subtree: number;
}

/** Decodes the 48-byte entry at `o` of `b`. */
export function readEntry(b: Uint8Array, o: number): IndexEntry {
  return {
    offset: readU64(b, o),
    length: readU32(b, o + 8),
    crc: readU32(b, o + 12),
    txn: readU64(b, o + 16),
    kind: b[o + 24]!,
    flags: b[o + 25]!,
    keyId: readU16(b, o + 26),
    source: readU16(b, o + 28),
    position: readU64(b, o + 32),
    subtree: readU32(b, o + 40),
  };
}

/** Encodes an entry at `o` of `b`, without its checksum. */
export function writeEntry(b: Uint8Array, o: number, e: IndexEntry): void {
  writeU64(b, o, e.offset);
  writeU32(b, o + 8, e.length);
  writeU32(b, o + 12, e.crc);
  writeU64(b, o + 16, e.txn);
  b[o + 24] = e.kind;
  b[o + 25] = e.flags;
  writeU16(b, o + 26, e.keyId);
  writeU16(b, o + 28, e.source);
  writeU16(b, o + 30, 0);
  writeU64(b, o + 32, e.position);
  writeU32(b, o + 40, e.subtree);
}

/** An index file, checked: entries are decoded on demand. */
export class IndexView {
  private constructor(
    private readonly bytes: Uint8Array,
    readonly count: number,
    readonly listed: number,
    readonly databaseId: number,
  ) {}

  /** Checks framing and every entry's checksum; returns a reason string when the bytes are bad. */
  static parse(bytes: Uint8Array): IndexView | string {
    if (bytes.length < INDEX_HEADER_SIZE) return 'the index is shorter than its header';
    if (!INDEX_MAGIC.equals(bytes.subarray(0, 8))) return 'not a redb-audit backup index';
    if (crc32(bytes.subarray(0, 32)) !== readU32(bytes, 32)) return 'index header checksum mismatch';
    if (readU32(bytes, 8) !== 1 || readU32(bytes, 12) !== INDEX_ENTRY_SIZE) return `index format version ${readU32(bytes, 8)} is not supported`;
    const count = readU32(bytes, 16);
    const databaseId = readU64(bytes, 24);
    if (bytes.length !== INDEX_HEADER_SIZE + count * INDEX_ENTRY_SIZE) return `the index holds ${bytes.length} bytes, its header announces ${count} entries`;
    for (let i = 0; i < count; i++) {
      const o = INDEX_HEADER_SIZE + i * INDEX_ENTRY_SIZE;
      if (crc32(bytes.subarray(o, o + 44)) !== readU32(bytes, o + 44)) return `index entry ${i} checksum mismatch`;
      if (readU64(bytes, o) < 0 || readU64(bytes, o + 16) < 0 || readU64(bytes, o + 32) < 0) return `index entry ${i} has a field out of range`;
    }
    return new IndexView(bytes, count, readU32(bytes, 20), databaseId);
  }

  entry(i: number): IndexEntry {
    return readEntry(this.bytes, INDEX_HEADER_SIZE + i * INDEX_ENTRY_SIZE);
  }
}

/**
 * Builds an index while a shard is walked. Positions and subtree sizes count listing entries, so
 * the builder tracks the listing's length as ranges are added.
 */
export class IndexBuilder {
  private bytes = new Uint8Array(INDEX_HEADER_SIZE + 256 * INDEX_ENTRY_SIZE);
  /** Entries in the file. */
  count = 0;
  /** Entries in the listing the file expands to. */
  listed = 0;

  /** Appends a block entry; returns its file entry number (for {@link setSubtree}). */
  pushBlock(e: IndexEntry): number {
    // reserve() may replace the buffer: take the offset first.
    const o = this.reserve();
    writeEntry(this.bytes, o, e);
    this.listed++;
    return this.count++;
  }

  setSubtree(entry: number, size: number): void {
    writeU32(this.bytes, INDEX_HEADER_SIZE + entry * INDEX_ENTRY_SIZE + 40, size);
  }

  /** Takes base listing entries [start, start + n); a run continuing the previous range extends it. */
  pushRange(start: number, n: number): void {
    this.listed += n;
    const last = INDEX_HEADER_SIZE + (this.count - 1) * INDEX_ENTRY_SIZE;
    if (this.count > 0 && this.bytes[last + 24] === RANGE_KIND && readU64(this.bytes, last + 32) + readU32(this.bytes, last + 40) === start) {
      writeU32(this.bytes, last + 40, readU32(this.bytes, last + 40) + n);
      return;
    }
    const o = this.reserve();
    writeEntry(this.bytes, o, { offset: 0, length: 0, crc: 0, txn: 0, kind: RANGE_KIND, flags: 0, keyId: 0, source: 1, position: start, subtree: n });
    this.count++;
  }

  /** The finished file: header, then every entry with its checksum. */
  encode(databaseId: number): Uint8Array {
    const b = this.bytes.subarray(0, INDEX_HEADER_SIZE + this.count * INDEX_ENTRY_SIZE);
    b.set(INDEX_MAGIC, 0);
    writeU32(b, 8, 1);
    writeU32(b, 12, INDEX_ENTRY_SIZE);
    writeU32(b, 16, this.count);
    writeU32(b, 20, this.listed);
    writeU64(b, 24, databaseId);
    writeU32(b, 32, crc32(b.subarray(0, 32)));
    for (let i = 0; i < this.count; i++) {
      const o = INDEX_HEADER_SIZE + i * INDEX_ENTRY_SIZE;
      writeU32(b, o + 44, crc32(b.subarray(o, o + 44)));
    }
    return b;
  }

  /** Offset of a new entry, growing the buffer by doubling. */
  private reserve(): number {
    const o = INDEX_HEADER_SIZE + this.count * INDEX_ENTRY_SIZE;
    if (o + INDEX_ENTRY_SIZE > this.bytes.length) {
      const grown = new Uint8Array(this.bytes.length * 2);
      grown.set(this.bytes);
      this.bytes = grown;
    }
    return o;
  }
}

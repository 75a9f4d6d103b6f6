/**
 * The one interface through which the backup layer (src/backup/) reads shards and writes restored
 * ones. Backup and restore import nothing else of shard/, pagefile/ or wal/: what a backup needs of
 * a shard is a pinned checkpoint it can walk and read, and what a restore needs is a way to lay a
 * set of stored blocks down as a clean shard directory.
 *
 * Invariants:
 * - A {@link PinnedImage} stays readable, block for block, until `release()`: the pin keeps every
 *   block its checkpoint reaches from being reused, whatever is committed meanwhile.
 * - A {@link ShardImageWriter} writes the page file under a temporary name and renames it into
 *   place only in `finish()`, after an fsync: a crashed restore leaves no `data.redb` behind.
 * - The restored header slots say "clean" and point the WAL at its first record position, so the
 *   shard opens with nothing to replay.
 */
import fs from 'node:fs';
import path from 'node:path';
import { nodeFileIO } from '../io/node-file-io.js';
import { checkBlock, type BlockHeader } from '../pagefile/block.js';
import type { HeaderSlot } from '../pagefile/header-slot.js';
import { PageFile } from '../pagefile/page-file.js';
import { SEGMENT_HEADER_SIZE, WAL_DIR } from '../wal/segment-format.js';
import type { Database } from './database.js';
import { SLOT_FLAG_CLEAN } from './durability/checkpoint.js';
import { DATA_FILE, PLAIN } from './durability/open-shard.js';
import { walkReachable, type WalkEvent, type WalkOptions } from './maintenance/reachable-blocks.js';

export type { HeaderSlot } from '../pagefile/header-slot.js';
export type { BlockRef } from '../pagefile/layout.js';
export type { KeyRingEntry } from '../codec/key-ring.js';
export type { WalkEvent, WalkOptions } from './maintenance/reachable-blocks.js';
/** The entries of a shard directory (docs/format.md, "Shard directory"), for copying one as files. */
export { DATA_FILE } from './durability/open-shard.js';
export { WAL_DIR } from '../wal/segment-format.js';
/** Block layout constants a backup's own checks need (the bytes of a stored block; docs/format.md). */
export { BLOCK_ALIGN, BLOCK_HEADER_SIZE, BlockKind, HEADER_SIZE } from '../pagefile/layout.js';

/** One shard's checkpoint, held still until released. */
export interface PinnedImage {
  /** The header slot naming the pinned checkpoint. */
  readonly slot: HeaderSlot;
  /** The page file's path (a compaction swaps in a new file under the same name). */
  readonly pageFilePath: string;
  /** The stored bytes of one extent of the pinned page file. */
  readExtent(offset: number, length: number): Uint8Array;
  /** Every block the checkpoint reaches, in walk order (see reachable-blocks.ts). */
  walk(options: WalkOptions): Iterable<WalkEvent>;
  release(): void;
}

/** What a backup asks of one open shard. */
export interface BackupSource {
  readonly isClosed: boolean;
  /** Checkpoints the shard and pins that checkpoint. */
  pinImage(): PinnedImage;
}

/** A Database seen as a backup source. */
export function backupSourceOf(db: Database): BackupSource {
  return {
    get isClosed() {
      return db.isClosed;
    },
    pinImage(): PinnedImage {
      const pin = db.pinCheckpoint();
      return {
        slot: pin.slot,
        pageFilePath: pin.file.path,
        readExtent: (offset, length) => pin.file.readExtent(offset, length),
        walk: (options) => walkReachable(pin.file, pin.slot, options),
        release: () => pin.release(),
      };
    },
  };
}

/** The header-slot fields a backup records; the rest (WAL position, flags) a restore sets. */
export type ImageSlot = Pick<HeaderSlot, 'pageSize' | 'databaseId' | 'seq' | 'checkpointTxn' | 'fileEnd' | 'catalog' | 'freelist' | 'keyId' | 'keyRing'>;

/** Checks a stored block read back from a backup against the checksum its reference carries. */
export function checkStoredBlock(extent: Uint8Array, offset: number, source: string, crc: number): BlockHeader {
  return checkBlock(extent, offset, source, crc);
}

/** Lays stored blocks down as the page file of a new, clean shard directory. */
export class ShardImageWriter {
  private constructor(
    private readonly dir: string,
    private readonly init: string,
    private readonly file: PageFile,
    private readonly fileEnd: number,
  ) {}

  static create(dir: string, image: ImageSlot): ShardImageWriter {
    fs.mkdirSync(path.join(dir, WAL_DIR), { recursive: true });
    const slot: HeaderSlot = { ...image, walSegment: 1, walOffset: SEGMENT_HEADER_SIZE, flags: SLOT_FLAG_CLEAN };
    const init = path.join(dir, `${DATA_FILE}.init`);
    // Written as a clean close writes them: both slots name the checkpoint, so either may be the fallback.
    const file = PageFile.create(nodeFileIO, init, PLAIN, [slot, { ...slot, seq: slot.seq + 1 }], 0);
    return new ShardImageWriter(dir, init, file, slot.fileEnd);
  }

  writeExtents(batch: { offset: number; bytes: Uint8Array }[]): void {
    this.file.writeExtents(batch);
  }

  /** Zero-extends to the checkpoint's file end (free extents at the end are part of the file) and syncs. */
  sync(): void {
    this.file.truncate(this.fileEnd);
    this.file.sync();
  }

  close(): void {
    this.file.close();
  }

  /** After sync() and close(): gives the page file its real name. */
  publish(): void {
    fs.renameSync(this.init, path.join(this.dir, DATA_FILE));
  }
}

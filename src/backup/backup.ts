/**
 * Online backup of every shard of a store, consistent at one point in time while writes go on.
 *
 *   1. Every shard is checkpointed and that checkpoint pinned, all in one synchronous step, so no
 *      commit can land in one shard between two pins; the store manifest is read in the same step.
 *      A pin keeps every block its checkpoint reaches from being reused, whatever is committed,
 *      checkpointed or compacted meanwhile.
 *   2. Each shard's reachable blocks are copied as stored (compressed, and encrypted when the store
 *      is: the backup is both with no work of its own), yielding to the event loop every few
 *      milliseconds so commits keep flowing; then that shard's pin is released.
 *   3. Per shard, an index lists every reachable block and where its bytes are. With `since`, blocks
 *      the previous backup already holds are not stored again: a node found there (same offset,
 *      length, checksum, writing checkpoint and key, in the same page file) is the same block, and
 *      since blocks are copy-on-write its whole subtree is too, so it is not even read; the index
 *      names it as a range of the base's listing (backup-listing.ts).
 *   4. The manifest, naming every file with its BLAKE3 digest, is written last and atomically.
 */
import fs from 'node:fs';
import path from 'node:path';
import { ClosedError, ValidationError } from '../errors.js';
import { blake3 } from '../blob/blake3.js';
import { BlockKind, type BackupSource, type PinnedImage, type WalkOptions } from '../shard/backup-source.js';
import { loadBackupChain } from './backup-chain.js';
import { BackupCorruptionError } from './backup-error.js';
import { IndexBuilder, MAX_CHAIN_DEPTH } from './backup-index.js';
import { loadListing, type BlockListing } from './backup-listing.js';
import {
  BACKUP_FORMAT,
  BACKUP_MANIFEST,
  encodeBackupManifest,
  shardBlocksFile,
  shardIndexFile,
  slotToJson,
  STORE_MANIFEST_COPY,
  type BackupBase,
  type BackupFileEntry,
  type BackupManifest,
  type BackupShardEntry,
  type LoadedManifest,
} from './backup-manifest.js';
import { BlocksFileWriter } from './blocks-file-writer.js';
import { fsyncDir, writeFileAtomic, writeFileSynced, writeFileSyncedAsync } from '../io/durable-file.js';
import { MANIFEST_NAME } from '../io/base-layout.js';

/** Options of RedbManager.backup. */
export interface BackupOptions {
  /** A previous backup (full or incremental): store only what changed since it. */
  since?: string;
}

/** What one shard's part of a backup holds. */
export interface BackupShardReport {
  shard: number;
  /** The shard's backup holds every commit up to this transaction and none after. */
  txn: number;
  /** Blocks (and bytes) the shard's checkpoint reaches: what a restore writes. */
  blocks: number;
  bytes: number;
  /** Of those, the ones stored in this backup (the rest are in its bases). */
  storedBlocks: number;
  storedBytes: number;
}

/** What RedbManager.backup wrote. */
export interface BackupReport {
  dir: string;
  kind: 'full' | 'incremental';
  /** The base backup directory of an incremental backup. */
  base: string | null;
  createdAt: string;
  shards: BackupShardReport[];
  /** Size of every file of this backup, manifest included. */
  bytesWritten: number;
  durationMs: number;
}

/** How long the copy runs before it lets other work (commits) run. */
const SLICE_MS = 4;

/** A base backup's listing of one shard, and where each tree block is in it. */
interface BaseShard {
  listing: BlockListing;
  byOffset: Map<number, number>;
}

interface Base {
  head: LoadedManifest;
  shards: BaseShard[];
}

const yieldToEventLoop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/**
 * Identifies a page file, so blocks are reused only from the very file the base backup copied. The
 * birth time tells apart two files that got the same inode number in turn (compacting twice).
 */
function pageFileId(file: string): string {
  const st = fs.statSync(file, { bigint: true });
  return `${st.dev}:${st.ino}:${st.birthtimeNs}`;
}

/** Writes a backup of `shards` (the store in `baseDir`) into `destDir`, which must be new or empty. */
export async function writeBackup(baseDir: string, shards: readonly BackupSource[], destDir: unknown, options: unknown): Promise<BackupReport> {
  const started = performance.now();
  if (typeof destDir !== 'string' || destDir.length === 0) throw new ValidationError('the backup directory must be a non-empty string path');
  if (options !== undefined && (typeof options !== 'object' || options === null)) throw new ValidationError('backup options must be an object such as { since: previousBackupDir }');
  const since = (options as BackupOptions | undefined)?.since;
  if (since !== undefined && (typeof since !== 'string' || since.length === 0)) throw new ValidationError('option since must be the directory of a previous backup');
  const dest = path.resolve(destDir);
  if (dest === baseDir || dest.startsWith(baseDir + path.sep)) throw new ValidationError('a backup cannot be written inside the store it copies; choose a directory outside its baseDir');
  if (fs.existsSync(dest) && fs.readdirSync(dest).length > 0) throw new ValidationError(`backup directory ${dest} is not empty; give a new or empty directory`);
  const base = since === undefined ? null : loadBase(path.resolve(since), shards.length);
  fs.mkdirSync(path.join(dest, 'shards'), { recursive: true });
  try {
    const report = await copyStore(baseDir, shards, dest, base);
    return { ...report, durationMs: performance.now() - started };
  } catch (err) {
    // The directory was empty, so everything in it is ours: leave it empty for a retry.
    for (const name of fs.readdirSync(dest)) fs.rmSync(path.join(dest, name), { recursive: true, force: true });
    throw err;
  }
}

/** Reads the base's indexes (checked against its manifest) before anything is pinned. */
function loadBase(dir: string, shardCount: number): Base {
  const chain = loadBackupChain(dir);
  if (chain.issues.length > 0) throw new BackupCorruptionError(dir, chain.issues, 'no incremental backup was taken on it');
  const head = chain.links[0]!;
  if (head.manifest.shardCount !== shardCount) {
    throw new ValidationError(`the backup in ${dir} has ${head.manifest.shardCount} shards but this store has ${shardCount}; it is not a backup of this store`);
  }
  if (chain.links.length >= MAX_CHAIN_DEPTH) throw new ValidationError(`the backup chain of ${dir} is ${chain.links.length} backups long, the most there can be; take a full backup`);
  const shards: BaseShard[] = [];
  for (let i = 0; i < shardCount; i++) {
    const listing = loadListing(chain.links, i);
    if (typeof listing === 'string') throw new BackupCorruptionError(dir, [listing], 'no incremental backup was taken on it');
    const byOffset = new Map<number, number>();
    for (let j = 0; j < listing.count; j++) {
      const e = listing.entry(j);
      if (e.kind === BlockKind.Leaf || e.kind === BlockKind.Branch || e.kind === BlockKind.Value) byOffset.set(e.offset, j);
    }
    shards.push({ listing, byOffset });
  }
  return { head, shards };
}

/** One shard's pinned checkpoint, with what had to be read while nothing else could run. */
interface Pinned {
  pin: PinnedImage;
  fileId: string;
  roots: { catalog: Uint8Array | null; freelist: Uint8Array | null };
}

/** Pins every shard's checkpoint and reads the store manifest with no commit in between. */
function pinAll(baseDir: string, shards: readonly BackupSource[]): { pinned: Pinned[]; storeManifest: Buffer } {
  const pins: PinnedImage[] = [];
  try {
    for (const db of shards) pins.push(db.pinImage());
    // A key rotation rewrites the store manifest and every shard in one synchronous step too, so
    // the copy agrees with the shards' key rings.
    const storeManifest = fs.readFileSync(path.join(baseDir, MANIFEST_NAME));
    const pinned = pins.map((pin) => ({
      pin,
      fileId: pageFileId(pin.pageFilePath),
      // The pin does not hold back the catalog and freelist blocks if checkpoints with no commit in
      // between retire them (see WalkOptions.rootExtents): read them now, while nothing can.
      roots: {
        catalog: pin.slot.catalog ? pin.readExtent(pin.slot.catalog.offset, pin.slot.catalog.length) : null,
        freelist: pin.slot.freelist ? pin.readExtent(pin.slot.freelist.offset, pin.slot.freelist.length) : null,
      },
    }));
    return { pinned, storeManifest };
  } catch (err) {
    for (const p of pins) p.release();
    throw err;
  }
}

async function copyStore(baseDir: string, shards: readonly BackupSource[], dest: string, base: Base | null): Promise<Omit<BackupReport, 'durationMs'>> {
  const createdAt = new Date().toISOString();
  const { pinned, storeManifest } = pinAll(baseDir, shards);
  const files: BackupFileEntry[] = [];
  const entries: BackupShardEntry[] = [];
  let released = 0;
  try {
    for (let i = 0; i < pinned.length; i++) {
      const p = pinned[i]!;
      const baseEntry = base?.head.manifest.shards[i];
      // Reuse only blocks of the very page file the base copied: a compaction, rekey or restore
      // writes a new file, whose blocks may sit at the same offsets with other contents.
      const usable = baseEntry && baseEntry.slot.databaseId === p.pin.slot.databaseId && baseEntry.pageFileId === p.fileId ? base!.shards[i]! : null;
      entries.push(await copyShard(shards[i]!, p, i, usable, dest, files));
      p.pin.release();
      released++;
    }
  } finally {
    for (let i = released; i < pinned.length; i++) pinned[i]!.pin.release();
  }
  writeFileSynced(path.join(dest, STORE_MANIFEST_COPY), storeManifest);
  files.push({ name: STORE_MANIFEST_COPY, bytes: storeManifest.length, blake3: Buffer.from(blake3(storeManifest)).toString('hex') });
  fsyncDir(path.join(dest, 'shards'));
  const baseRef: BackupBase | null = base
    ? { path: path.relative(dest, base.head.dir) || '.', absolutePath: base.head.dir, manifestBlake3: base.head.digest }
    : null;
  const manifest: BackupManifest = {
    format: BACKUP_FORMAT,
    version: 1,
    createdAt,
    kind: base ? 'incremental' : 'full',
    base: baseRef,
    shardCount: pinned.length,
    shards: entries,
    files,
  };
  const manifestBytes = encodeBackupManifest(manifest);
  writeFileAtomic(path.join(dest, BACKUP_MANIFEST), manifestBytes);
  return {
    dir: dest,
    kind: manifest.kind,
    base: base ? base.head.dir : null,
    createdAt,
    shards: entries.map((e) => ({ shard: e.index, txn: e.txn, blocks: e.blocks, bytes: e.bytes, storedBlocks: e.storedBlocks, storedBytes: e.storedBytes })),
    bytesWritten: files.reduce((n, f) => n + f.bytes, 0) + manifestBytes.length,
  };
}

/** Reads happen only between awaits, so checking after each await covers every read. */
function assertStillOpen(db: BackupSource, shard: number): void {
  // A shard closed meanwhile (close, repair) and reopened knows nothing of the pin and may reuse
  // its blocks; the copy would then fail on their checksums, so say what happened instead.
  if (db.isClosed) throw new ClosedError(`the store being backed up (shard ${shard} was closed before its copy finished; nothing was kept, take the backup again once it is open)`);
}

/** A reuse test against a base's index: the same block, written by the same checkpoint. */
function reuseFrom(base: BaseShard): WalkOptions['reuse'] {
  return (ref, peek) => {
    const j = base.byOffset.get(ref.offset);
    if (j === undefined) return false;
    const e = base.listing.entry(j);
    if (e.length !== ref.length || e.crc !== ref.crc || e.subtree < 1 || j + e.subtree > base.listing.count) return false;
    // The checksum alone could collide with a later block at the same offset; the writing
    // checkpoint's txn cannot: in one page file, a node or value extent is rewritten only by a
    // checkpoint holding newer commits (a compaction writes a new file, see pageFileId).
    const h = peek();
    return h.crc === e.crc && h.txn === e.txn && h.kind === e.kind && h.flags === e.flags && h.keyId === e.keyId;
  };
}

/** Copies one pinned shard: its blocks file and index. Adds both to `files`. */
async function copyShard(db: BackupSource, pinned: Pinned, shard: number, base: BaseShard | null, dest: string, files: BackupFileEntry[]): Promise<BackupShardEntry> {
  const { pin, fileId, roots } = pinned;
  const blocksName = shardBlocksFile(shard);
  const writer = await BlocksFileWriter.create(path.join(dest, blocksName));
  const index = new IndexBuilder();
  /** Blocks whose walk has not ended: their file entry and where they start in the listing. */
  const open: { entry: number; listed: number }[] = [];
  let storedBlocks = 0;
  let bytes = 0;
  let blocksFile: { bytes: number; blake3: string };
  try {
    assertStillOpen(db, shard);
    let sliceStart = performance.now();
    for (const ev of pin.walk({ rootExtents: roots, ...(base ? { reuse: reuseFrom(base) } : {}) })) {
      if (ev.type === 'enter') {
        const { ref, header, extent } = ev.block;
        const position = writer.append(extent);
        const listed = index.listed;
        const entry = index.pushBlock({ offset: ref.offset, length: ref.length, crc: ref.crc, txn: header.txn, kind: header.kind, flags: header.flags, keyId: header.keyId, source: 0, position, subtree: 1 });
        open.push({ entry, listed });
        storedBlocks++;
        bytes += ref.length;
      } else if (ev.type === 'exit') {
        const { entry, listed } = open.pop()!;
        index.setSubtree(entry, index.listed - listed);
      } else {
        const j = base!.byOffset.get(ev.ref.offset)!;
        const n = base!.listing.entry(j).subtree;
        index.pushRange(j, n);
        for (let k = j; k < j + n; k++) bytes += base!.listing.length(k);
      }
      if (performance.now() - sliceStart >= SLICE_MS) {
        await yieldToEventLoop();
        sliceStart = performance.now();
        assertStillOpen(db, shard);
      }
    }
    blocksFile = await writer.finish();
  } catch (err) {
    writer.close();
    throw err;
  }
  files.push({ name: blocksName, ...blocksFile });
  const indexName = shardIndexFile(shard);
  const indexBytes = index.encode(pin.slot.databaseId);
  await writeFileSyncedAsync(path.join(dest, indexName), indexBytes);
  files.push({ name: indexName, bytes: indexBytes.length, blake3: Buffer.from(blake3(indexBytes)).toString('hex') });
  return {
    index: shard,
    txn: pin.slot.checkpointTxn,
    pageFileId: fileId,
    slot: slotToJson(pin.slot),
    blocks: index.listed,
    bytes,
    storedBlocks,
    storedBytes: blocksFile.bytes,
  };
}

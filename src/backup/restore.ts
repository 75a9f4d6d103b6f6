/**
 * restore(fromDir, toDir): rebuilds a store from a backup (and the bases it names).
 *
 *   1. The backup is verified first; a bad one is refused with BackupCorruptionError and nothing is
 *      touched.
 *   2. `toDir` is locked like an opening store would lock it, so a live store there fails with
 *      LockedError; a non-empty directory is refused unless `force`, which empties it first.
 *   3. Each shard's page file is written as `data.redb.init`: every block back at its original offset
 *      (each checked against its checksum on the way), the rest zeros up to the checkpoint's file end,
 *      and both header slots naming the backed-up checkpoint with the clean flag and a fresh WAL
 *      position (segment 1, offset 4096). The checkpoint's own freelist block comes back with it; it
 *      lists exactly the extents the checkpoint left free, so header, reachable blocks and free
 *      extents tile the file as `verify()` requires, and no block is re-sealed: a restore never
 *      needs the encryption key (opening the result does). fsync, rename to `data.redb`, fsync.
 *   4. The store manifest is written last, atomically: until it exists, RedbManager.open refuses
 *      the directory ("shards exist but the manifest is missing"), so an interrupted restore is never
 *      mistaken for a store. Run the restore again with `force`.
 */
import fs from 'node:fs';
import path from 'node:path';
import { CorruptionError, ValidationError } from '../errors.js';
import { blake3 } from '../blob/blake3.js';
import { DirLock } from '../io/dir-lock.js';
import { checkStoredBlock, ShardImageWriter } from '../shard/backup-source.js';
import { loadBackupChain } from './backup-chain.js';
import { BackupCorruptionError } from './backup-error.js';
import { loadListing } from './backup-listing.js';
import { keyRingFromJson, shardBlocksFile, STORE_MANIFEST_COPY, type BackupShardEntry, type LoadedManifest } from './backup-manifest.js';
import { verifyBackupDir } from './backup-verify.js';
import { fsyncDir, writeFileAtomic } from '../io/durable-file.js';
import { MANIFEST_NAME } from '../io/base-layout.js';

/** Options of RedbManager.restore. */
export interface RestoreOptions {
  /** Replace the contents of a non-empty target directory (never a live, locked store). */
  force?: boolean;
}

/** What RedbManager.restore did. */
export interface RestoreReport {
  dir: string;
  from: string;
  /** The backup and the bases it was rebuilt from, newest first. */
  chain: string[];
  /** True when `force` removed earlier contents of the directory. */
  replaced: boolean;
  shards: { shard: number; txn: number; blocks: number; bytes: number }[];
  durationMs: number;
}

/** Blocks gathered before one write. */
const WRITE_BATCH_BYTES = 8 << 20;
/** What the lock leaves in a directory: not contents. */
const isLockEntry = (name: string): boolean => name === 'lock' || name === 'lock.owner' || name.startsWith('lock.owner.');

/** Shard directories as RedbManager lays them out: `<baseDir>/shards/<NNN>`. */
function shardDir(baseDir: string, shard: number): string {
  return path.join(baseDir, 'shards', String(shard).padStart(3, '0'));
}

export function restoreBackup(fromDir: unknown, toDir: unknown, options: unknown): RestoreReport {
  const started = performance.now();
  if (typeof fromDir !== 'string' || fromDir.length === 0) throw new ValidationError('the backup directory must be a non-empty string path');
  if (typeof toDir !== 'string' || toDir.length === 0) throw new ValidationError('the restore target must be a non-empty string path');
  if (options !== undefined && (typeof options !== 'object' || options === null)) throw new ValidationError('restore options must be an object such as { force: true }');
  const force = (options as RestoreOptions | undefined)?.force ?? false;
  if (typeof force !== 'boolean') throw new ValidationError('option force must be true or false');
  const from = path.resolve(fromDir);
  const to = path.resolve(toDir);
  const check = verifyBackupDir(from);
  if (!check.ok) throw new BackupCorruptionError(from, check.issues);
  const links = loadBackupChain(from).links;
  if (check.chain.some((dir) => to === dir || to.startsWith(dir + path.sep) || dir.startsWith(to + path.sep))) {
    throw new ValidationError(`cannot restore into ${to}: it overlaps the backup chain it restores from`);
  }
  fs.mkdirSync(to, { recursive: true });
  const lock = DirLock.acquire(to);
  try {
    const contents = fs.readdirSync(to).filter((n) => !isLockEntry(n));
    if (contents.length > 0 && !force) {
      throw new ValidationError(`${to} is not empty (${contents.slice(0, 3).join(', ')}${contents.length > 3 ? ', ...' : ''}); restore into a new or empty directory, or pass force: true to replace its contents`);
    }
    for (const name of contents) fs.rmSync(path.join(to, name), { recursive: true, force: true });
    const head = links[0]!;
    const shards = head.manifest.shards.map((s, i) => restoreShard(links, s, i, shardDir(to, i)));
    fsyncDir(path.join(to, 'shards'));
    const storeManifest = fs.readFileSync(path.join(from, STORE_MANIFEST_COPY));
    const listed = head.manifest.files.find((f) => f.name === STORE_MANIFEST_COPY);
    if (Buffer.from(blake3(storeManifest)).toString('hex') !== listed?.blake3) {
      throw new BackupCorruptionError(from, [`${STORE_MANIFEST_COPY} changed while it was being restored`], 'the restore is incomplete (no store manifest was written)');
    }
    writeFileAtomic(path.join(to, MANIFEST_NAME), storeManifest);
    return { dir: to, from, chain: check.chain, replaced: contents.length > 0, shards, durationMs: performance.now() - started };
  } finally {
    lock.unlock();
  }
}

/** Rebuilds one shard directory from the chain. */
function restoreShard(links: LoadedManifest[], s: BackupShardEntry, shard: number, dir: string): RestoreReport['shards'][number] {
  const head = links[0]!;
  const listing = loadListing(links, shard);
  if (typeof listing === 'string') throw new BackupCorruptionError(head.dir, [listing], 'the restore is incomplete (no store manifest was written)');
  const file = ShardImageWriter.create(dir, {
    pageSize: s.slot.pageSize,
    databaseId: s.slot.databaseId,
    seq: s.slot.seq,
    checkpointTxn: s.slot.checkpointTxn,
    fileEnd: s.slot.fileEnd,
    catalog: s.slot.catalog,
    freelist: s.slot.freelist,
    keyId: s.slot.keyId,
    keyRing: keyRingFromJson(s.slot.keyRing),
  });
  const fds = new Map<number, number>();
  try {
    let batch: { offset: number; bytes: Uint8Array }[] = [];
    let batchBytes = 0;
    for (let i = 0; i < listing.count; i++) {
      const e = listing.entry(i);
      const source = path.join(links[e.source]!.dir, shardBlocksFile(shard));
      let fd = fds.get(e.source);
      if (fd === undefined) fds.set(e.source, (fd = fs.openSync(source, 'r')));
      const extent = new Uint8Array(e.length);
      if (fs.readSync(fd, extent, 0, e.length, e.position) !== e.length) throw new CorruptionError(source, e.position, 'the blocks file ends inside a block');
      // The block's checksum is seeded with its page-file offset: a block read from the wrong place fails.
      const header = checkStoredBlock(extent, e.offset, source, e.crc);
      if (header.kind !== e.kind || header.txn !== e.txn) throw new CorruptionError(source, e.position, 'the block is not the one the index names');
      batch.push({ offset: e.offset, bytes: extent });
      batchBytes += extent.length;
      if (batchBytes >= WRITE_BATCH_BYTES) {
        file.writeExtents(batch);
        batch = [];
        batchBytes = 0;
      }
    }
    file.writeExtents(batch);
    file.sync();
  } finally {
    for (const fd of fds.values()) fs.closeSync(fd);
    file.close();
  }
  file.publish();
  fsyncDir(dir);
  return { shard, txn: s.txn, blocks: listing.count, bytes: s.bytes };
}

/**
 * Offline repair of one shard directory. A shard that opens and verifies clean is left alone. A
 * damaged one is salvaged into a fresh shard, and the damaged files are kept aside:
 *
 *   1. The newest header slot whose catalog decodes is used (the older one otherwise).
 *   2. Every table is walked from its root. A node that cannot be read and authenticated loses the
 *      key range its parent's separators give it, for now.
 *   3. If the checkpoint's freelist decodes, those lost ranges are searched for by scanning the file:
 *      header, reachable blocks and free extents tile the file exactly, so a valid leaf found outside
 *      the free extents is part of the current tree (below the damaged node), never a stale copy.
 *      Its entries are recovered; a range is reported lost only for what stays unfound.
 *   4. Entries are copied into a fresh shard through ordinary transactions (deduplicated values are
 *      resolved through the old blob table first, and deduplicated again on the way in).
 *   5. WAL records after the checkpoint are replayed on top, up to any damage in the log.
 *   6. The damaged directory is renamed `<dir>.damaged-<time>` and the fresh one takes its place.
 *
 * What was recovered and what was lost is reported entry by entry (values) and range by range (keys).
 */
import fs from 'node:fs';
import path from 'node:path';
import { CorruptionError, EncryptionKeyError, LockedError, FormatError, RedbError, ioError } from '../errors.js';
import { DirLock } from '../io/dir-lock.js';
import type { FileIO } from '../io/file-io.js';
import type { PageCodec } from '../codec/page-codec.js';
import { sepAt } from '../btree/branch.js';
import { blobHashAt, inlineValueAt, keyAt, valueTagAt } from '../btree/leaf.js';
import { NodeCache, CacheBudget } from '../btree/node-cache.js';
import { decodeLeaf, NodeFormatError } from '../btree/node-codec.js';
import { NodeStore } from '../btree/node-store.js';
import { ValueTag, type LeafNode } from '../btree/node.js';
import { openBlock } from '../pagefile/block.js';
import { decodeFreelist } from '../pagefile/freelist-codec.js';
import type { HeaderSlot } from '../pagefile/header-slot.js';
import { alignUp, BLOCK_ALIGN, BLOCK_HEADER_SIZE, BlockKind, HEADER_SIZE, type BlockRef } from '../pagefile/layout.js';
import { PageFile } from '../pagefile/page-file.js';
import { compareBytes, copyBytes } from '../util/bytes.js';
import { decodeCommit } from '../wal/commit-payload.js';
import { WAL_DIR } from '../wal/segment-format.js';
import { scanWal } from '../wal/wal-scan.js';
import { BLOB_TABLE } from './blob-table.js';
import { decodeCatalog, type StoredTable } from './catalog.js';
import { SLOT_FLAG_CLEAN } from './checkpoint.js';
import { Database } from './database.js';
import { codecFor, DATA_FILE, PLAIN } from './open-shard.js';
import { resolveDatabaseOptions, type DatabaseOptions } from './options.js';
import type { WriteTxn } from './write-txn.js';

/** A key range whose entries could not be recovered (hex keys; null: unbounded). */
export interface LostRange {
  table: string;
  from: string | null;
  to: string | null;
  reason: string;
}

/** What repairing one shard did. */
export interface ShardRepairReport {
  dir: string;
  /** 'clean': nothing to do; 'repaired': salvaged into a fresh shard; 'unrecoverable': nothing could be read. */
  status: 'clean' | 'repaired' | 'unrecoverable';
  /** Problems verify (or open) found before the repair. */
  problems: string[];
  /** Entries copied into the repaired shard from the page file. */
  recoveredEntries: number;
  /** Of those, entries found by scanning below a damaged branch. */
  recoveredByScan: number;
  lostRanges: LostRange[];
  /** Entries whose key survived but whose value could not be read. */
  lostValues: { table: string; key: string; reason: string }[];
  walCommitsReplayed: number;
  /** Why WAL replay stopped early, if it did. */
  walDamage: string | null;
  /** Where the damaged files were moved. */
  damagedDir: string | null;
  /** verify() of the repaired shard. */
  verifiedClean: boolean;
}

const BATCH = 5000;
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

/** Verifies the shard in `dir` and salvages it if it is damaged. The shard must not be open. */
export function repairShard(dir: string, options: DatabaseOptions): ShardRepairReport {
  const report: ShardRepairReport = {
    dir,
    status: 'clean',
    problems: [],
    recoveredEntries: 0,
    recoveredByScan: 0,
    lostRanges: [],
    lostValues: [],
    walCommitsReplayed: 0,
    walDamage: null,
    damagedDir: null,
    verifiedClean: true,
  };
  if (!fs.existsSync(path.join(dir, DATA_FILE))) return report;
  try {
    const db = Database.open(dir, options);
    try {
      const v = db.verify();
      if (v.ok) return report;
      report.problems = v.issues.map((i) => `${i.area} ${i.file}@${i.offset}: ${i.message}`);
    } finally {
      db.close();
    }
  } catch (err) {
    // Key, lock and format problems are the caller's to fix; salvaging would not help.
    if (err instanceof EncryptionKeyError || err instanceof LockedError || err instanceof FormatError || !(err instanceof RedbError)) throw err;
    report.problems.push((err as Error).message);
  }
  salvage(dir, options, report);
  return report;
}

function salvage(dir: string, options: DatabaseOptions, report: ShardRepairReport): void {
  const resolved = resolveDatabaseOptions(options);
  const lock = DirLock.acquire(dir);
  const fresh = `${dir}.repairing`;
  fs.rmSync(fresh, { recursive: true, force: true });
  const file = PageFile.open(resolved.io, path.join(dir, DATA_FILE), PLAIN, 0, true);
  let target: Database | null = null;
  try {
    const chosen = chooseCheckpoint(dir, file, resolved, report);
    target = Database.open(fresh, { ...options, checkpointIntervalMs: 0 });
    if (chosen) {
      const store = new NodeStore(file, new NodeCache(new CacheBudget(64 << 20)));
      const copier = new Copier(target, store, report);
      copier.copyAll(chosen.tables, freeExtents(file, chosen.slot));
      replayWal(dir, chosen.slot, resolved.io, file.codec, target, report);
    } else {
      report.status = 'unrecoverable';
    }
    target.close();
    target = null;
  } finally {
    target?.close();
    file.close();
    lock.unlock();
  }
  if (report.status !== 'unrecoverable') report.status = 'repaired';
  const aside = `${dir}.damaged-${new Date().toISOString().replace(/[:.]/g, '-')}`;
  try {
    fs.renameSync(dir, aside);
    fs.renameSync(fresh, dir);
    const parent = fs.openSync(path.dirname(dir), 'r');
    fs.fsyncSync(parent);
    fs.closeSync(parent);
  } catch (err) {
    throw ioError('replace the damaged shard', dir, err);
  }
  report.damagedDir = aside;
  const check = Database.open(dir, options);
  try {
    report.verifiedClean = check.verify().ok;
  } finally {
    check.close();
  }
}

/** The newest slot whose catalog decodes, with its tables; null when none does. */
function chooseCheckpoint(
  dir: string,
  file: PageFile,
  options: ReturnType<typeof resolveDatabaseOptions>,
  report: ShardRepairReport,
): { slot: HeaderSlot; tables: StoredTable[] } | null {
  const slots: HeaderSlot[] = [];
  for (const i of [0, 1] as const) {
    const r = file.readSlot(i);
    if (r.state === 'valid') slots.push(r.slot);
  }
  slots.sort((a, b) => b.seq - a.seq);
  for (const slot of slots) {
    file.codec = codecFor(dir, slot, options).codec;
    if (!slot.catalog) return { slot, tables: [] };
    try {
      const tables = decodeCatalog(file.readBlock(slot.catalog, BlockKind.Catalog).payload);
      if (typeof tables !== 'string') return { slot, tables };
      report.problems.push(`catalog of checkpoint ${slot.checkpointTxn}: ${tables}`);
    } catch (err) {
      if (err instanceof EncryptionKeyError) throw err;
      report.problems.push(`catalog of checkpoint ${slot.checkpointTxn}: ${(err as Error).message}`);
    }
  }
  return null;
}

/** Free extents of the checkpoint, or null when its freelist cannot be read (no scanning then). */
function freeExtents(file: PageFile, slot: HeaderSlot): { offset: number; length: number }[] | null {
  if (!slot.freelist) return [];
  try {
    const extents = decodeFreelist(file.readBlock(slot.freelist, BlockKind.Freelist).payload, slot.fileEnd);
    return typeof extents === 'string' ? null : [...extents, { offset: slot.freelist.offset, length: slot.freelist.length }];
  } catch {
    return null;
  }
}

/** Copies entries from the damaged page file into the fresh shard, recording what is lost. */
class Copier {
  private readonly blobs = new Map<string, Uint8Array>();
  private readonly visited = new Set<number>();
  private pending: { table: string; key: Uint8Array; value: Uint8Array }[] = [];

  constructor(
    private readonly target: Database,
    private readonly store: NodeStore,
    private readonly report: ShardRepairReport,
  ) {}

  copyAll(tables: StoredTable[], free: { offset: number; length: number }[] | null): void {
    // Blobs first (walked, then scanned for), so deduplicated values can be resolved; reference
    // counts are rebuilt by the copy, not copied.
    const blobTable = tables.find((t) => t.name === BLOB_TABLE);
    if (blobTable?.root) this.walkAndScan([blobTable], free);
    const lost = this.walkAndScan(tables.filter((t) => !t.name.startsWith('__')), free);
    this.report.lostRanges.push(...lost);
    this.flush();
  }

  private walkAndScan(tables: StoredTable[], free: { offset: number; length: number }[] | null): LostRange[] {
    const lost: LostRange[] = [];
    for (const t of tables) if (t.root) this.walk(t.name, t.root, null, null, lost);
    if (lost.length > 0 && free) this.scanFor(lost, free);
    return lost;
  }

  private walk(table: string, ref: BlockRef, lo: Uint8Array | null, hi: Uint8Array | null, lost: LostRange[]): void {
    let node;
    try {
      node = this.store.readNode(ref);
    } catch (err) {
      lost.push({ table, from: lo && hex(lo), to: hi && hex(hi), reason: `node at ${ref.offset}: ${(err as Error).message}` });
      return;
    }
    this.visited.add(ref.offset);
    if (node.isLeaf) {
      this.takeLeaf(table, node, lo, hi);
      return;
    }
    for (let i = 0; i < node.refs.length; i++) {
      this.walk(table, node.refs[i]!, i === 0 ? lo : sepAt(node, i - 1), i === node.sepCount ? hi : sepAt(node, i), lost);
    }
  }

  /** Takes the entries of a leaf whose keys lie in [lo, hi) (all of them, for a leaf on the path). */
  private takeLeaf(table: string, leaf: LeafNode, lo: Uint8Array | null, hi: Uint8Array | null): number {
    let taken = 0;
    for (let i = 0; i < leaf.count; i++) {
      const key = copyBytes(keyAt(leaf, i));
      if ((lo && compareBytes(key, lo) < 0) || (hi && compareBytes(key, hi) >= 0)) continue;
      const value = this.valueOf(table, leaf, i, key);
      if (!value) continue;
      taken++;
      if (table === BLOB_TABLE) this.blobs.set(hex(key), value);
      else this.add(table, key, value);
    }
    return taken;
  }

  private valueOf(table: string, leaf: LeafNode, i: number, key: Uint8Array): Uint8Array | null {
    const tag = valueTagAt(leaf, i);
    if (tag === ValueTag.Inline) return copyBytes(inlineValueAt(leaf, i));
    if (tag === ValueTag.Blob) {
      const blob = this.blobs.get(hex(blobHashAt(leaf, i)));
      if (!blob) this.report.lostValues.push({ table, key: hex(key), reason: 'its deduplicated value is on a damaged page' });
      return blob ?? null;
    }
    try {
      return copyBytes(this.store.valueAt(leaf, i));
    } catch (err) {
      if (table !== BLOB_TABLE) this.report.lostValues.push({ table, key: hex(key), reason: (err as Error).message });
      return null;
    }
  }

  private add(table: string, key: Uint8Array, value: Uint8Array): void {
    this.pending.push({ table, key, value });
    this.report.recoveredEntries++;
    if (this.pending.length >= BATCH) this.flush();
  }

  private flush(): void {
    const batch = this.pending;
    this.pending = [];
    if (batch.length === 0) return;
    this.target.write((tx) => {
      for (const e of batch) tx.table(e.table).put(e.key, e.value);
    });
  }

  /**
   * Scans the file outside the free extents for valid leaves not reached by the walk, and takes the
   * entries of lost ranges from them. Ranges then left empty-handed stay reported as lost.
   */
  private scanFor(lost: LostRange[], free: { offset: number; length: number }[]): void {
    const file = this.store.file;
    const end = file.size();
    const freeSorted = [...free].sort((a, b) => a.offset - b.offset);
    let f = 0;
    for (let off = HEADER_SIZE; off + BLOCK_HEADER_SIZE <= end; ) {
      while (f < freeSorted.length && freeSorted[f]!.offset + freeSorted[f]!.length <= off) f++;
      const fe = freeSorted[f];
      if (fe && fe.offset <= off) {
        off = fe.offset + fe.length;
        continue;
      }
      const leaf = this.readLeafAt(off, end);
      if (!leaf) {
        off += BLOCK_ALIGN;
        continue;
      }
      off += leaf.extent;
      if (this.visited.has(leaf.offset) || leaf.node.count === 0) continue;
      // A leaf below a lost branch has all its keys inside that branch's range. Leaves do not say
      // which table they belong to, so a leaf that two tables' lost ranges could claim is left out.
      const first = keyAt(leaf.node, 0);
      const last = keyAt(leaf.node, leaf.node.count - 1);
      const owners = lost.filter((r) => (r.from === null || compareBytes(first, Buffer.from(r.from, 'hex')) >= 0) && (r.to === null || compareBytes(last, Buffer.from(r.to, 'hex')) < 0));
      if (owners.length !== 1) continue;
      const range = owners[0]!;
      this.visited.add(leaf.offset);
      const taken = this.takeLeaf(range.table, leaf.node, null, null);
      this.report.recoveredByScan += taken;
      range.reason += `; ${taken} entries recovered below it by scanning`;
    }
  }

  /** A valid leaf block starting at `off`, or null. */
  private readLeafAt(off: number, end: number): { node: LeafNode; offset: number; extent: number } | null {
    const file = this.store.file;
    const head = file.readExtent(off, BLOCK_HEADER_SIZE);
    if (head[0] !== BlockKind.Leaf) return null;
    const stored = head[4]! | (head[5]! << 8) | (head[6]! << 16) | (head[7]! << 24);
    const extent = alignUp(BLOCK_HEADER_SIZE + stored);
    if (stored < 0 || off + extent > end) return null;
    try {
      // Without a parent to vouch for it, the block's own checksum (seeded with its offset) must hold.
      const { payload } = openBlock(file.readExtent(off, extent), off, file.path, undefined, BlockKind.Leaf, file.codec);
      return { node: decodeLeaf(payload, { offset: off, length: extent, crc: 0 }), offset: off, extent };
    } catch (err) {
      if (err instanceof CorruptionError || err instanceof NodeFormatError) return null;
      throw err;
    }
  }
}

/** Replays the WAL after the checkpoint into the fresh shard, stopping at damage. */
function replayWal(dir: string, slot: HeaderSlot, io: FileIO, codec: PageCodec, target: Database, report: ShardRepairReport): void {
  try {
    scanWal(
      io,
      path.join(dir, WAL_DIR),
      {
        databaseId: slot.databaseId,
        position: { segment: slot.walSegment, offset: slot.walOffset },
        firstTxn: slot.checkpointTxn + 1,
        mayBeAbsent: (slot.flags & SLOT_FLAG_CLEAN) !== 0,
      },
      codec,
      (_txn, payload) => {
        const ops = decodeCommit(payload);
        if (typeof ops === 'string') throw new CorruptionError(path.join(dir, WAL_DIR), 0, ops);
        target.write((tx) => {
          for (const op of ops) (tx as WriteTxn).applyDecoded(op);
        });
        report.walCommitsReplayed++;
      },
    );
  } catch (err) {
    if (err instanceof EncryptionKeyError) throw err;
    report.walDamage = (err as Error).message;
  }
}

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
 *   5. WAL records after the checkpoint are replayed on top, up to any damage in the log. Records
 *      past the damage cannot be applied without breaking transaction order; they are found by
 *      content (wal/wal-survey.ts) and counted as lost commits, with their txn range.
 *   6. The damaged directory is renamed `<dir>.damaged-<time>` and the fresh one takes its place.
 *
 * When no checkpoint can be read (both header slots, or both catalogs, damaged), the shard is rebuilt
 * from the WAL alone if the log still reaches back to the store's creation (segment 1, first record
 * txn 1). Otherwise repair refuses: the shard is left exactly as it was and the report says why,
 * because an empty shard in its place would silently drop everything.
 *
 * What was recovered and what was lost is reported entry by entry (values), range by range (keys)
 * and commit by commit (WAL). Damage never makes repair throw: it is reported.
 */
import fs from 'node:fs';
import path from 'node:path';
import { CorruptionError, EncryptionKeyError, LockedError, FormatError, RedbError, ioError } from '../../errors.js';
import { StoreCodec } from '../../codec/store-codec.js';
import { DirLock } from '../../io/dir-lock.js';
import type { FileIO } from '../../io/file-io.js';
import type { PageCodec } from '../../codec/page-codec.js';
import { sepAt } from '../../btree/branch.js';
import { blobHashAt, inlineValueAt, keyAt, valueTagAt } from '../../btree/leaf.js';
import { NodeCache, CacheBudget } from '../../btree/node-cache.js';
import { decodeLeaf, NodeFormatError } from '../../btree/node-codec.js';
import { NodeStore } from '../../btree/node-store.js';
import { ValueTag, type LeafNode } from '../../btree/node.js';
import { openBlock } from '../../pagefile/block.js';
import { decodeFreelist } from '../../pagefile/freelist-codec.js';
import type { HeaderSlot } from '../../pagefile/header-slot.js';
import { alignUp, BLOCK_ALIGN, BLOCK_HEADER_SIZE, BlockKind, HEADER_SIZE, type BlockRef } from '../../pagefile/layout.js';
import { PageFile } from '../../pagefile/page-file.js';
import { compareBytes, copyBytes } from '../../util/bytes.js';
import { decodeCommit, type DecodedOp } from '../../wal/commit-payload.js';
import { decodeRecordHeader, RECORD_HEADER_SIZE, recordChecksumValid } from '../../wal/record-format.js';
import { decodeSegmentHeader, SEGMENT_HEADER_SIZE, segmentFileName, WAL_DIR } from '../../wal/segment-format.js';
import { listSegments, scanWal, type WalScanStart } from '../../wal/wal-scan.js';
import { surveyPastDamage } from '../../wal/wal-survey.js';
import { BLOB_TABLE } from '../data/blob-table.js';
import { decodeCatalog, type StoredTable } from '../data/catalog.js';
import { SLOT_FLAG_CLEAN } from '../durability/checkpoint.js';
import { Database } from '../database.js';
import { codecFor, DATA_FILE, PLAIN, type TxnRange } from '../durability/open-shard.js';
import { resolveDatabaseOptions, type DatabaseOptions, type ResolvedDatabaseOptions } from '../options.js';
import type { WriteTxn } from '../txn/write-txn.js';
import { isReservedTableName } from '../validate.js';

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
  /**
   * 'clean': nothing to do; 'repaired': salvaged into a fresh shard; 'unrecoverable': neither a
   * checkpoint nor a WAL reaching back to the store's creation could be read, so repair refused and
   * left the shard untouched (restore it from a backup; `problems` says why).
   */
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
  /** The transactions replayed from the WAL into the repaired shard (null: none). */
  replayedTxns: TxnRange | null;
  /** True when no checkpoint could be read and the shard was rebuilt from the whole WAL since creation. */
  rebuiltFromWal: boolean;
  /**
   * Acknowledged commits that could not be brought back: the damaged record and every commit after
   * it (WAL records past damage cannot be applied without breaking transaction order). 0 only when
   * no commit was lost; a torn tail (a crash mid-append, never acknowledged) is not a loss.
   */
  lostCommits: number;
  /** Their transaction ids (null when none were lost). */
  lostTxns: TxnRange | null;
  /** Of the lost commits, records still intact on disk past the damage (kept in `damagedDir`). */
  intactRecordsPastDamage: number;
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
export function repairShard(dir: string, options: DatabaseOptions | ResolvedDatabaseOptions): ShardRepairReport {
  const report: ShardRepairReport = {
    dir,
    status: 'clean',
    problems: [],
    recoveredEntries: 0,
    recoveredByScan: 0,
    lostRanges: [],
    lostValues: [],
    walCommitsReplayed: 0,
    replayedTxns: null,
    rebuiltFromWal: false,
    lostCommits: 0,
    lostTxns: null,
    intactRecordsPastDamage: 0,
    walDamage: null,
    damagedDir: null,
    verifiedClean: true,
  };
  if (!fs.existsSync(path.join(dir, DATA_FILE))) return report;
  const resolved = resolveDatabaseOptions(options);
  try {
    const db = Database.openResolved(dir, resolved);
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
  salvage(dir, resolved, report);
  return report;
}

function salvage(dir: string, resolved: ResolvedDatabaseOptions, report: ShardRepairReport): void {
  const lock = DirLock.acquire(dir);
  const fresh = `${dir}.repairing`;
  let file: PageFile | null = null;
  let target: Database | null = null;
  let refusal: string | null = null;
  let finished = false;
  try {
    fs.rmSync(fresh, { recursive: true, force: true });
    file = PageFile.open(resolved.io, path.join(dir, DATA_FILE), PLAIN, 0, true);
    const chosen = chooseCheckpoint(dir, file, resolved, report);
    const fromCreation = chosen ? null : walFromCreation(dir, file, resolved);
    if (!chosen && typeof fromCreation === 'string') {
      refusal = fromCreation;
    } else {
      // Durability comes from syncing the whole fresh directory before it replaces the damaged one.
      target = Database.openResolved(fresh, { ...resolved, checkpointIntervalMs: 0, durability: 'none', compactOnClose: false });
      if (chosen) {
        const store = new NodeStore(file, new NodeCache(new CacheBudget(64 << 20)));
        const copier = new Copier(target, store, report);
        copier.copyAll(chosen.tables, freeExtents(file, chosen.slot));
        replayWal(dir, walStart(chosen.slot), resolved.io, file.codec, target, report);
      } else if (fromCreation && typeof fromCreation !== 'string') {
        report.rebuiltFromWal = true;
        report.problems.push('no checkpoint could be read; the shard was rebuilt from its WAL, which reaches back to its creation');
        replayWal(dir, fromCreation.start, resolved.io, fromCreation.codec, target, report);
      }
      target.close();
      target = null;
      syncTree(fresh);
      finished = true;
    }
  } catch (err) {
    // Damage found while salvaging is reported, never thrown; anything else (keys, IO) is the caller's.
    if (!(err instanceof CorruptionError)) throw err;
    refusal = `salvage failed: ${err.message}`;
  } finally {
    try {
      target?.close();
    } catch {
      // The fresh copy is discarded below when salvage did not finish.
    }
    file?.close();
    lock.unlock();
    if (!finished) fs.rmSync(fresh, { recursive: true, force: true });
  }
  if (refusal !== null) {
    report.status = 'unrecoverable';
    report.verifiedClean = false;
    report.problems.push(`repair refused, the shard was left as it was: ${refusal}; restore it from a backup`);
    return;
  }
  report.status = 'repaired';
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
  const check = Database.openResolved(dir, resolved);
  try {
    report.verifiedClean = check.verify().ok;
  } finally {
    check.close();
  }
}

/** fsyncs every file below `dir`, then the directories, so the fresh shard is durable before it is named. */
function syncTree(dir: string): void {
  for (const entry of fs.readdirSync(dir, { recursive: true, withFileTypes: true })) {
    const p = path.join(entry.parentPath ?? dir, entry.name);
    const fd = fs.openSync(p, 'r');
    try {
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
  }
  const fd = fs.openSync(dir, 'r');
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

function walStart(slot: HeaderSlot): WalScanStart {
  return {
    databaseId: slot.databaseId,
    position: { segment: slot.walSegment, offset: slot.walOffset },
    firstTxn: slot.checkpointTxn + 1,
    mayBeAbsent: (slot.flags & SLOT_FLAG_CLEAN) !== 0,
  };
}

/**
 * Where to replay from when no checkpoint can be read: the start of WAL segment 1, if it still exists
 * and its first record is txn 1 (nothing has ever been cut from the log), with a codec to read it. A
 * string says why the log cannot stand in for the page file.
 */
function walFromCreation(dir: string, file: PageFile, options: ResolvedDatabaseOptions): { start: WalScanStart; codec: PageCodec } | string {
  const walDir = path.join(dir, WAL_DIR);
  const segments = listSegments(options.io, walDir);
  if (segments[0] !== 1) return `no header slot or catalog can be read, and the WAL no longer reaches back to the store's creation (its oldest segment is ${segments[0] ?? 'missing'})`;
  const first = path.join(walDir, segmentFileName(1));
  const bytes = fs.readFileSync(first);
  const h = decodeSegmentHeader(bytes.subarray(0, 64));
  if (typeof h === 'string') return `no header slot or catalog can be read, and WAL segment 1 has a bad header (${h})`;
  const rec = bytes.length >= SEGMENT_HEADER_SIZE + RECORD_HEADER_SIZE ? decodeRecordHeader(bytes, SEGMENT_HEADER_SIZE) : null;
  const whole = rec && SEGMENT_HEADER_SIZE + RECORD_HEADER_SIZE + rec.storedLength <= bytes.length ? bytes.subarray(SEGMENT_HEADER_SIZE, SEGMENT_HEADER_SIZE + RECORD_HEADER_SIZE + rec.storedLength) : null;
  if (!rec || !whole || !recordChecksumValid(whole, 1) || rec.txn !== 1) {
    return "no header slot or catalog can be read, and the WAL does not start at the store's first commit (a checkpoint or a restore came before it)";
  }
  // A slot that is valid (its catalog is what failed) still carries the key ring.
  let codec: PageCodec;
  const valid = [file.readSlot(0), file.readSlot(1)].flatMap((r) => (r.state === 'valid' ? [r.slot] : []));
  const slot = valid.find((s) => s.databaseId === h.databaseId);
  if (slot) codec = codecFor(dir, slot, options).codec;
  else if (options.encryption) return 'no header slot can be read, and the key ring of an encrypted store is kept only there, so its WAL cannot be authenticated';
  else codec = new StoreCodec(options.compression, options.compressionLevel, null);
  return { start: { databaseId: h.databaseId, position: { segment: 1, offset: SEGMENT_HEADER_SIZE }, firstTxn: 1, mayBeAbsent: false }, codec };
}

/** The newest slot whose catalog decodes, with its tables; null when none does. */
function chooseCheckpoint(
  dir: string,
  file: PageFile,
  options: ResolvedDatabaseOptions,
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
    const lost = this.walkAndScan(tables.filter((t) => !isReservedTableName(t.name)), free);
    for (const range of lost) this.report.lostRanges.push(range);
    this.flush();
  }

  private walkAndScan(tables: StoredTable[], free: { offset: number; length: number }[] | null): LostRange[] {
    const lost: LostRange[] = [];
    const depthOf = new Map<LostRange, number>();
    const leafDepth = new Map<string, number>();
    for (const t of tables) if (t.root) this.walk(t.name, t.root, null, null, lost, 0, depthOf, leafDepth);
    // A B+tree's leaves all sit at one depth, so a lost node at that depth was a leaf: nothing valid
    // lies below it, and its (possibly unbounded) range must not compete for the leaves a lost
    // branch left behind.
    const branches = lost.filter((r) => leafDepth.get(r.table) !== depthOf.get(r));
    if (branches.length > 0 && free) this.scanFor(branches, free);
    return lost;
  }

  private walk(
    table: string,
    ref: BlockRef,
    lo: Uint8Array | null,
    hi: Uint8Array | null,
    lost: LostRange[],
    depth: number,
    depthOf: Map<LostRange, number>,
    leafDepth: Map<string, number>,
  ): void {
    let node;
    try {
      node = this.store.readNode(ref);
    } catch (err) {
      const range = { table, from: lo && hex(lo), to: hi && hex(hi), reason: `node at ${ref.offset}: ${(err as Error).message}` };
      lost.push(range);
      depthOf.set(range, depth);
      return;
    }
    this.visited.add(ref.offset);
    if (node.isLeaf) {
      leafDepth.set(table, depth);
      this.takeLeaf(table, node, lo, hi);
      return;
    }
    for (let i = 0; i < node.refs.length; i++) {
      this.walk(table, node.refs.get(i)!, i === 0 ? lo : sepAt(node, i - 1), i === node.sepCount ? hi : sepAt(node, i), lost, depth + 1, depthOf, leafDepth);
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

/**
 * Replays the WAL from `start` into the fresh shard up to the first damage, then counts what lies
 * past the damage: the damaged commit and every later one are lost, and said to be.
 */
function replayWal(dir: string, start: WalScanStart, io: FileIO, codec: PageCodec, target: Database, report: ShardRepairReport): void {
  const walDir = path.join(dir, WAL_DIR);
  const scan = scanWal(
    io,
    walDir,
    start,
    codec,
    (txn, payload, at) => {
      const ops = decodeCommit(payload);
      if (typeof ops === 'string') throw new CorruptionError(path.join(walDir, segmentFileName(at.segment)), at.offset, ops);
      applyRecord(target, ops, txn, walDir, at);
      report.walCommitsReplayed++;
      report.replayedTxns = { first: report.replayedTxns?.first ?? txn, last: txn };
    },
    undefined,
    { stopAtDamage: true },
  );
  const damage = scan.damage;
  if (!damage) return;
  report.walDamage = damage.reason;
  const survey = surveyPastDamage(walDir, damage, io);
  // A damaged record inside the valid log was a commit; a bad or missing segment may have held none.
  const last = Math.max(survey.lastTxn ?? damage.txn - 1, damage.kind === 'record' ? damage.txn : damage.txn - 1);
  if (last < damage.txn) return;
  report.lostCommits = last - damage.txn + 1;
  report.lostTxns = { first: damage.txn, last };
  report.intactRecordsPastDamage = survey.intactRecords;
}

/** Applies one replayed commit; one the fresh shard cannot take (a blob lost with the page file) is damage. */
function applyRecord(target: Database, ops: DecodedOp[], txn: number, walDir: string, at: { segment: number; offset: number }): void {
  try {
    target.write((tx) => {
      for (const op of ops) (tx as WriteTxn).applyDecoded(op);
    });
  } catch (err) {
    if (err instanceof CorruptionError) throw new CorruptionError(path.join(walDir, segmentFileName(at.segment)), at.offset, `commit ${txn} cannot be applied: ${err.message}`);
    throw err;
  }
}

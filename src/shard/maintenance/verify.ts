/**
 * verify(): reads everything the newest checkpoint and the WAL hold, from disk (not the cache), and
 * reports every problem rather than stopping at the first:
 * - both header slots decode and checksum;
 * - every block reachable from the checkpoint checksums, decodes, and is the block its parent names;
 * - keys ascend within nodes and respect their parents' separators; all leaves sit at one depth; each
 *   table holds as many entries as the catalog says;
 * - the header, reachable blocks and free extents tile the file exactly (nothing leaked, nothing
 *   owned twice);
 * - every WAL record from the checkpoint to the last commit checksums, decodes and is in sequence;
 * - every deduplicated blob still hashes to its key, and its count equals the references to it;
 * - everything recovery could fall back on: the other header slot's checkpoint (its catalog, every
 *   block its trees reach, its freelist) and the WAL from *its* position, which starts before the
 *   newest checkpoint.
 * Damage never makes it throw: every problem becomes an issue, and what can still be checked is.
 */
import path from 'node:path';
import { CorruptionError } from '../../errors.js';
import { sepAt } from '../../btree/branch.js';
import { blobHashAt, inlineValueAt, keyAt, valueLengthAt, valueRefAt, valueTagAt } from '../../btree/leaf.js';
import { blake3 } from '../../blob/blake3.js';
import { BLOB_REFS_TABLE, BLOB_TABLE, decodeRefCount } from '../data/blob-table.js';
import { BranchNode, ValueTag, type Node } from '../../btree/node.js';
import { compareBytes } from '../../util/bytes.js';
import type { Extent } from '../../pagefile/allocator.js';
import { decodeFreelist } from '../../pagefile/freelist-codec.js';
import { BlockKind, HEADER_SIZE, type BlockRef } from '../../pagefile/layout.js';
import { decodeCommit, Op } from '../../wal/commit-payload.js';
import { segmentFileName } from '../../wal/segment-format.js';
import { scanWal } from '../../wal/wal-scan.js';
import { decodeCatalog } from '../data/catalog.js';
import { SLOT_FLAG_CLEAN } from '../durability/checkpoint.js';
import type { ShardCore } from '../core.js';
import type { HeaderSlot } from '../../pagefile/header-slot.js';
import { isReservedTableName } from '../validate.js';

/** One problem verify found. */
export interface VerifyIssue {
  /** What part of the store: 'header', 'block', 'tree', 'space', 'wal' or 'blob' (deduplicated values). */
  area: 'header' | 'block' | 'tree' | 'space' | 'wal' | 'blob';
  file: string;
  offset: number;
  message: string;
}

/** The result of verify(): `ok` when no issue was found. */
export interface VerifyReport {
  ok: boolean;
  issues: VerifyIssue[];
  checked: { blocks: number; bytes: number; tables: number; entries: number; walRecords: number };
  durationMs: number;
}

interface Owned extends Extent {
  what: string;
}

class Verifier {
  readonly issues: VerifyIssue[] = [];
  readonly owned: Owned[] = [];
  blocks = 0;
  bytes = 0;
  entries = 0;
  /** Deduplication bookkeeping: references seen, blobs present, counts recorded. */
  readonly blobRefs = new Map<string, number>();
  readonly blobs = new Set<string>();
  readonly refCounts = new Map<string, number>();
  /**
   * References the newest checkpoint's fold released, logged in the WAL rather than stored (WAL op
   * 7; durability/checkpoint.ts): that checkpoint's counts are too high by these until replay.
   */
  readonly pendingReleases = new Map<string, number>();

  constructor(
    private readonly core: ShardCore,
    /**
     * Offer every node read to the node cache: for the newest checkpoint only, whose blocks the live
     * trees reach or nothing does (the fallback's may be reused by the next checkpoint). A verify at
     * open then leaves the cache as warm as the first reads would have made it, at no extra read.
     */
    private readonly warmCache = false,
  ) {}

  issue(area: VerifyIssue['area'], file: string, offset: number, message: string): void {
    this.issues.push({ area, file, offset, message });
  }

  private own(ref: BlockRef, what: string): void {
    this.owned.push({ offset: ref.offset, length: ref.length, what });
    this.blocks++;
    this.bytes += ref.length;
  }

  /** Reads a non-node block, recording it; null (with an issue) when it is bad. */
  readBlock(ref: BlockRef, kind: number, what: string): Uint8Array | null {
    this.own(ref, what);
    try {
      return this.core.file.readBlock(ref, kind).payload;
    } catch (err) {
      this.recordError(err, ref.offset);
      return null;
    }
  }

  recordError(err: unknown, offset: number): void {
    if (err instanceof CorruptionError) this.issue('block', err.file, err.offset, err.message);
    else this.issue('block', this.core.file.path, offset, (err as Error).message);
  }

  /** Walks a stored subtree; returns its leaf depth (or -1 when unreadable). */
  walk(ref: BlockRef, lo: Uint8Array | null, hi: Uint8Array | null, table: string): number {
    this.own(ref, `node of table ${table}`);
    let node: Node;
    try {
      node = this.core.store.readNode(ref);
      if (this.warmCache) this.core.store.cache.offer(ref.offset, node);
    } catch (err) {
      this.recordError(err, ref.offset);
      return -1;
    }
    const file = this.core.file.path;
    const n = node.isLeaf ? node.count : node.sepCount;
    const keyOf = (i: number): Uint8Array => (node.isLeaf ? keyAt(node, i) : sepAt(node, i));
    if (n > 0) {
      if (lo && compareBytes(keyOf(0), lo) < 0) this.issue('tree', file, ref.offset, `table ${table}: a key sorts before its parent's lower separator`);
      if (hi && compareBytes(keyOf(n - 1), hi) >= 0) this.issue('tree', file, ref.offset, `table ${table}: a key sorts at or after its parent's upper separator`);
    }
    if (!(node instanceof BranchNode)) {
      if (n === 0 && (lo || hi)) this.issue('tree', file, ref.offset, `table ${table}: empty leaf below a branch`);
      this.entries += n;
      for (let i = 0; i < n; i++) {
        const tag = valueTagAt(node, i);
        let value: Uint8Array | null = null;
        if (tag === ValueTag.OutOfLine) {
          const vref = valueRefAt(node, i)!;
          const length = valueLengthAt(node, i);
          value = this.readBlock(vref, BlockKind.Value, `value of table ${table}`);
          if (value && value.length !== length) this.issue('block', file, vref.offset, `value block holds ${value.length} bytes, its leaf says ${length}`);
        } else if (tag === ValueTag.Inline) {
          value = inlineValueAt(node, i);
        } else if (isReservedTableName(table)) {
          this.issue('blob', file, ref.offset, `engine table ${table} holds a blob reference`);
        } else {
          const h = Buffer.from(blobHashAt(node, i)).toString('hex');
          this.blobRefs.set(h, (this.blobRefs.get(h) ?? 0) + 1);
        }
        if (value && table === BLOB_TABLE) {
          const h = Buffer.from(keyAt(node, i)).toString('hex');
          this.blobs.add(h);
          if (Buffer.from(blake3(value)).toString('hex') !== h) this.issue('blob', file, ref.offset, `blob ${h} does not hash to its key (its bytes changed)`);
        } else if (value && table === BLOB_REFS_TABLE) {
          this.refCounts.set(Buffer.from(keyAt(node, i)).toString('hex'), decodeRefCount(value));
        }
      }
      return 0;
    }
    let depth = -2;
    for (let i = 0; i < node.refs.length; i++) {
      const d = this.walk(node.refs.get(i)!, i === 0 ? lo : keyOf(i - 1), i === n ? hi : keyOf(i), table);
      if (d < 0) continue;
      if (depth === -2) depth = d;
      else if (d !== depth) this.issue('tree', file, ref.offset, `table ${table}: leaves at different depths below this branch`);
    }
    return depth < 0 ? -1 : depth + 1;
  }
}

/** `prior`: problems the caller met before (a fold that read damaged blocks), reported first. */
export function verifyShard(core: ShardCore, prior: VerifyIssue[] = []): VerifyReport {
  const started = performance.now();
  const v = new Verifier(core, true);
  v.issues.push(...prior);
  const file = core.file.path;
  for (const index of [0, 1] as const) {
    const r = core.file.readSlot(index);
    if (r.state !== 'valid') v.issue('header', file, index * 4096, `header slot ${index}: ${r.state === 'invalid' ? r.reason : r.state === 'unsupported' ? `format version ${r.version}` : 'empty'}`);
    else if (index === core.slots.activeIndex && r.slot.seq !== core.slots.active.seq) {
      v.issue('header', file, index * 4096, `header slot ${index} holds seq ${r.slot.seq}, but the open database wrote seq ${core.slots.active.seq}`);
    }
  }
  const slot = core.slots.active;
  let tables = 0;
  if (slot.catalog) {
    const payload = v.readBlock(slot.catalog, BlockKind.Catalog, 'catalog');
    const entries = payload ? decodeCatalog(payload) : null;
    if (typeof entries === 'string') v.issue('block', file, slot.catalog.offset, entries);
    else if (entries) {
      for (const t of entries) {
        tables++;
        const before = v.entries;
        if (t.root) v.walk(t.root, null, null, t.name);
        if (v.entries - before !== t.count) v.issue('tree', file, t.root?.offset ?? slot.catalog.offset, `table ${t.name} holds ${v.entries - before} entries, the catalog says ${t.count}`);
      }
    }
  }
  if (slot.freelist) {
    const payload = v.readBlock(slot.freelist, BlockKind.Freelist, 'freelist');
    if (payload) {
      const extents = decodeFreelist(payload, slot.fileEnd);
      if (typeof extents === 'string') v.issue('block', file, slot.freelist.offset, extents);
      else for (const e of extents) v.owned.push({ ...e, what: 'free space' });
    }
  }
  // The WAL first: it may hold the references the newest checkpoint's fold released (see checkBlobs).
  const walRecords = checkWal(core, v);
  checkBlobs(v, file);
  checkTiling(v, file, slot.fileEnd, core.file.size());
  checkFallback(core, v);
  return {
    ok: v.issues.length === 0,
    issues: v.issues,
    checked: { blocks: v.blocks, bytes: v.bytes, tables, entries: v.entries, walRecords },
    durationMs: performance.now() - started,
  };
}

/** Every referenced blob exists, and every blob's recorded count equals the references to it. */
function checkBlobs(v: Verifier, file: string): void {
  const hashes = new Set([...v.blobRefs.keys(), ...v.blobs, ...v.refCounts.keys()]);
  for (const h of hashes) {
    const refs = v.blobRefs.get(h) ?? 0;
    const released = v.pendingReleases.get(h) ?? 0;
    const counted = (v.refCounts.get(h) ?? 0) - released;
    if (refs > 0 && !v.blobs.has(h)) v.issue('blob', file, 0, `blob ${h} is referenced ${refs} times but missing`);
    if (refs !== counted) v.issue('blob', file, 0, `blob ${h} is referenced ${refs} times but its count says ${counted}`);
    // A blob whose last references the fold released goes when the release is replayed.
    if (refs === 0 && v.blobs.has(h) && released === 0) v.issue('blob', file, 0, `blob ${h} is stored but nothing references it (leaked)`);
  }
}

/** The header, owned blocks and free extents must cover [0, fileEnd) exactly once. */
function checkTiling(v: Verifier, file: string, fileEnd: number, fileSize: number): void {
  if (fileSize < fileEnd) v.issue('space', file, fileSize, `the file is ${fileSize} bytes but its checkpoint covers ${fileEnd}`);
  const all = [{ offset: 0, length: HEADER_SIZE, what: 'header slots' }, ...v.owned].sort((a, b) => a.offset - b.offset);
  let end = 0;
  let prev = all[0]!;
  for (const e of all) {
    if (e.offset < end) v.issue('space', file, e.offset, `${e.what} overlaps ${prev.what} (doubly owned bytes)`);
    else if (e.offset > end) v.issue('space', file, end, `${e.offset - end} bytes belong to no block and are not free (leaked)`);
    if (e.offset + e.length > end) {
      end = e.offset + e.length;
      prev = e;
    }
  }
  if (end < fileEnd) v.issue('space', file, end, `${fileEnd - end} bytes at the end of the file belong to no block and are not free (leaked)`);
  if (end > fileEnd) v.issue('space', file, fileEnd, `blocks extend past the checkpoint's file end`);
}

/**
 * The other header slot's checkpoint is what open falls back on when the newest does not load, so
 * every block it reaches must be readable too. Its blocks are outside the newest checkpoint's tiling
 * (the newest freelist lists them as reusable by the *next* checkpoint), so only their contents are
 * checked, not space accounting or blob counts. Only while they are known intact (core.fallbackIntact):
 * after a crash in the middle of a checkpoint they may have been reused, legitimately.
 */
function checkFallback(core: ShardCore, main: Verifier): void {
  const other = core.slots.other;
  const active = core.slots.active;
  if (!other || !core.fallbackIntact) return;
  if (other.catalog?.offset === active.catalog?.offset && other.freelist?.offset === active.freelist?.offset) return;
  const v = new Verifier(core);
  const file = core.file.path;
  const label = `fallback checkpoint ${other.checkpointTxn}`;
  if (other.catalog) {
    const payload = v.readBlock(other.catalog, BlockKind.Catalog, `catalog of the ${label}`);
    const entries = payload ? decodeCatalog(payload) : null;
    if (typeof entries === 'string') v.issue('block', file, other.catalog.offset, entries);
    else if (entries) {
      for (const t of entries) {
        const before = v.entries;
        if (t.root) v.walk(t.root, null, null, t.name);
        if (v.entries - before !== t.count) v.issue('tree', file, t.root?.offset ?? other.catalog.offset, `table ${t.name} holds ${v.entries - before} entries, the catalog says ${t.count}`);
      }
    }
  }
  if (other.freelist) {
    const payload = v.readBlock(other.freelist, BlockKind.Freelist, `freelist of the ${label}`);
    if (payload) {
      const extents = decodeFreelist(payload, other.fileEnd);
      if (typeof extents === 'string') v.issue('block', file, other.freelist.offset, extents);
    }
  }
  if (core.file.size() < other.fileEnd) v.issue('space', file, core.file.size(), `the file is ${core.file.size()} bytes but the ${label} covers ${other.fileEnd}`);
  // Blob reference counts of the older trees were checked when they were newest; only their bytes matter now.
  for (const i of v.issues) main.issue(i.area, i.file, i.offset, `${label}: ${i.message}`);
  main.blocks += v.blocks;
  main.bytes += v.bytes;
}

/**
 * The slot whose WAL position comes first: replay after a fallback would start there. Only a fallback
 * known intact counts: one left by an interrupted checkpoint or close may name WAL the newest slot no
 * longer needs (a clean slot says the log is not needed, and the next segment's header then names no
 * predecessor).
 */
function oldestWalStart(core: ShardCore): HeaderSlot {
  const a = core.slots.active;
  const o = core.slots.other;
  if (!o || !core.fallbackIntact) return a;
  return o.walSegment < a.walSegment || (o.walSegment === a.walSegment && o.walOffset < a.walOffset) ? o : a;
}

function checkWal(core: ShardCore, v: Verifier): number {
  const slot = oldestWalStart(core);
  try {
    const result = scanWal(
      core.io,
      core.walDir,
      {
        databaseId: core.databaseId,
        position: { segment: slot.walSegment, offset: slot.walOffset },
        firstTxn: slot.checkpointTxn + 1,
        mayBeAbsent: (slot.flags & SLOT_FLAG_CLEAN) !== 0,
      },
      core.codec,
      (_txn, payload, at) => {
        const ops = decodeCommit(payload);
        if (typeof ops === 'string') {
          v.issue('wal', path.join(core.walDir, segmentFileName(at.segment)), at.offset, ops);
          return;
        }
        for (const op of ops) {
          if (op.op !== Op.FoldReleases || op.checkpointTxn !== core.slots.active.checkpointTxn) continue;
          for (const r of op.releases) {
            const h = Buffer.from(r.hash).toString('hex');
            v.pendingReleases.set(h, (v.pendingReleases.get(h) ?? 0) + r.count);
          }
        }
      },
      core.wal.position,
    );
    if (result.lastTxn !== core.wal.appendedTxn) {
      v.issue('wal', core.walDir, 0, `the WAL holds commits up to txn ${result.lastTxn}, but commits up to ${core.wal.appendedTxn} were written`);
    }
    return result.records;
  } catch (err) {
    if (err instanceof CorruptionError) v.issue('wal', err.file, err.offset, err.message);
    else v.issue('wal', core.walDir, 0, (err as Error).message);
    return 0;
  }
}

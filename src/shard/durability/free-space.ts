/**
 * When a freed block may be written over. A block dropped from the tree by transaction T stays
 * readable until both:
 *   1. a durable checkpoint at or after T exists, so the newest header slot no longer reaches it
 *      (the older slot may: it is the fallback only while a checkpoint writes the newer one, and
 *      blocks are reused only by the checkpoint that replaces it), and
 *   2. no open snapshot is older than T.
 * Until then the block waits in `pending`. Blocks of transactions that were rolled back never get
 * here: the database hands frees over only once their transaction is durable.
 *
 * The two conditions can name different txns. A fold (or a checkpoint retiring the previous
 * catalog and freelist) drops blocks without a new txn: the version it replaces has the same txn,
 * so snapshots at that txn may still reach them (condition 2 waits for txn + 1), while the
 * checkpoint written at that txn is written from the folded tree and does not (condition 1 is met
 * by it). Waiting for a checkpoint past txn + 1 instead kept every fold's blocks pending through one
 * more checkpoint: with random keys, where each fold replaces most of the tree, the page file grew
 * to about three times the live data instead of two.
 */
import { ExtentAllocator, type Extent } from '../../pagefile/allocator.js';
import { ExtentList } from '../../pagefile/extent-list.js';

export class FreeSpace {
  /** In order of `txn`, then of `checkpointTxn` (both rise along the list). */
  private pending: { txn: number; checkpointTxn: number; extents: ExtentList }[] = [];
  private pendingTotal = 0;
  /**
   * Extents written by a checkpoint that failed after it may have written its header slot: that
   * slot could be valid on disk, so they stay untouched until a later checkpoint has overwritten it.
   */
  private quarantined = new ExtentList();

  constructor(readonly allocator: ExtentAllocator) {}

  /**
   * Blocks that transaction `txn` stopped referencing: snapshots older than `txn` may still read
   * them, and so may header slots of checkpoints older than `checkpointTxn` (`txn` unless a fold or
   * a checkpoint dropped them; see the top of the file).
   */
  addFreed(txn: number, extents: ExtentList | readonly Extent[], checkpointTxn = txn): void {
    if (extents.length === 0) return;
    let i = this.pending.length;
    while (i > 0 && (this.pending[i - 1]!.txn > txn || (this.pending[i - 1]!.txn === txn && this.pending[i - 1]!.checkpointTxn > checkpointTxn))) i--;
    let at = this.pending[i - 1];
    if (!at || at.txn !== txn || at.checkpointTxn !== checkpointTxn) {
      at = { txn, checkpointTxn, extents: new ExtentList() };
      this.pending.splice(i, 0, at);
    }
    const from = at.extents.length;
    at.extents.append(extents);
    for (let j = from; j < at.extents.length; j++) this.pendingTotal += at.extents.lengthAt(j);
  }

  /** Hands every pending block that is safe to overwrite to the allocator. */
  release(durableCheckpointTxn: number, oldestReaderTxn: number): void {
    let i = 0;
    while (i < this.pending.length && this.pending[i]!.txn <= oldestReaderTxn && this.pending[i]!.checkpointTxn <= durableCheckpointTxn) {
      const extents = this.pending[i]!.extents;
      for (let j = 0; j < extents.length; j++) {
        this.allocator.free(extents.offsetAt(j), extents.lengthAt(j));
        this.pendingTotal -= extents.lengthAt(j);
      }
      i++;
    }
    if (i > 0) this.pending = this.pending.slice(i);
  }

  quarantine(extents: ExtentList): void {
    this.quarantined.append(extents);
    this.pendingTotal += extents.bytes();
  }

  /** A checkpoint at `txn` succeeded: quarantined extents wait like any other block it freed. */
  checkpointSucceeded(txn: number): void {
    const q = this.quarantined;
    this.quarantined = new ExtentList();
    this.pendingTotal -= q.bytes();
    this.addFreed(txn, q);
  }

  get pendingBytes(): number {
    return this.pendingTotal;
  }

  /**
   * The free list a checkpoint at `checkpointTxn` persists: every extent the next checkpoint may
   * overwrite after a reopen (no snapshots survive a reopen), i.e. the allocator's free extents, the
   * pending ones that checkpoint no longer reaches, and `extra`; sorted and with touching extents
   * merged. Pending extents that commits after `checkpointTxn` freed are left out: a checkpoint
   * written while commits go on (see checkpoint.ts) stores a tree that still reaches them.
   */
  persistedFreeList(extra: ExtentList | readonly Extent[], checkpointTxn = Infinity): Extent[] {
    const all = this.allocator.extents();
    for (const p of this.pending) if (p.checkpointTxn <= checkpointTxn) appendAll(all, p.extents);
    appendAll(all, this.quarantined);
    appendAll(all, extra);
    return mergedExtents(all);
  }
}

/** `extents` sorted by offset (in place), with touching ones merged into new extents. */
export function mergedExtents(extents: Extent[]): Extent[] {
  extents.sort((a, b) => a.offset - b.offset);
  const out: Extent[] = [];
  for (const e of extents) {
    const last = out[out.length - 1];
    if (last && last.offset + last.length === e.offset) last.length += e.length;
    else out.push({ offset: e.offset, length: e.length });
  }
  return out;
}

/**
 * `to.push(...from)` without the spread: a spread passes every element as an argument, and a free
 * list of a few hundred thousand extents (a large table rewritten by random keys) overflowed the
 * stack, which failed every checkpoint from then on.
 */
function appendAll(to: Extent[], from: ExtentList | readonly Extent[]): void {
  if (from instanceof ExtentList) for (let i = 0; i < from.length; i++) to.push({ offset: from.offsetAt(i), length: from.lengthAt(i) });
  else for (const x of from) to.push(x);
}

/**
 * Folding: moving every memtable of the latest version into its tree, which a checkpoint, a
 * compaction, a snapshot copy and verify do first (they work on trees alone). The folded version has
 * the same txn and the same contents; readers holding the version before it keep its memtables and
 * roots, whose blocks stay theirs (see the freed txn below).
 */
import { txSettings, type ShardCore } from '../core.js';
import type { Version } from '../data/version.js';
import { WriteTxn } from './write-txn.js';

/** Fold ids: negative and never reused, so no fold takes another's nodes for its own. */
let folds = 0;

/** A new fold id (see {@link WriteTxn.fold}). */
export function nextFoldId(): number {
  return -++folds;
}

/** Whether any table of `v` has a memtable. */
export function hasMemtables(v: Version): boolean {
  for (const t of v.tables.values()) if (t.mem) return true;
  return false;
}

/** Bytes held by the memtables of `v`. */
export function memtableBytes(v: Version): number {
  let n = 0;
  for (const t of v.tables.values()) if (t.mem) n += t.mem.bytes;
  return n;
}

/** Folds the memtables of the latest version, which must be durable, into its trees. */
export function foldMemtables(core: ShardCore): void {
  const v = core.latest;
  if (!hasMemtables(v)) return;
  if (v !== core.durable) throw new Error('internal: memtables are folded only when every commit is durable');
  const tx = new WriteTxn(v, nextFoldId(), txSettings(core), null);
  const folded = tx.fold(core.readers.newest());
  core.latest = folded;
  core.durable = folded;
  // Readers of the version before the fold (at the same txn) still reach the blocks it dropped; a
  // checkpoint at v.txn is written from the folded tree and does not.
  core.space.addFreed(v.txn + 1, tx.freed, v.txn);
}

/**
 * A committed state of the shard: the transaction id that produced it, every table's root, and the
 * node store (page file) its stored nodes live in. Versions are immutable; a snapshot is a version
 * plus registration, so that blocks it can reach are not reused while it is open.
 */
import type { NodeStore } from '../../btree/node-store.js';
import type { TableState } from './catalog.js';

export class Version {
  constructor(
    readonly txn: number,
    readonly tables: ReadonlyMap<string, TableState>,
    readonly store: NodeStore,
  ) {}
}

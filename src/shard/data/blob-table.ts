/**
 * Deduplicated values. A value of at least `dedupThreshold` bytes is stored once, in the internal
 * table `__blobs` under its BLAKE3 hash; a leaf holding it keeps only the hash (value tag 2). The
 * table `__blobrefs` counts the leaf entries naming each hash (u64 LE); when the count reaches zero
 * both entries go, and the blob's blocks are freed like any other. Both tables change inside the
 * same transaction as the entries that name them, so counts are exact after any crash.
 *
 * Reads resolve a hash through `__blobs` of the same version, so a snapshot sees the blobs of its
 * own moment.
 */
import { CorruptionError } from '../../errors.js';
import { blobHashAt, leafFind } from '../../btree/leaf.js';
import type { NodeStore } from '../../btree/node-store.js';
import { ValueTag, type LeafNode } from '../../btree/node.js';
import { findLeaf } from '../../btree/search.js';
import { valueTagAt } from '../../btree/leaf.js';
import type { TableState } from './catalog.js';

export const BLOB_TABLE = '__blobs';
export const BLOB_REFS_TABLE = '__blobrefs';

/** Entry i's value bytes (a view to copy before the leaf can change), resolving blob references. */
export function valueOf(leaf: LeafNode, i: number, store: NodeStore, tables: ReadonlyMap<string, TableState>): Uint8Array {
  if (valueTagAt(leaf, i) !== ValueTag.Blob) return store.valueAt(leaf, i);
  return blobBytes(blobHashAt(leaf, i), store, tables, leaf.ref?.offset ?? 0);
}

/**
 * The bytes of the blob named `hash` in the blob table of `tables` (a view to copy). Throws
 * CorruptionError, blaming the block at `referrer`, when the table does not hold it.
 */
export function blobBytes(hash: Uint8Array, store: NodeStore, tables: ReadonlyMap<string, TableState>, referrer = 0): Uint8Array {
  const root = tables.get(BLOB_TABLE)?.root;
  const blobLeaf = root ? findLeaf(root, hash, store) : null;
  const at = blobLeaf ? leafFind(blobLeaf, hash) : -1;
  if (!blobLeaf || at < 0) {
    throw new CorruptionError(store.file.path, referrer, `value refers to blob ${Buffer.from(hash).toString('hex')}, which the blob table does not hold`);
  }
  return store.valueAt(blobLeaf, at);
}

export function encodeRefCount(n: number): Uint8Array {
  const b = Buffer.alloc(8);
  b.writeUIntLE(n, 0, 6);
  return b;
}

export function decodeRefCount(b: Uint8Array | undefined): number {
  return b && b.length === 8 ? Buffer.from(b.buffer, b.byteOffset, 8).readUIntLE(0, 6) : 0;
}

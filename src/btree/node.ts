/**
 * In-memory B+tree nodes, stored packed: a node's keys (and a leaf's values) live in one contiguous
 * byte buffer in exactly the on-disk payload format (node-codec.ts), indexed by an Int32Array of
 * entry offsets. A lookup therefore touches one buffer per level instead of one object per key,
 * which is what makes point reads fast, and a clean node needs no re-encoding to be written.
 *
 * Invariants:
 * - A node is immutable once the transaction that created it has committed: snapshots share nodes
 *   freely, and a writer copies a node (copy-on-write) before changing it unless its own transaction
 *   created it (`txn` equals the writer's id); then it may change the buffers in place.
 * - Leaf keys are strictly ascending (bytewise). A branch with n children has n-1 separators; every
 *   key in child i is >= separator i-1 and < separator i. Every leaf is at the same depth.
 * - `ref` is set once the node is stored in a block; a node without `ref` is dirty (lives only in
 *   memory and in the WAL) and its parent holds it in `kids` until a checkpoint stores it.
 * - A branch child is reachable through `kids[i]` (in memory) or `refs[i]` (on disk), at least one.
 *   In a stored branch, `kids` only caches what `refs` name (readers fill it as they descend).
 * - Nobody keeps a view into the buffers of a node a transaction still owns (they move in place).
 */
import type { BlockRef } from '../pagefile/layout.js';
import type { BlockRefList } from '../pagefile/block-ref-list.js';
import { BLOCK_REF_SIZE } from '../pagefile/layout.js';

/** A value too large to keep inside a leaf, not yet stored in its own block. */
export class OutOfLineValue {
  constructor(
    /** The bytes, held until a checkpoint stores them. */
    readonly data: Uint8Array,
  ) {}
}

/** A deduplicated value: stored once in the blob table under its BLAKE3 hash. */
export class BlobValue {
  constructor(
    readonly hash: Uint8Array,
    /** Length of the value the hash stands for. */
    readonly length: number,
    /**
     * Bytes this reference brought into memory until a checkpoint stores them: the blob's length
     * when the write that made it also added the blob, 0 when it named a blob already held.
     */
    readonly held = 0,
  ) {}
}

/** A value to put: inline bytes, a large value to store out of line, or a blob reference. */
export type LeafValue = Uint8Array | OutOfLineValue | BlobValue;

/** Leaf value tags (the byte after the key). */
export const ValueTag = { Inline: 0, OutOfLine: 1, Blob: 2 } as const;

/** Bytes a leaf entry spends on a blob reference (its BLAKE3 hash). */
export const BLOB_HASH_SIZE = 32;

/** Bytes after the tag and length for a value: the bytes, a block ref, or a blob hash. */
export function valueBodySize(value: LeafValue): number {
  // Inline values are the common case: one type check for them.
  if (value instanceof Uint8Array) return value.length;
  return value instanceof OutOfLineValue ? BLOCK_REF_SIZE : BLOB_HASH_SIZE;
}

export const LEAF_HEADER_SIZE = 2;
export const BRANCH_HEADER_SIZE = 2;

/** Encoded size of a leaf entry. */
export function leafEntrySize(keyLength: number, value: LeafValue): number {
  return 2 + keyLength + 5 + valueBodySize(value);
}

/**
 * A buffer that a leaf packer carves many leaves out of (leaf.ts). It stays alive as long as any of
 * its leaves does, so the node cache charges it whole, once, while it caches any of them.
 */
export class LeafSlab {
  /** Leaves of this slab in a node cache. */
  cached = 0;
  /** The budget charged for the slab while `cached` > 0. */
  chargedTo: { used: number } | null = null;

  constructor(readonly bytes: number) {}
}

export class LeafNode {
  readonly isLeaf = true as const;
  /** The packer slab holding `data` and `offs`, or null when they have a backing store of their own. */
  slab: LeafSlab | null = null;
  /** Set by the cache when the node is used; cleared by its eviction sweep. */
  hot = true;
  /**
   * Read-side search index (leaf.ts): the keys' common prefix length, and the 4 bytes after it of each
   * key as a big-endian u32. Built by readers on first search; any edit of the keys drops it.
   */
  probe: Uint32Array | null = null;
  probePrefix = 0;

  constructor(
    /** Bytes [0, size) are the leaf payload; the rest is spare capacity for in-place edits. */
    public data: Uint8Array,
    /** offs[i] is where entry i starts; offs[count] === size. Spare capacity beyond. */
    public offs: Int32Array,
    public count: number,
    public size: number,
    /**
     * Out-of-line values not yet stored, by entry index (their refs in `data` are zero until a
     * checkpoint stores them). Null when there are none.
     */
    public pending: (OutOfLineValue | undefined)[] | null,
    public txn: number,
    public ref: BlockRef | null,
  ) {}

  static empty(txn: number): LeafNode {
    const data = new Uint8Array(256);
    const offs = new Int32Array(16);
    offs[0] = LEAF_HEADER_SIZE;
    return new LeafNode(data, offs, 0, LEAF_HEADER_SIZE, null, txn, null);
  }
}

export class BranchNode {
  readonly isLeaf = false as const;
  hot = true;
  /**
   * Search index over the separators, built on first search (branch.ts): the length of their common
   * prefix, and for each the 4 bytes after it as a big-endian u32. Separators are never edited in
   * place, so it stays valid until they are replaced (which clears it).
   */
  probe: Uint32Array | null = null;
  probePrefix = 0;

  constructor(
    /** Separators, each as u16 length + bytes, back to back: bytes [0, sepBytes). */
    public seps: Uint8Array,
    /** sepOffs[i] is where separator i starts in `seps`; sepOffs[n] === sepBytes. */
    public sepOffs: Int32Array,
    public sepBytes: number,
    public kids: (Node | null)[],
    public refs: BlockRefList,
    public txn: number,
    public ref: BlockRef | null,
  ) {}

  /** Number of separators (children - 1). */
  get sepCount(): number {
    return this.kids.length - 1;
  }

  /** Encoded payload size. */
  get size(): number {
    return BRANCH_HEADER_SIZE + this.kids.length * BLOCK_REF_SIZE + this.sepBytes;
  }
}

export type Node = LeafNode | BranchNode;

/** Bytes of a leaf's object and bookkeeping besides its buffers. */
const LEAF_OBJECT_BYTES = 128;

/**
 * Rough bytes a decoded node holds in memory, for the cache budget: for a slab leaf, the object
 * alone (the cache charges its slab separately).
 */
export function nodeMemorySize(node: Node): number {
  if (!node.isLeaf) return node.seps.length + node.kids.length * 52 + 160;
  return node.slab ? LEAF_OBJECT_BYTES : node.data.length + node.offs.length * 8 + LEAF_OBJECT_BYTES;
}

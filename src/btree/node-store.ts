/**
 * Resolves block references to decoded nodes and values for one page file, through the node cache.
 * Everything that reads a tree from disk goes through here, so every read is checksum-verified.
 */
import { CorruptionError } from '../errors.js';
import { openBlock } from '../pagefile/block.js';
import { BlockKind, type BlockRef } from '../pagefile/layout.js';
import type { PageFile } from '../pagefile/page-file.js';
import { inlineValueAt, valueLengthAt, valueRefAt, valueTagAt } from './leaf.js';
import { NodeCache } from './node-cache.js';
import { decodeBranch, decodeLeaf, NodeFormatError } from './node-codec.js';
import { ValueTag, type LeafNode, type Node } from './node.js';

export class NodeStore {
  constructor(
    readonly file: PageFile,
    readonly cache: NodeCache,
  ) {}

  /** The node stored at `ref`, from the cache or decoded from its block. */
  load(ref: BlockRef): Node {
    const cached = this.cache.get(ref.offset);
    if (cached) return cached;
    const node = this.readNode(ref);
    this.cache.put(ref.offset, node);
    return node;
  }

  /** Reads and decodes a node from disk, bypassing the cache (verify uses this). */
  readNode(ref: BlockRef): Node {
    const extent = this.file.readExtentTransient(ref.offset, ref.length);
    // A block of any other kind is reported by openBlock as a kind mismatch against "leaf".
    const kind = extent[0] === BlockKind.Branch ? BlockKind.Branch : BlockKind.Leaf;
    let { payload } = openBlock(extent, ref.offset, this.file.path, ref.crc, kind, this.file.codec);
    // A stored-as-is payload is a view of the reused read buffer: the node needs its own copy.
    if (payload.buffer === extent.buffer) payload = payload.slice();
    try {
      return kind === BlockKind.Leaf ? decodeLeaf(payload, ref) : decodeBranch(payload, ref);
    } catch (err) {
      if (err instanceof NodeFormatError) throw new CorruptionError(this.file.path, ref.offset, err.message);
      throw err;
    }
  }

  /** Reads an out-of-line value's block and checks its length. */
  readValue(ref: BlockRef, length: number): Uint8Array {
    const { payload } = this.file.readBlock(ref, BlockKind.Value);
    if (payload.length !== length) {
      throw new CorruptionError(this.file.path, ref.offset, `value block holds ${payload.length} bytes where ${length} were expected`);
    }
    return payload;
  }

  /** Entry i's value: a view the caller must copy before the leaf can change. */
  valueAt(leaf: LeafNode, i: number): Uint8Array {
    if (valueTagAt(leaf, i) === ValueTag.Inline) return inlineValueAt(leaf, i);
    const pending = leaf.pending?.[i];
    if (pending) return pending.data;
    return this.readValue(valueRefAt(leaf, i)!, valueLengthAt(leaf, i));
  }
}

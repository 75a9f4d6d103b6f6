/**
 * Byte layout of tree node payloads (the part inside a block, before compression/encryption).
 * Little-endian throughout.
 *
 * Leaf (block kind 1):
 *   u16 entry count
 *   per entry: u16 key length, key bytes, u8 value tag, u32 value length, then
 *     tag 0 (inline):       the value bytes
 *     tag 1 (out of line):  16-byte block ref of a value block (kind 3) holding the value
 *     tag 2 (deduplicated): 32-byte BLAKE3 hash of the value, a key of the blob table
 *
 * Branch (block kind 2):
 *   u16 child count (n >= 2)
 *   n x 16-byte child block refs
 *   n-1 separators: u16 length, key bytes
 *
 * A leaf's in-memory buffer is this payload (node.ts), so encoding a leaf copies nothing and
 * decoding one only computes entry offsets.
 */
import { readBlockRef, writeBlockRef } from '../pagefile/block-ref-codec.js';
import { BLOCK_REF_SIZE, type BlockRef } from '../pagefile/layout.js';
import { readU16, readU32, writeU16 } from '../util/binary.js';
import { BlockRefList } from '../pagefile/block-ref-list.js';
import { BLOB_HASH_SIZE, BranchNode, LEAF_HEADER_SIZE, LeafNode, ValueTag, type Node } from './node.js';
import { comparePackedKeys } from './packed-key.js';

/** Thrown for a payload that passed its checksum but does not parse; callers add file and offset. */
export class NodeFormatError extends Error {}

/** The payload of a leaf; its out-of-line values must already be stored. */
export function encodeLeaf(node: LeafNode): Uint8Array {
  if (node.pending?.some((v) => v !== undefined)) throw new Error('out-of-line values must be stored before their leaf');
  return node.data.subarray(0, node.size);
}

export function encodeBranch(node: BranchNode): Uint8Array {
  const n = node.kids.length;
  const b = new Uint8Array(node.size);
  writeU16(b, 0, n);
  let o = 2;
  for (let i = 0; i < n; i++) {
    const ref = node.refs.get(i);
    if (!ref) throw new Error('branch child must be stored before its parent');
    writeBlockRef(b, o, ref);
    o += BLOCK_REF_SIZE;
  }
  b.set(node.seps.subarray(0, node.sepBytes), o);
  return b;
}

export function decodeLeaf(b: Uint8Array, ref: BlockRef): LeafNode {
  if (b.length < LEAF_HEADER_SIZE) throw new NodeFormatError('leaf payload is truncated');
  const count = readU16(b, 0);
  const offs = new Int32Array(count + 1);
  let o = LEAF_HEADER_SIZE;
  for (let i = 0; i < count; i++) {
    offs[i] = o;
    if (o + 2 > b.length) throw new NodeFormatError('leaf entry runs past the payload');
    const kl = readU16(b, o);
    if (kl === 0 || o + 2 + kl + 5 > b.length) throw new NodeFormatError('leaf key is empty or runs past the payload');
    if (i > 0 && comparePackedKeys(b, offs[i - 1]!, o) >= 0) throw new NodeFormatError('leaf keys are not in ascending order');
    o += 2 + kl;
    const tag = b[o]!;
    const vl = readU32(b, o + 1);
    o += 5;
    if (tag === ValueTag.Inline) {
      if (o + vl > b.length) throw new NodeFormatError('leaf value runs past the payload');
      o += vl;
    } else if (tag === ValueTag.OutOfLine) {
      if (o + BLOCK_REF_SIZE > b.length || !readBlockRef(b, o)) throw new NodeFormatError('leaf value reference is malformed');
      o += BLOCK_REF_SIZE;
    } else if (tag === ValueTag.Blob) {
      if (o + BLOB_HASH_SIZE > b.length) throw new NodeFormatError('leaf blob reference runs past the payload');
      o += BLOB_HASH_SIZE;
    } else {
      throw new NodeFormatError(`unknown leaf value tag ${tag}`);
    }
  }
  if (o !== b.length) throw new NodeFormatError('leaf payload has trailing bytes');
  offs[count] = o;
  return new LeafNode(b, offs, count, b.length, null, 0, ref);
}

export function decodeBranch(b: Uint8Array, ref: BlockRef): BranchNode {
  if (b.length < 2) throw new NodeFormatError('branch payload is truncated');
  const n = readU16(b, 0);
  if (n < 2) throw new NodeFormatError(`branch has ${n} children`);
  const sepStart = 2 + n * BLOCK_REF_SIZE;
  if (sepStart > b.length) throw new NodeFormatError('branch references run past the payload');
  const refs = BlockRefList.empty();
  for (let i = 0; i < n; i++) {
    const r = readBlockRef(b, 2 + i * BLOCK_REF_SIZE);
    if (!r) throw new NodeFormatError('branch child reference is malformed');
    refs.push(r);
  }
  const seps = b.subarray(sepStart);
  const sepOffs = new Int32Array(n);
  let o = 0;
  for (let i = 0; i < n - 1; i++) {
    sepOffs[i] = o;
    if (o + 2 > seps.length) throw new NodeFormatError('branch separator runs past the payload');
    const kl = readU16(seps, o);
    if (kl === 0 || o + 2 + kl > seps.length) throw new NodeFormatError('branch separator is empty or runs past the payload');
    if (i > 0 && comparePackedKeys(seps, sepOffs[i - 1]!, o) >= 0) throw new NodeFormatError('branch separators are not ascending');
    o += 2 + kl;
  }
  if (o !== seps.length) throw new NodeFormatError('branch payload has trailing bytes');
  sepOffs[n - 1] = o;
  return new BranchNode(seps, sepOffs, o, new Array<Node | null>(n).fill(null), refs, 0, ref);
}

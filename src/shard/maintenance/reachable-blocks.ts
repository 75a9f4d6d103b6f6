/**
 * Every block a header slot reaches, with its stored bytes: the catalog, each table's tree (a branch,
 * then its children; a leaf, then its out-of-line value blocks), and last the freelist. Backups copy
 * these bytes as they are (already compressed, and encrypted when the store is).
 *
 * The walk is a generator so that a caller can interleave it with other work (a backup yields to the
 * event loop between steps), and it emits `enter`/`exit` around each block so that a caller can
 * record how many blocks lie below each one (pre-order with subtree sizes).
 *
 * Blocks are copy-on-write: a block at a given offset, written by a given checkpoint, with a given
 * checksum never changes while anything reaches it. A branch's bytes name its children's refs, so an
 * unchanged branch means an unchanged subtree; `reuse` lets a caller skip such subtrees unread.
 */
import { CorruptionError } from '../../errors.js';
import { decodeBranch, decodeLeaf, NodeFormatError } from '../../btree/node-codec.js';
import { valueRefAt, valueTagAt } from '../../btree/leaf.js';
import { ValueTag } from '../../btree/node.js';
import { checkBlock, openBlock, type BlockHeader } from '../../pagefile/block.js';
import type { HeaderSlot } from '../../pagefile/header-slot.js';
import { BLOCK_HEADER_SIZE, BlockKind, type BlockRef } from '../../pagefile/layout.js';
import type { PageFile } from '../../pagefile/page-file.js';
import { readU16, readU32, readU64 } from '../../util/binary.js';
import { decodeCatalog } from '../data/catalog.js';

/** A block read whole and checked against the ref its parent holds. */
export interface ReachedBlock {
  ref: BlockRef;
  header: BlockHeader;
  /** The extent exactly as stored: header, stored payload, zero padding. */
  extent: Uint8Array;
}

/** The first 24 bytes of a block, read without the rest (so not yet checked against its checksum). */
export interface PeekedHeader extends BlockHeader {
  crc: number;
}

export type WalkEvent =
  /** A block; the blocks below it follow, then its `exit`. */
  | { type: 'enter'; block: ReachedBlock }
  /** Closes the latest `enter` that is still open. */
  | { type: 'exit' }
  /** A node or value block the caller chose to reuse: it and everything below it were not read. */
  | { type: 'reused'; ref: BlockRef; header: PeekedHeader };

export interface WalkOptions {
  /**
   * Asked before a tree node or value block is read. `peek` reads just its header. Returning true
   * skips the block and its subtree (a `reused` event stands for them).
   */
  reuse?: (ref: BlockRef, peek: () => PeekedHeader) => boolean;
  /**
   * The slot's catalog and freelist extents, read earlier. A backup reads them in the same step as it
   * pins the checkpoint: a later checkpoint retires them, and one with no commit since the pin
   * retires them at the pinned transaction itself, which the pin's reader does not hold back.
   */
  rootExtents?: { catalog: Uint8Array | null; freelist: Uint8Array | null };
}

/** Walks everything `slot` reaches in `file`, in pre-order. Throws CorruptionError on a bad block. */
export function* walkReachable(file: PageFile, slot: HeaderSlot, options: WalkOptions = {}): Generator<WalkEvent, void, void> {
  if (slot.catalog) {
    const extent = options.rootExtents?.catalog ?? file.readExtent(slot.catalog.offset, slot.catalog.length);
    const { header, payload } = openBlock(extent, slot.catalog.offset, file.path, slot.catalog.crc, BlockKind.Catalog, file.codec);
    const tables = decodeCatalog(payload);
    if (typeof tables === 'string') throw new CorruptionError(file.path, slot.catalog.offset, tables);
    yield { type: 'enter', block: { ref: slot.catalog, header, extent } };
    for (const t of tables) if (t.root) yield* walkNode(file, t.root, options);
    yield { type: 'exit' };
  }
  if (slot.freelist) {
    // Copied, never interpreted: its extents are whatever the checkpoint left free.
    const extent = options.rootExtents?.freelist ?? file.readExtent(slot.freelist.offset, slot.freelist.length);
    const header = checkKind(extent, slot.freelist, file.path, BlockKind.Freelist);
    yield { type: 'enter', block: { ref: slot.freelist, header, extent } };
    yield { type: 'exit' };
  }
}

function* walkNode(file: PageFile, ref: BlockRef, options: WalkOptions): Generator<WalkEvent, void, void> {
  const reused = reuseOf(file, ref, options);
  if (reused) {
    yield reused;
    return;
  }
  const extent = file.readExtent(ref.offset, ref.length);
  // A block of any other kind is reported by openBlock as a kind mismatch against "leaf".
  const kind = extent[0] === BlockKind.Branch ? BlockKind.Branch : BlockKind.Leaf;
  const { header, payload } = openBlock(extent, ref.offset, file.path, ref.crc, kind, file.codec);
  yield { type: 'enter', block: { ref, header, extent } };
  try {
    if (kind === BlockKind.Branch) {
      for (const child of decodeBranch(payload, ref).refs) yield* walkNode(file, child!, options);
    } else {
      const leaf = decodeLeaf(payload, ref);
      for (let i = 0; i < leaf.count; i++) {
        if (valueTagAt(leaf, i) === ValueTag.OutOfLine) yield* walkValue(file, valueRefAt(leaf, i)!, options);
      }
    }
  } catch (err) {
    if (err instanceof NodeFormatError) throw new CorruptionError(file.path, ref.offset, err.message);
    throw err;
  }
  yield { type: 'exit' };
}

function* walkValue(file: PageFile, ref: BlockRef, options: WalkOptions): Generator<WalkEvent, void, void> {
  const reused = reuseOf(file, ref, options);
  if (reused) {
    yield reused;
    return;
  }
  // A value is copied, not decoded: its checksum is all a byte-exact copy needs.
  const extent = file.readExtent(ref.offset, ref.length);
  yield { type: 'enter', block: { ref, header: checkKind(extent, ref, file.path, BlockKind.Value), extent } };
  yield { type: 'exit' };
}

/** The event standing for `ref` and its subtree when the caller chooses to reuse them, else null. */
function reuseOf(file: PageFile, ref: BlockRef, options: WalkOptions): WalkEvent | null {
  if (!options.reuse) return null;
  let peeked: PeekedHeader | null = null;
  const peek = (): PeekedHeader => (peeked ??= peekHeader(file, ref));
  return options.reuse(ref, peek) ? { type: 'reused', ref, header: peek() } : null;
}

function checkKind(extent: Uint8Array, ref: BlockRef, path: string, kind: number): BlockHeader {
  const header = checkBlock(extent, ref.offset, path, ref.crc);
  if (header.kind !== kind) throw new CorruptionError(path, ref.offset, `block kind ${header.kind} where kind ${kind} was expected`);
  return header;
}

function peekHeader(file: PageFile, ref: BlockRef): PeekedHeader {
  const b = file.readExtent(ref.offset, Math.min(BLOCK_HEADER_SIZE, ref.length));
  if (b.length < BLOCK_HEADER_SIZE) throw new CorruptionError(file.path, ref.offset, 'block extent is shorter than a block header');
  return { kind: b[0]!, flags: b[1]!, keyId: readU16(b, 2), storedLength: readU32(b, 4), rawLength: readU32(b, 8), crc: readU32(b, 12), txn: readU64(b, 16) };
}

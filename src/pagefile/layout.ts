/**
 * Page file layout constants. The normative byte-by-byte description is docs/format.md; this file and
 * that document change together, and test/pagefile/golden-bytes.test.ts pins both.
 *
 *   [0, 4096)      header slot 0
 *   [4096, 8192)   header slot 1
 *   [8192, end)    blocks, each starting on a 64-byte boundary; free extents between them
 */

/** Bumped on any incompatible change to the page file or WAL layout. */
export const FORMAT_VERSION = 1;

/** Size of one header slot; a slot never shares a 4 KiB sector with anything else. */
export const SLOT_SIZE = 4096;
/** Both slots; blocks start here. */
export const HEADER_SIZE = 2 * SLOT_SIZE;

/** Every block starts on, and every extent is a multiple of, this many bytes. */
export const BLOCK_ALIGN = 64;
/** Fixed header in front of every block's payload. */
export const BLOCK_HEADER_SIZE = 24;

/** What a block holds; byte 0 of its header. */
export const BlockKind = {
  Leaf: 1,
  Branch: 2,
  Value: 3,
  Catalog: 4,
  Freelist: 5,
} as const;
export type BlockKindValue = (typeof BlockKind)[keyof typeof BlockKind];

/**
 * Where a block lives, as its parent records it: the extent and the block's checksum. Because the
 * parent holds the child's checksum, a stale or misdirected block at the right offset is caught even
 * when its own checksum is valid.
 */
export interface BlockRef {
  readonly offset: number;
  /** Extent length in bytes, a multiple of {@link BLOCK_ALIGN}. */
  readonly length: number;
  readonly crc: number;
}

/** Encoded size of a {@link BlockRef}: u64 offset, u32 length, u32 crc. */
export const BLOCK_REF_SIZE = 16;

/** Rounds a byte count up to the block alignment. */
export function alignUp(n: number): number {
  return Math.ceil(n / BLOCK_ALIGN) * BLOCK_ALIGN;
}

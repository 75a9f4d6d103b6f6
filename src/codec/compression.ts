/**
 * Payload compression for the page codec: zstd (zstd-napi, synchronous, contexts and scratch buffers
 * reused: 14 us to compress and 1.4 us to decompress a 4 KiB page here), lz4 (lz4-block.ts) or none. A
 * payload is stored compressed only when that makes it smaller.
 */
import { createRequire } from 'node:module';
import { readU32, writeU32 } from '../util/binary.js';
import { uninitializedBytes } from '../util/bytes.js';
import { CodecDecodeError } from './page-codec.js';
import { lz4BlockBound, lz4CompressBlock, lz4DecompressBlock } from './lz4-block.js';

/** The raw length before an lz4 block (u32 little-endian; lz4-block.ts). */
const LZ4_PREFIX = 4;

const require = createRequire(import.meta.url);

/** Compression algorithm for pages, WAL records and blobs. */
export type CompressionKind = 'zstd' | 'lz4' | 'none';

/** One algorithm: its flag (bits 0-1 of the codec flags) and its two directions. */
export interface Compressor {
  readonly flag: number;
  /**
   * The compressed bytes, or null when compressing would not save space. A fresh array, unless
   * `transient`: then it may be a view of a scratch buffer that the next call overwrites (for a caller
   * that copies it out at once, such as a block being framed: one allocation less per block).
   */
  compress(src: Uint8Array, transient?: boolean): Uint8Array | null;
  decompress(src: Uint8Array, rawLength: number): Uint8Array;
}

/** Payloads shorter than this are stored as they are: the frame overhead eats any saving. */
export const MIN_COMPRESS = 64;

interface ZstdBinding {
  CCtx: new () => { compress(dst: Uint8Array, src: Uint8Array, level: number): number };
  DCtx: new () => { decompress(dst: Uint8Array, src: Uint8Array): number };
  compressBound(size: number): number;
}

class ZstdCompressor implements Compressor {
  readonly flag = 1;
  private readonly binding = require('zstd-napi/binding') as ZstdBinding;
  private readonly cctx = new this.binding.CCtx();
  private readonly dctx = new this.binding.DCtx();
  private scratch = new Uint8Array(0);

  constructor(private readonly level: number) {}

  compress(src: Uint8Array, transient = false): Uint8Array | null {
    if (src.length < MIN_COMPRESS) return null;
    const bound = this.binding.compressBound(src.length);
    if (this.scratch.length < bound) this.scratch = new Uint8Array(bound);
    const n = this.cctx.compress(this.scratch, src, this.level);
    if (n >= src.length) return null;
    return transient ? this.scratch.subarray(0, n) : this.scratch.slice(0, n);
  }

  decompress(src: Uint8Array, rawLength: number): Uint8Array {
    const out = uninitializedBytes(rawLength);
    let n: number;
    try {
      n = this.dctx.decompress(out, src);
    } catch (err) {
      throw new CodecDecodeError(`zstd data does not decompress (${(err as Error).message})`);
    }
    if (n !== rawLength) throw new CodecDecodeError(`zstd data decompressed to ${n} bytes, ${rawLength} expected`);
    return out;
  }
}

class Lz4Compressor implements Compressor {
  readonly flag = 2;
  private scratch = new Uint8Array(0);

  compress(src: Uint8Array, transient = false): Uint8Array | null {
    if (src.length < MIN_COMPRESS) return null;
    const bound = LZ4_PREFIX + lz4BlockBound(src.length);
    if (this.scratch.length < bound) this.scratch = new Uint8Array(bound);
    const out = this.scratch;
    writeU32(out, 0, src.length);
    const n = LZ4_PREFIX + lz4CompressBlock(src, out, LZ4_PREFIX);
    if (n >= src.length) return null;
    return transient ? out.subarray(0, n) : out.slice(0, n);
  }

  decompress(src: Uint8Array, rawLength: number): Uint8Array {
    if (src.length < LZ4_PREFIX) throw new CodecDecodeError(`lz4 data is ${src.length} bytes, shorter than its length prefix`);
    const stated = readU32(src, 0);
    if (stated !== rawLength) throw new CodecDecodeError(`lz4 data states ${stated} raw bytes, ${rawLength} expected`);
    const out = uninitializedBytes(rawLength);
    lz4DecompressBlock(src, LZ4_PREFIX, src.length, out);
    return out;
  }
}

/** The compressor for `kind` at zstd `level` (ignored by the others); null for 'none'. */
export function createCompressor(kind: CompressionKind, level: number): Compressor | null {
  if (kind === 'zstd') return new ZstdCompressor(level);
  if (kind === 'lz4') return new Lz4Compressor();
  return null;
}

/** Decompresses data carrying compression flag `flag`, whatever this database writes now. */
export class Decompressors {
  private zstd: Compressor | null = null;
  private lz4: Compressor | null = null;

  decompress(flag: number, src: Uint8Array, rawLength: number): Uint8Array {
    if (flag === 0) {
      if (src.length !== rawLength) throw new CodecDecodeError('stored length differs from the raw length');
      return src;
    }
    if (flag === 1) return (this.zstd ??= new ZstdCompressor(3)).decompress(src, rawLength);
    if (flag === 2) return (this.lz4 ??= new Lz4Compressor()).decompress(src, rawLength);
    throw new CodecDecodeError(`unknown compression ${flag}`);
  }
}

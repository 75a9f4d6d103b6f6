/**
 * Key layout of the integrity log inside a shard's `integrity_log` table (docs/integrity.md,
 * "Stored form"). Every key starts with the tenant prefix (u16 big-endian byte length, then the
 * tenant id in UTF-8), so one tenant's records are contiguous and no tenant id can be a prefix of
 * another's; then one kind byte; then the kind's fields. Integers are big-endian so that key order
 * is numeric order.
 *
 * Invariant: integers are safe integers below 2^53; a stored one beyond that is corruption.
 */
import { ValidationError } from '../errors.js';

/** The shard table holding every tenant's log. */
export const LOG_TABLE = 'integrity_log';

/** Kind bytes, after the tenant prefix. */
export const Kind = {
  /** The log head: size and right edge. */
  Head: 0x48, // 'H'
  /** A strip of 1 to 16 hashes of a tile: + u8 tile level + u64 tile index + u8 strip. */
  Tile: 0x54, // 'T'
  /** The event ids of up to 16 consecutive leaves of a tile: + u64 tile index + u8 strip. */
  Ids: 0x45, // 'E'
  /** Leaf index of an event id that does not extend a run: + UTF-8 event id. */
  Leaf: 0x49, // 'I'
  /** A run of consecutive leaves with ascending event ids: + UTF-8 id of its first leaf. */
  Run: 0x52, // 'R'
  /** A signed checkpoint: + u64 sequence number. */
  Checkpoint: 0x43, // 'C'
  /** A leaf whose event was purged by retention: + u64 leaf index. */
  Purged: 0x50, // 'P'
} as const;

/** Leaves (or hashes) per tile: 2^8, as in C2SP tlog-tiles. */
export const TILE_WIDTH = 256;
/** Tree levels spanned by one tile. */
export const TILE_HEIGHT = 8;
/**
 * Entries per stored strip: a tile is kept as up to 16 strips of 16, so an append rewrites at most
 * one 512-byte strip per level, and no value reaches the engine's 1 KiB dedup or out-of-line sizes.
 */
export const STRIP_WIDTH = 16;

const prefixCache = new Map<string, Buffer>();

/** The key prefix of a tenant. */
export function tenantPrefix(tenantId: string): Buffer {
  let p = prefixCache.get(tenantId);
  if (p === undefined) {
    const id = Buffer.from(tenantId, 'utf8');
    if (id.length === 0 || id.length > 0xffff) throw new ValidationError(`tenant id must be 1 to 65,535 UTF-8 bytes, got ${id.length}`);
    p = Buffer.allocUnsafe(2 + id.length);
    p.writeUInt16BE(id.length, 0);
    id.copy(p, 2);
    if (prefixCache.size > 10_000) prefixCache.clear();
    prefixCache.set(tenantId, p);
  }
  return p;
}

/** Writes a safe integer as 8 bytes big-endian at `off`. */
export function writeU64(buf: Buffer, value: number, off: number): void {
  buf.writeUInt32BE(Math.floor(value / 0x1_0000_0000), off);
  buf.writeUInt32BE(value >>> 0, off + 4);
}

/** Reads 8 bytes big-endian at `off`; undefined when the value is not a safe integer. */
export function readU64(buf: Uint8Array, off: number): number | undefined {
  // Byte by byte: viewing a small on-heap Uint8Array as a Buffer makes V8 move it off the heap.
  const hi = ((buf[off]! << 24) | (buf[off + 1]! << 16) | (buf[off + 2]! << 8) | buf[off + 3]!) >>> 0;
  const lo = ((buf[off + 4]! << 24) | (buf[off + 5]! << 16) | (buf[off + 6]! << 8) | buf[off + 7]!) >>> 0;
  const v = hi * 0x1_0000_0000 + lo;
  return Number.isSafeInteger(v) ? v : undefined;
}

/** 8-byte big-endian encoding of a safe integer. */
export function u64(value: number): Buffer {
  const b = Buffer.allocUnsafe(8);
  writeU64(b, value, 0);
  return b;
}

function keyOf(tenantId: string, kind: number, extra: number): Buffer {
  const p = tenantPrefix(tenantId);
  const k = Buffer.allocUnsafe(p.length + 1 + extra);
  p.copy(k, 0);
  k[p.length] = kind;
  return k;
}

export function headKey(tenantId: string): Buffer {
  return keyOf(tenantId, Kind.Head, 0);
}

/** Key of strip `strip` of hash tile `tileLevel/index`. */
export function tileKey(tenantId: string, tileLevel: number, index: number, strip: number): Buffer {
  const k = keyOf(tenantId, Kind.Tile, 10);
  k[k.length - 10] = tileLevel;
  writeU64(k, index, k.length - 9);
  k[k.length - 1] = strip;
  return k;
}

/** Key of strip `strip` of the event-id tile `index`. */
export function idsKey(tenantId: string, index: number, strip: number): Buffer {
  const k = keyOf(tenantId, Kind.Ids, 9);
  writeU64(k, index, k.length - 9);
  k[k.length - 1] = strip;
  return k;
}

/** [gte, lt) bounds of every strip of one tile (`key` is the key of its strip 0). */
export function stripsOf(key: Buffer): { gte: Buffer; lt: Buffer } {
  const lt = Buffer.from(key);
  lt[lt.length - 1] = 0xff;
  return { gte: key, lt };
}

export function leafKey(tenantId: string, eventId: string | Uint8Array): Buffer {
  const id = typeof eventId === 'string' ? Buffer.from(eventId, 'utf8') : eventId;
  const k = keyOf(tenantId, Kind.Leaf, id.length);
  k.set(id, k.length - id.length);
  return k;
}

/** Key of the run whose first leaf holds event `firstId` (UTF-8 bytes). */
export function runKey(tenantId: string, firstId: Uint8Array): Buffer {
  const k = keyOf(tenantId, Kind.Run, firstId.length);
  k.set(firstId, k.length - firstId.length);
  return k;
}

/**
 * [gte, lt) bounds of the runs whose first id is at most `id` (byte order): a reverse scan with
 * limit 1 finds the one run that can hold `id`. `id + 0x00` is the least byte string above `id`.
 */
export function runsUpTo(tenantId: string, id: Uint8Array): { gte: Buffer; lt: Buffer } {
  const gte = keyOf(tenantId, Kind.Run, 0);
  const lt = keyOf(tenantId, Kind.Run, id.length + 1);
  lt.set(id, gte.length);
  lt[lt.length - 1] = 0;
  return { gte, lt };
}

export function checkpointKey(tenantId: string, seq: number): Buffer {
  const k = keyOf(tenantId, Kind.Checkpoint, 8);
  writeU64(k, seq, k.length - 8);
  return k;
}

export function purgedKey(tenantId: string, leafIndex: number): Buffer {
  const k = keyOf(tenantId, Kind.Purged, 8);
  writeU64(k, leafIndex, k.length - 8);
  return k;
}

/** [gte, lt) bounds of every key of one kind of one tenant. */
export function kindRange(tenantId: string, kind: number): { gte: Buffer; lt: Buffer } {
  const gte = keyOf(tenantId, kind, 0);
  const lt = Buffer.from(gte);
  lt[lt.length - 1] = kind + 1;
  return { gte, lt };
}

/** The tenant id of a log key (any kind), or undefined when the key is malformed. */
export function tenantOfKey(key: Uint8Array): string | undefined {
  if (key.length < 3) return undefined;
  const len = (key[0]! << 8) | key[1]!;
  if (key.length < 2 + len + 1) return undefined;
  return Buffer.from(key.buffer, key.byteOffset + 2, len).toString('utf8');
}

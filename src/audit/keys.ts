/**
 * Key encodings of the audit tables (byte by byte in docs/audit.md). Every key of a tenant's data
 * starts with T, the tenant's number in its shard (audit.tenants), so one tenant's rows are
 * contiguous and a tenant string is stored once per shard, not once per row. T is prefix-free:
 * numbers below 2^15 take 2 bytes (big-endian, top bit 0), larger ones 4 bytes (top bit 1).
 *
 *   id bytes      0x01 + 16-byte ULID | 0x04 + UTF-8 of a caller's own id       (audit.ids keys)
 *   id key at ts  0x01 + 16-byte ULID of a time before ts
 *                 0x02 + the 10 random bytes of a ULID whose time is ts        (the common case)
 *                 0x03 + 16-byte ULID of a time after ts
 *                 0x04 + UTF-8 of a caller's own id
 *   audit.events  T ts(8 BE) idkey                   -> the event's stored form (stored-event.ts)
 *   audit.index   T kind(1) value 0x00 ts(8) idkey   -> empty (actor, action, outcome, category)
 *                 T 0x03 week(4) type 0x00 id 0x00 ts(8) idkey -> empty (resource; week = ts / 604,800,000)
 *   audit.stats   T kind(1) value 0x00               -> count (float64 BE)
 *                 T 0x00                             -> total, min ts, max ts (3 x float64 BE)
 *   audit.ids     T idbytes                          -> ts(8)   (only ids whose key at their ts
 *                                                                 is not 0x02, a self-keyed ULID)
 *   audit.feed    seq(8)                             -> the audit.events keys of one commit
 *
 * Why the id key depends on ts: a ULID's first 6 bytes are its time, so a ULID keyed at its own
 * time would repeat 6 bytes that the key's ts already holds, in the events key and in each of the
 * five index keys. The tags keep the order of (ts, id) exactly what it is with the full 16 bytes:
 * at one ts, ULIDs of an earlier time sort first (their first 6 bytes are below ts), then ULIDs of
 * that time (ordered by their random bytes, which is their order), then later ULIDs, then other ids.
 *
 * Why resource entries carry the week: an agent's resources are many (every record, file or account
 * touched), so without it each new entry lands at a random place in an index as large as the store,
 * and every checkpoint rewrites nearly every leaf of it: write amplification that grows with the
 * store. Keyed under its week first (7-day buckets counted from the Unix epoch), a new entry lands
 * among that week's entries only, so what a checkpoint rewrites is bounded by a week's entries; a
 * resource query visits the weeks of its window in turn (resourcePrefix). Days ingested as fast and
 * made resource queries over a month 2-3x slower (docs/performance.md).
 *
 * Invariants: indexed values never contain 0x00 (validation refuses it), so `value 0x00` is an
 * unambiguous prefix and a prefix of `value` without the terminator selects every value starting
 * with it; timestamps are non-negative integers below 2^53 so their big-endian bytes sort like them;
 * an id key is only ever read back with the ts it was built for.
 */
import { isCanonicalUlid, ulidToBytes, ulidToString, writeUlidChars } from './ulid.js';

/** Index kinds; 0 is the tenant total in audit.stats. */
export const KIND_TOTAL = 0;
export const KIND_ACTOR = 1;
export const KIND_ACTION = 2;
export const KIND_RESOURCE = 3;
export const KIND_OUTCOME = 4;
export const KIND_CATEGORY = 5;

export const KIND_NAMES = ['time', 'actor', 'action', 'resource', 'outcome', 'category'] as const;

/** Tags of id bytes and id keys (see the header). */
export const TAG_ULID = 1;
export const TAG_ULID_SELF = 2;
export const TAG_ULID_LATER = 3;
export const TAG_TEXT = 4;

/** Bytes of a ULID's random part (after its 6 time bytes). */
const ULID_RANDOM = 10;

/** An id's own bytes, independent of any timestamp: the key form of audit.ids. */
export function idBytes(id: string): Buffer {
  if (isCanonicalUlid(id)) {
    const b = Buffer.allocUnsafe(17);
    b[0] = TAG_ULID;
    ulidToBytes(id, b, 1);
    return b;
  }
  const n = Buffer.byteLength(id, 'utf8');
  const b = Buffer.allocUnsafe(1 + n);
  b[0] = TAG_TEXT;
  b.write(id, 1, 'utf8');
  return b;
}

/** The 48-bit time of the ULID whose 16 bytes start at b[off]. */
function ulidTimeAt(b: Uint8Array, off: number): number {
  return (b[off]! * 256 + b[off + 1]!) * 4294967296 + readU32(b, off + 2);
}

/** The id key of an event at `ts` whose id bytes are `bytes` (from idBytes). */
export function idKeyOf(bytes: Uint8Array, ts: number): Buffer {
  if (bytes[0] !== TAG_ULID) return Buffer.from(bytes);
  const t = ulidTimeAt(bytes, 1);
  if (t === ts) {
    const k = Buffer.allocUnsafe(1 + ULID_RANDOM);
    k[0] = TAG_ULID_SELF;
    k.set(bytes.subarray(17 - ULID_RANDOM, 17), 1);
    return k;
  }
  const k = Buffer.from(bytes);
  if (t > ts) k[0] = TAG_ULID_LATER;
  return k;
}

/** The id bytes (idBytes form) of the id key b[off, end) of an event at `ts`. */
export function idBytesOfKey(b: Uint8Array, off: number, end: number, ts: number): Buffer {
  const tag = b[off];
  if (tag === TAG_ULID_SELF) {
    const out = Buffer.allocUnsafe(17);
    out[0] = TAG_ULID;
    out[1] = Math.floor(ts / 1099511627776) & 255;
    out[2] = Math.floor(ts / 4294967296) & 255;
    writeU32(out, 3, ts >>> 0);
    out.set(b.subarray(off + 1, end), 7);
    return out;
  }
  const out = Buffer.from(b.subarray(off, end));
  if (tag === TAG_ULID_LATER) out[0] = TAG_ULID;
  return out;
}

/** True when `b` has the shape of an id key (a tag and the length that tag implies). */
export function isIdKey(b: Uint8Array): boolean {
  const tag = b[0];
  if (tag === TAG_ULID || tag === TAG_ULID_LATER) return b.length === 17;
  if (tag === TAG_ULID_SELF) return b.length === 1 + ULID_RANDOM;
  return tag === TAG_TEXT && b.length >= 2;
}

/** True when an id key is a ULID of the key's own time (such an event has no audit.ids entry). */
export function isSelfKeyed(idKey: Uint8Array): boolean {
  return idKey[0] === TAG_ULID_SELF;
}

/** The event id of the id key b[off, end) of an event at `ts`: the inverse of idKeyOf. */
export function idFromKey(b: Uint8Array, off: number, end: number, ts: number): string {
  const tag = b[off];
  if (tag === TAG_TEXT) return Buffer.from(b.buffer, b.byteOffset + off + 1, end - off - 1).toString('utf8');
  if (tag === TAG_ULID_SELF) return ulidToString(selfUlid(b, off, ts), 0);
  return ulidToString(b, off + 1);
}

/**
 * Writes the characters of the id of the self-keyed id key at b[off] (an event at `ts`) as ASCII
 * bytes into `out[o..]`; returns where they end.
 */
export function writeSelfIdChars(b: Uint8Array, off: number, ts: number, out: Uint8Array, o: number): number {
  return writeUlidChars(selfUlid(b, off, ts), 0, out, o);
}

/** The 16 bytes of the ULID of the self-keyed id key at b[off], in a reused array: every returned event of a query passes here. */
function selfUlid(b: Uint8Array, off: number, ts: number): Uint8Array {
  SELF_ULID[0] = Math.floor(ts / 1099511627776) & 255;
  SELF_ULID[1] = Math.floor(ts / 4294967296) & 255;
  writeU32(SELF_ULID, 2, ts >>> 0);
  for (let i = 0; i < ULID_RANDOM; i++) SELF_ULID[6 + i] = b[off + 1 + i]!;
  return SELF_ULID;
}

/** Scratch bytes of selfUlid (read synchronously, never handed out). */
const SELF_ULID = new Uint8Array(16);

/** The event id of id bytes (idBytes form). */
export function idFromBytes(b: Uint8Array, off: number, end: number): string {
  if (b[off] === TAG_ULID) return ulidToString(b, off + 1);
  return Buffer.from(b.buffer, b.byteOffset + off + 1, end - off - 1).toString('utf8');
}

export function writeU32(b: Uint8Array, off: number, v: number): void {
  b[off] = v >>> 24;
  b[off + 1] = (v >>> 16) & 255;
  b[off + 2] = (v >>> 8) & 255;
  b[off + 3] = v & 255;
}

export function readU32(b: Uint8Array, off: number): number {
  return ((b[off]! << 24) >>> 0) + ((b[off + 1]! << 16) | (b[off + 2]! << 8) | b[off + 3]!);
}

/** Writes a non-negative integer below 2^53 as 8 big-endian bytes. */
export function writeU64(b: Uint8Array, off: number, v: number): void {
  writeU32(b, off, Math.floor(v / 4294967296));
  writeU32(b, off + 4, v >>> 0);
}

export function readU64(b: Uint8Array, off: number): number {
  return readU32(b, off) * 4294967296 + readU32(b, off + 4);
}

const ZEROS = ['', '0', '00', '000', '0000', '00000', '000000', '0000000'];

/**
 * String(ts) for a timestamp (an integer from 0 to 2^53): a millisecond timestamp is above 2^31,
 * so V8 converts it as a double (about 200 ns when, as with every event's, the value is new); as two
 * small integers it takes about 40. Every stored event's JSON carries its timestamp.
 */
export function tsText(ts: number): string {
  if (ts < 1e8) return '' + ts;
  const hi = Math.floor(ts / 1e8);
  const lo = '' + (ts - hi * 1e8);
  return hi + ZEROS[8 - lo.length]! + lo;
}

/** Largest tenant number. */
export const MAX_TENANT_NO = 0x7fffffff;

/** Bytes of the tenant number `no`. */
export function tenantLen(no: number): number {
  return no < 0x8000 ? 2 : 4;
}

/** Writes tenant number `no` at `off`; returns the bytes written. */
export function writeTenant(b: Uint8Array, off: number, no: number): number {
  if (no < 0x8000) {
    b[off] = no >>> 8;
    b[off + 1] = no & 255;
    return 2;
  }
  writeU32(b, off, (no | 0x80000000) >>> 0);
  return 4;
}

/** The tenant number a key starts with. */
export function readTenant(b: Uint8Array, off = 0): number {
  if (b[off]! & 0x80) return readU32(b, off) & 0x7fffffff;
  return (b[off]! << 8) | b[off + 1]!;
}

/** Bytes of the tenant number a key starts with. */
export function tenantLenAt(b: Uint8Array, off = 0): number {
  return b[off]! & 0x80 ? 4 : 2;
}

/** audit.events key of an event: `id` is its id key at `ts` (idKeyOf). */
export function eventKey(tenantNo: number, ts: number, id: Uint8Array): Buffer {
  const t = tenantLen(tenantNo);
  const k = Buffer.allocUnsafe(t + 8 + id.length);
  writeTenant(k, 0, tenantNo);
  writeU64(k, t, ts);
  k.set(id, t + 8);
  return k;
}

/** The first key of a tenant's events at or after `ts`. */
export function eventBound(tenantNo: number, ts: number): Buffer {
  const t = tenantLen(tenantNo);
  const k = Buffer.allocUnsafe(t + 8);
  writeTenant(k, 0, tenantNo);
  writeU64(k, t, ts);
  return k;
}

/** The prefix of every row of a tenant (its number). */
export function tenantPrefix(tenantNo: number): Buffer {
  const k = Buffer.allocUnsafe(tenantLen(tenantNo));
  writeTenant(k, 0, tenantNo);
  return k;
}

/** `T kind value` (no terminator): with the terminator it is an index prefix; without, a value prefix. */
export function valuePrefix(tenantNo: number, kind: number, value: string, terminated: boolean): Buffer {
  const n = Buffer.byteLength(value, 'utf8');
  const t = tenantLen(tenantNo);
  const k = Buffer.allocUnsafe(t + 1 + n + (terminated ? 1 : 0));
  writeTenant(k, 0, tenantNo);
  k[t] = kind;
  k.write(value, t + 1, 'utf8');
  if (terminated) k[t + 1 + n] = 0;
  return k;
}

/** Width of the resource index's time buckets (see the header): seven days. */
export const RESOURCE_WEEK_MS = 7 * 86_400_000;

/** The resource index's bucket of timestamp `ts`. */
export function resourceWeek(ts: number): number {
  return Math.floor(ts / RESOURCE_WEEK_MS);
}

/** The indexed value of a resource: its type and id, joined by 0x00 (neither contains one). */
export function resourceValue(type: string, id: string): string {
  return type + '\u0000' + id;
}

/**
 * The resource index prefix of `value` (resourceValue) in `week`: `T 0x03 week(4) value 0x00`.
 * Entries of the same resource in different weeks have different prefixes; the weeks of a window are
 * visited in turn.
 */
export function resourcePrefix(tenantNo: number, value: string, week: number): Buffer {
  const n = Buffer.byteLength(value, 'utf8');
  const t = tenantLen(tenantNo);
  const k = Buffer.allocUnsafe(t + 5 + n + 1);
  writeTenant(k, 0, tenantNo);
  k[t] = KIND_RESOURCE;
  writeU32(k, t + 1, week);
  k.write(value, t + 5, 'utf8');
  k[t + 5 + n] = 0;
  return k;
}

/** The resource index key of the event at `ts` with id key `id` on the resource `value` (resourceValue). */
export function resourceIndexKey(tenantNo: number, value: string, ts: number, id: Uint8Array): Buffer {
  return indexKey(resourcePrefix(tenantNo, value, resourceWeek(ts)), ts, id);
}

/** Where the ts of index key `key` starts (after its prefix's terminator), or -1 if it has none. */
export function indexTsAt(key: Uint8Array): number {
  const tl = tenantLenAt(key);
  let z: number;
  if (key[tl] === KIND_RESOURCE) {
    z = key.indexOf(0, tl + 5);
    if (z >= 0) z = key.indexOf(0, z + 1);
  } else z = key.indexOf(0, tl + 1);
  return z < 0 || z + 9 > key.length ? -1 : z + 1;
}

/** An index entry key: an index prefix (`valuePrefix(..., true)`) followed by ts and id. */
export function indexKey(prefix: Uint8Array, ts: number, id: Uint8Array): Buffer {
  const k = Buffer.allocUnsafe(prefix.length + 8 + id.length);
  k.set(prefix, 0);
  writeU64(k, prefix.length, ts);
  k.set(id, prefix.length + 8);
  return k;
}

/** Bytes of the index key of a prefix of `prefixLen` bytes and an id key of `idLen` bytes. */
export function indexKeyLength(prefixLen: number, idLen: number): number {
  return prefixLen + 8 + idLen;
}

/** Writes indexKey(prefix, ts, id) at b[off]; returns where it ends. */
export function writeIndexKey(b: Uint8Array, off: number, prefix: Uint8Array, ts: number, id: Uint8Array): number {
  b.set(prefix, off);
  off += prefix.length;
  writeU64(b, off, ts);
  b.set(id, off + 8);
  return off + 8 + id.length;
}

/** `prefix ts` with no id: the first index key at or after `ts` under `prefix`. */
export function indexBound(prefix: Uint8Array, ts: number): Buffer {
  const k = Buffer.allocUnsafe(prefix.length + 8);
  k.set(prefix, 0);
  writeU64(k, prefix.length, ts);
  return k;
}

/** The smallest key greater than every key starting with `prefix` (undefined if none exists). */
export function prefixEnd(prefix: Uint8Array): Buffer | undefined {
  const k = Buffer.from(prefix);
  for (let i = k.length - 1; i >= 0; i--) {
    if (k[i]! < 255) {
      k[i]!++;
      return k.subarray(0, i + 1);
    }
  }
  return undefined;
}

/** audit.ids key of an event: `id` is its id bytes (idBytes), not its id key. */
export function idsKey(tenantNo: number, id: Uint8Array): Buffer {
  const t = tenantLen(tenantNo);
  const k = Buffer.allocUnsafe(t + id.length);
  writeTenant(k, 0, tenantNo);
  k.set(id, t);
  return k;
}

/** audit.stats key of a tenant's totals. */
export function totalKey(tenantNo: number): Buffer {
  const t = tenantLen(tenantNo);
  const k = Buffer.allocUnsafe(t + 1);
  writeTenant(k, 0, tenantNo);
  k[t] = KIND_TOTAL;
  return k;
}

/** audit.feed key. */
export function seqKey(seq: number): Buffer {
  const k = Buffer.allocUnsafe(8);
  writeU64(k, 0, seq);
  return k;
}


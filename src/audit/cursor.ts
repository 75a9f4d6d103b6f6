/**
 * Query cursors: the position of the last event of a page, so the next page resumes strictly after
 * it in the query's order. Positions are (timestamp, tenant, id), which never change, so a cursor
 * stays valid and stable while new events arrive (they land before or after it, never shifting it).
 *
 * Format (base64url of): version 0x02, fingerprint (4 bytes: FNV-1a 32 of the query's filters and
 * order), ts (8 bytes BE), tenant id length (2 bytes BE) + UTF-8 tenant id, then the id's key at ts
 * (keys.ts idKeyOf). A cursor given with other filters than the ones that produced it is refused, and
 * so is a version 0x01 cursor (its id bytes predate the ts-relative id keys).
 */
import { ValidationError } from '../errors.js';
import { isIdKey, readU64, writeU64 } from './keys.js';

const CURSOR_VERSION = 2;

export interface CursorPos {
  ts: number;
  tenantId: string;
  id: Buffer;
}

function fnv32(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}

export function encodeCursor(pos: CursorPos, fingerprint: string): string {
  const t = Buffer.from(pos.tenantId, 'utf8');
  const b = Buffer.allocUnsafe(1 + 4 + 8 + 2 + t.length + pos.id.length);
  b[0] = CURSOR_VERSION;
  b.writeUInt32BE(fnv32(fingerprint), 1);
  writeU64(b, 5, pos.ts);
  b.writeUInt16BE(t.length, 13);
  t.copy(b, 15);
  pos.id.copy(b, 15 + t.length);
  return b.toString('base64url');
}

export function decodeCursor(cursor: string, fingerprint: string): CursorPos {
  const b = Buffer.from(cursor, 'base64url');
  const bad = (why: string): ValidationError => new ValidationError(`query option cursor is not valid: ${why}; pass the nextCursor of a previous page of the same query`);
  if (b.length < 16 || b[0] !== CURSOR_VERSION) throw bad('unknown format');
  if (b.readUInt32BE(1) !== fnv32(fingerprint)) throw bad('it belongs to a query with other filters or another order');
  const tl = b.readUInt16BE(13);
  if (15 + tl + 2 > b.length) throw bad('it is truncated');
  const id = Buffer.from(b.subarray(15 + tl));
  if (!isIdKey(id)) throw bad('its id is malformed');
  return { ts: readU64(b, 5), tenantId: b.subarray(15, 15 + tl).toString('utf8'), id };
}

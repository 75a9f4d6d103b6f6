/**
 * The value of an audit.events row (byte by byte in docs/audit.md, "Stored bytes"). An event's
 * canonical JSON carries its id and its timestamp, and so does its events key (keys.ts); a ULID of
 * the event's own time costs about 22 bytes per event after compression inside the JSON and the
 * timestamp's digits about 8 more, so an event keyed by its own ULID is stored without those two
 * members and they are put back, byte for byte, from the key on every read:
 *
 *   0x7B ...                            the whole canonical JSON (its first byte is '{')
 *   0x01 varint(a) varint(b) stripped   the canonical JSON without `,"id":"<ULID>"` (which goes back
 *                                       at byte a of `stripped`) and without `,"timestamp":<ts>`
 *                                       (which goes back at byte b, a <= b)
 *
 * Invariant: eventJson(key, storedEvent(json, ...)) is exactly the canonical JSON that was stored,
 * so hashes (the integrity log), ndjson exports and the change feed see the same bytes as before.
 */
import { CorruptionError } from '../errors.js';
import { idFromKey, isSelfKeyed, readU64, tenantLenAt, tsText, writeSelfIdChars } from './keys.js';
import { T_EVENTS } from './tables.js';

const WHOLE = 0x7b;
const SPLIT = 0x01;
const ID_OPEN = Buffer.from(',"id":"', 'latin1');
const TS_OPEN = Buffer.from(',"timestamp":', 'latin1');
/** `,"id":"` + 26 characters + `"`. */
const ID_MEMBER = ID_OPEN.length + 26 + 1;

function varintLength(v: number): number {
  let n = 1;
  while (v >= 0x80) {
    v = Math.floor(v / 128);
    n++;
  }
  return n;
}

function writeVarint(b: Buffer, o: number, v: number): number {
  while (v >= 0x80) {
    b[o++] = (v & 0x7f) | 0x80;
    v = Math.floor(v / 128);
  }
  b[o++] = v;
  return o;
}

function bad(what: string): CorruptionError {
  return new CorruptionError(T_EVENTS, 0, `a stored event ${what}`);
}

/** Offset of the member `,"id":"<id>"` in `json`, or -1. */
function findIdMember(json: Buffer, id: string): number {
  let at = json.indexOf(id, 0, 'latin1');
  while (at >= 0) {
    const start = at - ID_OPEN.length;
    if (start >= 0 && json[at + 26] === 0x22 && json.compare(ID_OPEN, 0, ID_OPEN.length, start, at) === 0) return start;
    at = json.indexOf(id, at + 1, 'latin1');
  }
  return -1;
}

/** True when `json` holds exactly the ASCII text `text` at `at`. */
function holdsAt(json: Buffer, at: number, text: string): boolean {
  if (at < 0 || at + text.length > json.length) return false;
  for (let i = 0; i < text.length; i++) if (json[at + i] !== text.charCodeAt(i)) return false;
  return true;
}

/**
 * The audit.events value of an event: `json` is its canonical JSON, `id` its id, `idKey` its id
 * key at `ts`. `idAt` and `tsAt` are where the JSON was built with the members `,"id":"<id>"` and
 * `,"timestamp":<ts>` (byte offsets, -1 when not known): each is used only when those bytes are
 * exactly that member there, and otherwise the member is found by search, so whatever rewrote the
 * JSON since (the personal-data vault seals fields) cannot make them wrong. Either way the bytes
 * cut out are exactly the bytes eventJson puts back at the same places, so the round trip is exact
 * even if a string inside the event happened to contain the same text.
 */
export function storedEvent(json: Buffer, id: string, idKey: Uint8Array, ts: number, idAt = -1, tsAt = -1): Buffer {
  if (!isSelfKeyed(idKey)) return json;
  const tsMember = ',"timestamp":' + tsText(ts);
  // The hint is the member itself: `,"id":"` + id + `"` (a ULID: ASCII).
  if (!(holdsAt(json, idAt, ',"id":"') && holdsAt(json, idAt + ID_OPEN.length, id) && json[idAt + ID_MEMBER - 1] === 0x22)) idAt = findIdMember(json, id);
  if (!holdsAt(json, tsAt, tsMember)) tsAt = idAt < 0 ? -1 : json.lastIndexOf(tsMember, json.length, 'latin1');
  if (idAt < 0 || tsAt < idAt + ID_MEMBER) return json;
  const a = idAt;
  const b = tsAt - ID_MEMBER;
  const h = 1 + varintLength(a) + varintLength(b);
  const out = Buffer.allocUnsafe(h + json.length - ID_MEMBER - tsMember.length);
  out[0] = SPLIT;
  writeVarint(out, writeVarint(out, 1, a), b);
  let o = h + json.copy(out, h, 0, idAt);
  o += json.copy(out, o, idAt + ID_MEMBER, tsAt);
  json.copy(out, o, tsAt + tsMember.length);
  return out;
}

/** Where the varint readVarint read last ends. */
let varintEnd = 0;

/** The varint at b[o]; its end goes to varintEnd (no pair allocated per read). */
function readVarint(b: Uint8Array, o: number): number {
  let v = 0;
  let mul = 1;
  for (let i = 0; i < 8; i++) {
    if (o >= b.length) break;
    const x = b[o++]!;
    v += (x & 0x7f) * mul;
    if (x < 0x80) {
      varintEnd = o;
      return v;
    }
    mul *= 128;
  }
  throw bad('has a malformed header');
}

/** The canonical JSON of the event stored as `value` under the events key `key`. */
export function eventJson(key: Uint8Array, value: Uint8Array): Buffer {
  const tl = tenantLenAt(key);
  return eventJsonAt(readU64(key, tl), key.subarray(tl + 8), value);
}

/** The stored value as a Buffer (a view, no copy). */
function asBuffer(value: Uint8Array): Buffer {
  return Buffer.isBuffer(value) ? value : Buffer.from(value.buffer, value.byteOffset, value.length);
}

/** Header of a split value, read by splitHeader: its length and the offsets a and b. */
let headLen = 0;
let idAtBody = 0;
let tsAtBody = 0;

/** Reads a split value's header into headLen, idAtBody and tsAtBody, for the two functions below. */
function splitHeader(value: Uint8Array): void {
  if (value[0] !== SPLIT) throw bad(`starts with the unknown byte ${value[0]}`);
  const a = readVarint(value, 1);
  const b = readVarint(value, varintEnd);
  const h = varintEnd;
  if (a > b || b > value.length - h) throw bad('puts its id or timestamp outside its JSON');
  headLen = h;
  idAtBody = a;
  tsAtBody = b;
}

/** The canonical JSON of the event at `ts` whose id key is `idKey`, stored as `value`. */
export function eventJsonAt(ts: number, idKey: Uint8Array, value: Uint8Array): Buffer {
  if (value[0] === WHOLE) return asBuffer(value);
  splitHeader(value);
  const h = headLen;
  const a = idAtBody;
  const b = tsAtBody;
  const body = value.length - h;
  const id = idFromKey(idKey, 0, idKey.length, ts);
  const text = tsText(ts);
  const out = Buffer.allocUnsafe(body + ID_MEMBER + TS_OPEN.length + text.length);
  out.set(value.subarray(h, h + a), 0);
  let o = a + ID_OPEN.copy(out, a);
  o += out.write(id, o, 'latin1');
  out[o++] = 0x22;
  out.set(value.subarray(h + a, h + b), o);
  o += b - a;
  o += TS_OPEN.copy(out, o);
  o += out.write(text, o, 'latin1');
  out.set(value.subarray(h + b), o);
  return out;
}

/**
 * eventJsonAt's bytes decoded as UTF-8, for parsing. The whole JSON is assembled in a reused
 * scratch buffer (the stored stretches, the two members, the id's characters written straight from
 * its key bytes) and decoded once, so JSON.parse gets one flat string. Decoding the three stretches
 * apart and joining them cost about as much as the parse itself: three decoding calls, the id as a
 * string of its own, and a joined string that the parser first copies into a flat one.
 */
export function eventTextAt(ts: number, idKey: Uint8Array, value: Uint8Array): string {
  if (value[0] === WHOLE) return asBuffer(value).toString('utf8');
  splitHeader(value);
  const h = headLen;
  const a = h + idAtBody;
  const b = h + tsAtBody;
  // Only a self-keyed event is stored split (storedEvent); anything else takes the general path.
  if (!isSelfKeyed(idKey)) return eventJsonAt(ts, idKey, value).toString('utf8');
  const need = value.length - h + ID_MEMBER + TS_OPEN.length + MAX_TS_DIGITS;
  if (scratch.length < need) scratch = Buffer.allocUnsafe(Math.max(need, 2 * scratch.length));
  const s = scratch;
  s.set(value.subarray(h, a), 0);
  let o = a - h;
  s.set(ID_OPEN, o);
  o = writeSelfIdChars(idKey, 0, ts, s, o + ID_OPEN.length);
  s[o++] = 0x22;
  s.set(value.subarray(a, b), o);
  o += b - a;
  s.set(TS_OPEN, o);
  o = writeDigits(ts, s, o + TS_OPEN.length);
  s.set(value.subarray(b), o);
  return s.toString('utf8', 0, o + value.length - b);
}

/** Digits of the largest timestamp (MAX_TIMESTAMP, 8.64e15). */
const MAX_TS_DIGITS = 16;

/**
 * Where eventTextAt assembles an event's JSON (read synchronously, never handed out); grown on need,
 * so it holds as much as the largest event read, which the validation limits bound.
 */
let scratch = Buffer.allocUnsafe(4096);

/** Writes the decimal digits of the non-negative integer `v` at b[o]; returns where they end. Matches String(v) below 1e21. */
function writeDigits(v: number, b: Uint8Array, o: number): number {
  let n = 1;
  for (let x = v; x >= 10; x = Math.floor(x / 10)) n++;
  let x = v;
  for (let i = o + n - 1; i >= o; i--) {
    const q = Math.floor(x / 10);
    b[i] = 48 + (x - q * 10);
    x = q;
  }
  return o + n;
}

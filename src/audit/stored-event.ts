/**
 * The value of an audit.events row (byte by byte in docs/audit.md, "Stored bytes"):
 *
 *   0x7B ...                            the whole canonical JSON (its first byte is '{'); every
 *                                       event is written so
 *   0x01 varint(a) varint(b) stripped   an event keyed by its own ULID, as earlier stores wrote
 *                                       it: the canonical JSON without `,"id":"<ULID>"`
 *                                       (which goes back at byte a of `stripped`) and without
 *                                       `,"timestamp":<ts>` (which goes back at byte b, a <= b)
 *
 * The split form saved about 30 bytes an event after compression, and cost every read the JSON's
 * reassembly (a time-window query ~11% and an export a quarter of its time), so it is read but no
 * longer written.
 *
 * Invariant: eventJson(key, value) is exactly the canonical JSON that was stored, so hashes (the
 * integrity log), ndjson exports and the change feed see the same bytes whichever form holds it.
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

function bad(what: string): CorruptionError {
  return new CorruptionError(T_EVENTS, 0, `a stored event ${what}`);
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
  // Only a self-keyed event was stored split; anything else takes the general path.
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

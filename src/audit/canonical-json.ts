/**
 * RFC 8785 (JCS) canonical JSON: object members sorted by their names' UTF-16 code units, no
 * whitespace, strings and numbers serialised exactly as ECMAScript's JSON.stringify does (which is
 * what JCS prescribes). Stored events are these bytes, so the integrity layer hashes exactly what is
 * stored and ndjson export copies stored bytes without decoding them.
 *
 * JsonWriter writes the UTF-8 bytes straight into one reused buffer: an event's JSON built as a
 * string was a rope of a few dozen pieces that had to be flattened and then encoded, about 2.5 KB
 * of garbage per event on the path every insert takes.
 *
 * Invariant: `canonicalJson(JSON.parse(canonicalJson(v))) === canonicalJson(v)` for every value it
 * accepts. It refuses what JSON cannot carry faithfully (undefined, functions, symbols, bigints,
 * non-finite numbers, non-plain objects, cycles) by throwing a ValidationError naming the path, so a
 * value never reads back different from how it was written.
 */
import { ValidationError } from '../errors.js';

const MAX_DEPTH = 64;

/** Thrown by the fast walk, which tracks no path; the checked walk then reports where. */
const REFUSED = new Error('not canonical JSON');

/** Canonical JSON appended as UTF-8 to a growing buffer; `length` bytes are written so far. */
export class JsonWriter {
  private buf = Buffer.allocUnsafe(4096);
  length = 0;

  /** Starts over (the buffer is kept). */
  reset(): void {
    this.length = 0;
  }

  /** A copy of bytes [from, length). */
  copy(from = 0): Buffer {
    const out = Buffer.allocUnsafe(this.length - from);
    this.buf.copy(out, 0, from, this.length);
    return out;
  }

  /** Bytes [from, length) decoded. */
  text(from = 0): string {
    return this.buf.toString('utf8', from, this.length);
  }

  private room(n: number): void {
    if (this.length + n <= this.buf.length) return;
    const grown = Buffer.allocUnsafe(Math.max(2 * this.buf.length, this.length + n));
    this.buf.copy(grown, 0, 0, this.length);
    this.buf = grown;
  }

  /** Appends ASCII text that needs no escaping (punctuation, member names known to be plain). */
  raw(s: string): void {
    this.room(s.length);
    const b = this.buf;
    let o = this.length;
    for (let i = 0; i < s.length; i++) b[o++] = s.charCodeAt(i);
    this.length = o;
  }

  /**
   * Appends JSON.stringify(s) as UTF-8. Characters that need no escape are encoded here; a quote,
   * a backslash, a control character or an unpaired surrogate (JSON.stringify escapes those) sends
   * the whole string through JSON.stringify.
   */
  string(s: string): void {
    this.room(3 * s.length + 2);
    const b = this.buf;
    const start = this.length;
    let o = start;
    b[o++] = 0x22;
    for (let i = 0; i < s.length; i++) {
      const c = s.charCodeAt(i);
      if (c < 0x80) {
        if (c < 0x20 || c === 0x22 || c === 0x5c) return this.escaped(s, start);
        b[o++] = c;
      } else if (c < 0x800) {
        b[o++] = 0xc0 | (c >> 6);
        b[o++] = 0x80 | (c & 0x3f);
      } else if (c < 0xd800 || c > 0xdfff) {
        b[o++] = 0xe0 | (c >> 12);
        b[o++] = 0x80 | ((c >> 6) & 0x3f);
        b[o++] = 0x80 | (c & 0x3f);
      } else {
        const d = i + 1 < s.length ? s.charCodeAt(i + 1) : 0;
        if (c > 0xdbff || d < 0xdc00 || d > 0xdfff) return this.escaped(s, start);
        const p = 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00);
        b[o++] = 0xf0 | (p >> 18);
        b[o++] = 0x80 | ((p >> 12) & 0x3f);
        b[o++] = 0x80 | ((p >> 6) & 0x3f);
        b[o++] = 0x80 | (p & 0x3f);
        i++;
      }
    }
    b[o++] = 0x22;
    this.length = o;
  }

  /** The string `s` (whose quoted form started at `start`) rewritten from JSON.stringify. */
  private escaped(s: string, start: number): void {
    this.length = start;
    const text = JSON.stringify(s);
    this.room(3 * text.length);
    this.length += this.buf.write(text, this.length, 'utf8');
  }

  /** Appends a finite number as JSON.stringify writes it. */
  number(v: number): void {
    if (Number.isSafeInteger(v) && v >= 0) this.digits(v);
    else this.raw(JSON.stringify(v));
  }

  /** Appends the decimal digits of a non-negative safe integer (String(v) without the string). */
  digits(v: number): void {
    let n = 1;
    for (let x = v; x >= 10; x = Math.floor(x / 10)) n++;
    this.room(n);
    const b = this.buf;
    let x = v;
    for (let i = this.length + n - 1; i >= this.length; i--) {
      const q = Math.floor(x / 10);
      b[i] = 48 + (x - q * 10);
      x = q;
    }
    this.length += n;
  }

  /**
   * Appends `value` as canonical JSON. Its path in a ValidationError is `where`, or `where.name`
   * when a name is given (joined only when there is an error to report).
   */
  value(value: unknown, where: string, name?: string): void {
    const start = this.length;
    try {
      this.fast(value, 0);
    } catch (err) {
      if (err !== REFUSED) throw err;
      this.length = start;
      // Something is not JSON: run the checked walk, which names the path in its error.
      const text = checked(value, name === undefined ? where : `${where}.${name}`, 0);
      this.room(3 * text.length);
      this.length += this.buf.write(text, this.length, 'utf8');
    }
  }

  private fast(v: unknown, depth: number): void {
    switch (typeof v) {
      case 'string':
        return this.string(v);
      case 'number':
        if (!Number.isFinite(v)) throw REFUSED;
        return this.number(v);
      case 'boolean':
        return this.raw(v ? 'true' : 'false');
      case 'object': {
        if (v === null) return this.raw('null');
        if (depth >= MAX_DEPTH) throw REFUSED;
        if (Array.isArray(v)) {
          this.raw('[');
          for (let i = 0; i < v.length; i++) {
            if (i > 0) this.raw(',');
            this.fast(v[i], depth + 1);
          }
          return this.raw(']');
        }
        const proto = Object.getPrototypeOf(v);
        if (proto !== Object.prototype && proto !== null) throw REFUSED;
        const o = v as Record<string, unknown>;
        const keys = Object.keys(o);
        if (keys.length > 1) sortNames(keys);
        this.raw('{');
        for (let i = 0; i < keys.length; i++) {
          const k = keys[i]!;
          if (i > 0) this.raw(',');
          this.string(k);
          this.raw(':');
          this.fast(o[k], depth + 1);
        }
        return this.raw('}');
      }
      default:
        throw REFUSED;
    }
  }
}

/** Where canonicalJson writes (synchronous use only: the text is taken before it returns). */
const shared = new JsonWriter();

/** The canonical JSON text of `value`; `path` names the value in error messages. */
export function canonicalJson(value: unknown, path = 'value'): string {
  shared.reset();
  shared.value(value, path);
  return shared.text();
}

/**
 * Sorts member names in place by UTF-16 code units (JCS order, what the default sort and `<` on
 * strings both compare). A details object has a handful of members: an insertion sort orders them
 * without the scratch array Array.prototype.sort allocates, once per object of every event.
 */
function sortNames(keys: string[]): void {
  if (keys.length > 16) {
    keys.sort();
    return;
  }
  for (let i = 1; i < keys.length; i++) {
    const k = keys[i]!;
    let j = i - 1;
    while (j >= 0 && keys[j]! > k) {
      keys[j + 1] = keys[j]!;
      j--;
    }
    keys[j + 1] = k;
  }
}

/** The canonical text of `v` by a walk that tracks its path, to name what is not JSON. */
function checked(v: unknown, path: string, depth: number): string {
  switch (typeof v) {
    case 'string':
      return JSON.stringify(v);
    case 'number':
      if (!Number.isFinite(v)) throw new ValidationError(`${path} is ${v}, which JSON cannot represent; use a finite number`);
      return JSON.stringify(v);
    case 'boolean':
      return v ? 'true' : 'false';
    case 'object': {
      if (v === null) return 'null';
      if (depth >= MAX_DEPTH) throw new ValidationError(`${path} nests deeper than ${MAX_DEPTH} levels; flatten it`);
      if (Array.isArray(v)) {
        let s = '[';
        for (let i = 0; i < v.length; i++) {
          if (i > 0) s += ',';
          s += checked(v[i], `${path}[${i}]`, depth + 1);
        }
        return s + ']';
      }
      const proto = Object.getPrototypeOf(v);
      if (proto !== Object.prototype && proto !== null) {
        throw new ValidationError(`${path} is a ${(v as object).constructor?.name ?? 'non-plain object'}; only plain JSON objects, arrays, strings, numbers, booleans and null are allowed`);
      }
      return checkedObject(v as Record<string, unknown>, path, depth);
    }
    default:
      throw new ValidationError(`${path} is ${v === undefined ? 'undefined' : `a ${typeof v}`}; JSON has no such value, so it would not read back as written (omit the field or use null)`);
  }
}

function checkedObject(o: Record<string, unknown>, path: string, depth: number): string {
  // Default sort compares UTF-16 code units, which is exactly JCS's member order.
  const keys = Object.keys(o).sort();
  let s = '{';
  for (let i = 0; i < keys.length; i++) {
    const k = keys[i]!;
    if (i > 0) s += ',';
    s += JSON.stringify(k) + ':' + checked(o[k], `${path}.${k}`, depth + 1);
  }
  return s + '}';
}
